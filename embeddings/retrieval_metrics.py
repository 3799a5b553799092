"""Retrieval metrics shared by every offline evaluation (the survey benchmark in surveys/retrieval.py
and the fine-tuning evaluation in embeddings/training/): pure functions of rankings, no database.

Recall@k = |relevant ∩ top k| / |relevant| (BEIR's definition, which Marqo's evaluation uses),
reciprocal rank = 1 / rank of the first relevant item within the top RR_DEPTH (0 when none is
there): RR@10, the "MRR" Marqo's fashion benchmark reports. MRR is its mean.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

KS = (1, 5, 10)
RR_DEPTH = 10
METRICS = tuple(f"recall@{k}" for k in KS) + ("rr",)


def retrieval_metrics(ranked: Sequence[Hashable], relevant: frozenset, ks=KS) -> dict[str, float]:
    """Recall@k for each k and the reciprocal rank (RR@RR_DEPTH) of one query's ranked ids."""
    metrics = {f"recall@{k}": len(relevant.intersection(ranked[:k])) / len(relevant) for k in ks}
    first = next((rank for rank, item in enumerate(ranked[:RR_DEPTH], start=1) if item in relevant), None)
    metrics["rr"] = 1.0 / first if first else 0.0
    return metrics


def bootstrap_interval(values, *, n_resamples: int = 1000, seed: int = 0, level: float = 0.95):
    """(mean, low, high): the mean of per-query values with a percentile bootstrap interval over queries."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return (float(values.mean()), float(low), float(high))


def summarise(per_query: list[dict[str, float]], *, seed: int = 0) -> dict[str, dict[str, float]]:
    """Per-query metric dicts → {metric: {"mean", "low", "high"}} ("rr" is reported as "mrr")."""
    summary = {}
    for name in METRICS:
        mean, low, high = bootstrap_interval([row[name] for row in per_query], seed=seed)
        summary["mrr" if name == "rr" else name] = {"mean": mean, "low": low, "high": high}
    return summary
