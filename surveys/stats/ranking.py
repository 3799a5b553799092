"""precision@k and nDCG@k per configuration with two-way cluster bootstrap intervals.

The per-rating values are ranx's, against the rating's query's pooled judgements (every arm and
rater; surveys/offline/pooled.py fills the frame's `pooled` column), so nDCG's ideal ranking is
never one list's own marks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from surveys.stats.common import DEFAULT_KS, DEFAULT_RESAMPLES, DEFAULT_SEED, config_keys, num
from surveys.stats.intervals import two_way_interval


def relevance_metrics(
    ratings: pd.DataFrame,
    configs=None,
    *,
    ks=DEFAULT_KS,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict:
    """precision@k and nDCG@k per configuration: the mean over the ratings with relevance marks,
    with a two-way (participant × query) cluster bootstrap 95% interval, from the per-rating ranx
    values of the `pooled` column. nDCG@k counts 0 for a rating whose query has nothing judged relevant."""
    keys = config_keys(ratings, configs)
    if "relevance" not in ratings.columns or "pooled" not in ratings.columns:
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
        pooled = rows["pooled"].tolist()
        entry = {"n_ratings": len(pooled)}
        for k in ks:
            for name in (f"precision@{k}", f"ndcg@{k}"):
                values = np.asarray([value[name] for value in pooled], dtype=float)
                interval = two_way_interval(
                    values, rows["participant"], rows["query"], seed=seed, n_resamples=n_resamples
                )
                entry[name] = {
                    "mean": num(values.mean()) if values.size else None,
                    "ci": interval.as_dict(),
                }
        per_config[key] = entry
    return {"available": True, "ks": list(ks), "configs": per_config, "explanation": ""}
