"""Per-query view: the heat map's cell means, per-query differences of a pair with intervals (the
queries' forest plot), and a heterogeneity test: does one configuration help some queries more
than others?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from surveys.stats.common import CONFIDENCE, config_keys, num, rounded


def query_breakdown(ratings: pd.DataFrame, configs=None) -> dict:
    """Mean satisfaction and count per (query, configuration): the heat map's data. Rows are queries
    sorted by id; cells without ratings are None; `best` is the single best configuration or None."""
    keys = config_keys(ratings, configs)
    rated = ratings.dropna(subset=["satisfaction"])
    if rated.empty:
        return {"queries": [], "configs": keys, "means": [], "counts": [], "best": []}
    grouped = rated.groupby(["query", "config"])["satisfaction"]
    means = grouped.mean().unstack("config").reindex(columns=keys).sort_index()
    counts = grouped.size().unstack("config").reindex(columns=keys).fillna(0).astype(int).reindex(means.index)
    best = []
    for _, row in means.iterrows():
        present = row.dropna().round(9)
        winners = [key for key, value in present.items() if value == present.max()] if len(present) else []
        best.append(winners[0] if len(winners) == 1 else None)
    return {
        "queries": means.index.tolist(),
        "configs": keys,
        "means": [[num(value) for value in row] for row in means.to_numpy(dtype=float)],
        "counts": counts.to_numpy().tolist(),
        "best": best,
    }


def query_differences(ratings: pd.DataFrame, a, b) -> dict:
    """Per query rated under both a and b: difference of cell means (a − b) with a Welch t interval
    from the cell's ratings, and Cochran's Q test of heterogeneity over queries with I² (Higgins &
    Thompson 2002): a small p says the difference is not the same for every query. Cells with
    fewer than two ratings or no spread give no interval and are left out of Q."""
    rated = ratings.dropna(subset=["satisfaction"])
    rated = rated[rated["config"].isin([a, b])]
    rows = []
    for query, cell in rated.groupby("query", sort=True):
        values_a = cell.loc[cell["config"] == a, "satisfaction"].to_numpy(dtype=float)
        values_b = cell.loc[cell["config"] == b, "satisfaction"].to_numpy(dtype=float)
        if values_a.size == 0 or values_b.size == 0:
            continue
        difference = float(rounded(values_a.mean() - values_b.mean()))
        variance = (values_a.var(ddof=1) / values_a.size if values_a.size > 1 else np.nan) + (
            values_b.var(ddof=1) / values_b.size if values_b.size > 1 else np.nan
        )
        low = high = None
        if np.isfinite(variance) and variance > 0:
            df = variance**2 / (
                (values_a.var(ddof=1) / values_a.size) ** 2 / (values_a.size - 1)
                + (values_b.var(ddof=1) / values_b.size) ** 2 / (values_b.size - 1)
            )
            half = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * np.sqrt(variance)
            low, high = difference - half, difference + half
        rows.append(
            {
                "query": query,
                "difference": difference,
                "low": num(low),
                "high": num(high),
                "n_a": int(values_a.size),
                "n_b": int(values_b.size),
                "variance": num(variance),
            }
        )
    return {"a": a, "b": b, "queries": rows, "heterogeneity": heterogeneity(rows)}


def heterogeneity(rows: list[dict]) -> dict:
    """Cochran's Q = Σ w_q (d_q − d̄)², w_q = 1 / var_q, against χ² with (queries − 1) degrees of
    freedom, and I² = max(0, (Q − df) / Q)."""
    usable = [row for row in rows if row["variance"]]
    if len(usable) < 2:
        return {"q": None, "df": None, "p_value": None, "i2": None,
                "explanation": "Fewer than two queries with two or more ratings per side: no test."}  # fmt: skip
    d = np.array([row["difference"] for row in usable])
    w = 1 / np.array([row["variance"] for row in usable])
    pooled = float((w * d).sum() / w.sum())
    q = float((w * (d - pooled) ** 2).sum())
    df = len(usable) - 1
    return {
        "q": q,
        "df": df,
        "p_value": float(stats.chi2.sf(q, df)),
        "i2": max(0.0, (q - df) / q) if q > 0 else 0.0,
        "explanation": "",
    }
