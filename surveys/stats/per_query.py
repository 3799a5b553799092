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
    cells = rated.groupby(["query", "config"])["satisfaction"].agg(["mean", "var", "size"]).unstack("config")
    rows = []
    if not cells.empty and a in cells["mean"].columns and b in cells["mean"].columns:
        both = cells[cells["mean"][a].notna() & cells["mean"][b].notna()]
        n_a, n_b = both[("size", a)].to_numpy(dtype=float), both[("size", b)].to_numpy(dtype=float)
        var_a, var_b = both[("var", a)].to_numpy() / n_a, both[("var", b)].to_numpy() / n_b
        difference = rounded(both[("mean", a)].to_numpy() - both[("mean", b)].to_numpy())
        variance = var_a + var_b
        usable = np.isfinite(variance) & (variance > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            df = variance**2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
            half = np.where(
                usable, stats.t.ppf(0.5 + CONFIDENCE / 2, np.where(usable, df, 1.0)), np.nan
            ) * np.sqrt(variance)
        for index, query in enumerate(both.index):
            rows.append(
                {
                    "query": query,
                    "difference": float(difference[index]),
                    "low": num(difference[index] - half[index]) if usable[index] else None,
                    "high": num(difference[index] + half[index]) if usable[index] else None,
                    "n_a": int(n_a[index]),
                    "n_b": int(n_b[index]),
                    "variance": num(variance[index]),
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
