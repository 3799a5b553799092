"""The counterbalanced, blinded assignment of (query, configuration) cells to participants.

Pure functions (no database): surveys/services.py feeds them counts and stores what they return.

- Latin square: with k configurations, row r shows the i-th query under configuration (i + r) mod k.
  Every row shows every query exactly once, each under one configuration, and over k participants
  (one per row) every cell is covered exactly once.
- Steering: a new participant gets the row whose cells are furthest below target (largest total
  deficit), then the least-loaded row, then the next row in rotation; so rows fill evenly and
  each cell stays within one rating of the others while participants finish their tasks.
- Blinding: the order of tasks on screen is shuffled per participant with a generator seeded by the
  survey's seed and the participant's id, so plans are reproducible and configurations cannot be
  told apart by position.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence


def latin_square_row(
    query_ids: Sequence[int], config_codes: Sequence[str], row: int
) -> list[tuple[int, str]]:
    """The (query, configuration) cells of Latin-square row `row`, in query order."""
    k = len(config_codes)
    return [(query_id, config_codes[(index + row) % k]) for index, query_id in enumerate(query_ids)]


def choose_row(
    query_ids: Sequence[int],
    config_codes: Sequence[str],
    cell_counts: Mapping[tuple[int, str], int],
    *,
    target: int,
    rotation: int,
) -> int:
    """The Latin-square row for the next participant (see the module docstring)."""
    k = len(config_codes)

    def key(row: int):
        cells = latin_square_row(query_ids, config_codes, row)
        counts = [cell_counts.get(cell, 0) for cell in cells]
        deficit = sum(max(0, target - count) for count in counts)
        return (-deficit, sum(counts), (row - rotation) % k)

    return min(range(k), key=key)


def shuffled_tasks(
    cells: Sequence[tuple[int, str]], *, seed: int, participant_key: int
) -> list[tuple[int, str]]:
    """The participant's task order: a reproducible shuffle of their cells."""
    tasks = list(cells)
    random.Random(f"{seed}:{participant_key}").shuffle(tasks)
    return tasks


def own_query_config(config_codes: Sequence[str], *, seed: int, participant_key: int, index: int) -> str:
    """The configuration that answers a participant's own `index`-th query: seeded, random."""
    return random.Random(f"{seed}:{participant_key}:own:{index}").choice(list(config_codes))
