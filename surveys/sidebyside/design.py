"""Side-by-side preference tasks: which two arms a participant compares for a query, and which one
is on the left.

Pairs: every unordered pair of the survey's arms. Participant p's task for query q shows pair
(q + p) mod P (P = number of pairs), so across participants each query cycles through the pairs
and every pair is shown within one rating of the others per query. Sides: each pair starts on a
seeded random side and flips every time it is shown, so each pair's left/right counts differ by at
most 1 and each arm's by at most (number of arms − 1). Labels shown to participants are neutral
("Set A" on the left, "Set B" on the right); the arms never appear.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairTask:
    participant: int  # index
    query: int  # index
    left: str  # arm code
    right: str


def arm_pairs(arms: list[str]) -> list[tuple[str, str]]:
    if len(arms) < 2:
        raise ValueError("A side-by-side survey needs at least two arms to compare.")
    return list(itertools.combinations(sorted(arms), 2))


def pair_tasks(arms: list[str], *, n_queries: int, n_participants: int, seed: int = 0) -> list[PairTask]:
    """The design for n_participants × n_queries tasks (participants in arrival order)."""
    pairs = arm_pairs(arms)
    flip = np.random.default_rng(seed).integers(0, 2, size=len(pairs)).astype(bool)
    shown = Counter()
    tasks = []
    for p in range(n_participants):
        for q in range(n_queries):
            index = (q + p) % len(pairs)
            a, b = pairs[index]
            swap = flip[index] ^ bool(shown[index] % 2)
            shown[index] += 1
            tasks.append(PairTask(p, q, *((b, a) if swap else (a, b))))
    return tasks
