"""Ranking metrics from per-product relevance marks (hand-written, tested against published
examples) and their per-configuration means with two-way cluster bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from surveys.stats.common import DEFAULT_KS, DEFAULT_RESAMPLES, DEFAULT_SEED, config_keys, num
from surveys.stats.intervals import two_way_interval


def precision_at_k(marks, k: int) -> float:
    """Share of the first k shown products marked relevant; unmarked products count as not relevant,
    and a list shorter than k counts the missing places as not relevant (k stays the denominator)."""
    top = [bool(mark) for mark in list(marks)[:k]]
    return sum(top) / k


def dcg_at_k(gains, k: int) -> float:
    """DCG@k = Σ_{i=1..k} gain_i / log2(i + 1) (Järvelin & Kekäläinen 2002, the form Wikipedia uses)."""
    g = np.asarray([float(x or 0) for x in list(gains)[:k]])
    if g.size == 0:
        return 0.0
    return float(np.sum(g / np.log2(np.arange(2, g.size + 2))))


def ndcg_at_k(gains, k: int, ideal_gains=None) -> float | None:
    """nDCG@k = DCG@k / IDCG@k. The ideal ordering is `ideal_gains` sorted descending (default: the
    shown products' own gains, i.e. the best order of what was judged). None when nothing is relevant."""
    ideal = sorted((float(x or 0) for x in (gains if ideal_gains is None else ideal_gains)), reverse=True)
    best = dcg_at_k(ideal, k)
    if best == 0:
        return None
    return dcg_at_k(gains, k) / best


def relevance_metrics(
    ratings: pd.DataFrame,
    configs=None,
    *,
    ks=DEFAULT_KS,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict:
    """precision@k and nDCG@k per configuration: the mean over the ratings with relevance marks,
    with a two-way (participant × query) cluster bootstrap 95% interval. nDCG@k counts 0 for a
    rating where nothing shown was marked relevant."""
    keys = config_keys(ratings, configs)
    if "relevance" not in ratings.columns:
        return {"available": False, "ks": list(ks), "configs": {}, "explanation": "No relevance marks."}
    marked = ratings[
        ratings["relevance"].map(lambda marks: bool(marks) and any(m is not None for m in marks))
    ]
    if marked.empty:
        return {
            "available": False,
            "ks": list(ks),
            "configs": {},
            "explanation": "No rating has per-product relevance marks (the survey did not ask for them, "
            "or nobody answered), so precision@k and nDCG@k cannot be computed.",
        }
    per_config = {}
    for key in keys:
        rows = marked[marked["config"] == key]
        lists = rows["relevance"].tolist()
        entry = {"n_ratings": len(lists)}
        for k in ks:
            for name, values in (
                (f"precision@{k}", [precision_at_k(marks, k) for marks in lists]),
                (f"ndcg@{k}", [ndcg_at_k(marks, k) or 0.0 for marks in lists]),
            ):
                values = np.asarray(values, dtype=float)
                interval = two_way_interval(
                    values, rows["participant"], rows["query"], seed=seed, n_resamples=n_resamples
                )
                entry[name] = {
                    "mean": num(values.mean()) if values.size else None,
                    "ci": interval.as_dict(),
                }
        per_config[key] = entry
    return {"available": True, "ks": list(ks), "configs": per_config, "explanation": ""}
