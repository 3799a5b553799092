"""Sample-size planner: simulate the survey's own design and analysis and count how often a true
difference is found.

Design simulated: the surveys app's Latin square — every participant rates every query once, the
arm rotating with (query + participant) mod arms. Ratings: 3 + participant + query +
arm-by-query + effect (one arm, the others equal) + noise, rounded and clipped into 1–5. Analysis:
the report's own — Wilcoxon signed-rank over per-query means for every pair of arms, Holm across
the pairs; power = share of replications where the pair with the effect is significant.

Default spreads are the audit's simulation (participant sd 0.5, query sd 0.7, arm-by-query sd 0.3,
residual sd 0.8), in line with published rating studies of search results; a pilot survey's
mixed-model variance components replace them when given.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from surveys.stats.common import ALPHA
from surveys.stats.pairwise import holm_adjust, signed_rank_test

DEFAULT_SPREADS = {"participant": 0.5, "query": 0.7, "config_by_query": 0.3, "residual": 0.8}
DEFAULT_QUERIES = (10, 20, 30, 40)
DEFAULT_PARTICIPANTS = (15, 30, 60)
DEFAULT_REPLICATIONS = 200


def spreads_from_pilot(variance_components: dict) -> dict:
    """Standard deviations from a pilot's mixed-model variance components (surveys.stats.models)."""
    return {name: float(np.sqrt(max(variance_components.get(name) or 0.0, 0.0))) for name in DEFAULT_SPREADS}


def simulate_power(
    *,
    effect: float,
    n_arms: int,
    n_queries: int,
    n_participants: int,
    spreads: dict | None = None,
    alpha: float = ALPHA,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
) -> float:
    """Share of simulated surveys in which the arm with `effect` (points on the 1–5 scale) differs
    significantly (Holm across all arm pairs) from the first arm."""
    spreads = DEFAULT_SPREADS | (spreads or {})
    rng = np.random.default_rng(seed)
    p, q = np.meshgrid(np.arange(n_participants), np.arange(n_queries), indexing="ij")
    arm = (p + q) % n_arms
    hits = 0
    for _ in range(replications):
        value = (
            3.0
            + rng.normal(0, spreads["participant"], n_participants)[p]
            + rng.normal(0, spreads["query"], n_queries)[q]
            + rng.normal(0, spreads["config_by_query"], (n_arms, n_queries))[arm, q]
            + effect * (arm == 1)
            + rng.normal(0, spreads["residual"], p.shape)
        )
        ratings = np.clip(np.rint(value), 1, 5)
        sums = np.zeros((n_arms, n_queries))
        counts = np.zeros((n_arms, n_queries))
        np.add.at(sums, (arm, q), ratings)
        np.add.at(counts, (arm, q), 1)
        with np.errstate(invalid="ignore"):
            means = sums / counts
        p_values, target = [], None
        for index, (first, second) in enumerate(combinations(range(n_arms), 2)):
            both = ~np.isnan(means[first]) & ~np.isnan(means[second])
            p_values.append(
                signed_rank_test(means[first, both] - means[second, both])[1] if both.sum() else 1.0
            )
            if (first, second) == (0, 1):
                target = index
        hits += holm_adjust(p_values)[target] < alpha
    return hits / replications


def plan(
    *,
    effect: float,
    n_arms: int,
    alpha: float = ALPHA,
    queries=DEFAULT_QUERIES,
    participants=DEFAULT_PARTICIPANTS,
    spreads: dict | None = None,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
) -> dict:
    """Power for every (queries, participants) of the grid, with the Monte Carlo standard error
    and the smallest design reaching 80 % power (fewest ratings), as JSON-ready data."""
    if n_arms < 2:
        raise ValueError("A comparison needs at least two arms.")
    spreads = DEFAULT_SPREADS | (spreads or {})
    rows = []
    for n_queries in queries:
        for n_participants in participants:
            power = simulate_power(
                effect=effect, n_arms=n_arms, n_queries=n_queries, n_participants=n_participants,
                spreads=spreads, alpha=alpha, replications=replications, seed=seed,
            )  # fmt: skip
            rows.append(
                {
                    "queries": int(n_queries),
                    "participants": int(n_participants),
                    "ratings": int(n_queries * n_participants),
                    "power": power,
                    "mc_se": float(np.sqrt(power * (1 - power) / replications)),
                }
            )
    enough = [row for row in rows if row["power"] >= 0.8]
    return {
        "effect": effect,
        "n_arms": n_arms,
        "alpha": alpha,
        "spreads": spreads,
        "replications": replications,
        "seed": seed,
        "rows": rows,
        "recommended": min(enough, key=lambda row: (row["ratings"], row["queries"])) if enough else None,
        "analysis": "Wilcoxon signed-rank over per-query means, Holm across all arm pairs",
    }
