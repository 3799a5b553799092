"""Agreement between raters (Krippendorff's alpha, the `krippendorff` package) with bootstrap
intervals overall, per configuration and per query, and per-rater diagnostics."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd

from surveys.stats.common import (
    CONFIDENCE,
    DEFAULT_SEED,
    FEW_UNITS,
    MATCH_RANK,
    SATISFACTION_VALUES,
    Interval,
    num,
)
from surveys.stats.intervals import percentile

# Alpha is a ratio of disagreements over all pairable values: resampling cells costs one alpha per
# replicate, so fewer replicates than the bootstrap of means.
ALPHA_RESAMPLES = 300
# Straight-lining: a participant who gives one value to this many tasks or more in a row.
STRAIGHT_LINE_MIN_TASKS = 5
FAST_TASK_S = 3.0


def value_counts_matrix(units, values, domain) -> np.ndarray:
    """Units × values count matrix (krippendorff's `value_counts` input) from parallel unit/value lists."""
    frame = pd.DataFrame({"unit": list(units), "value": list(values)}).dropna()
    if frame.empty:
        return np.zeros((0, len(domain)))
    table = pd.crosstab(frame["unit"], frame["value"]).reindex(columns=list(domain), fill_value=0)
    return table.to_numpy(dtype=float)


def _alpha(counts: np.ndarray, domain, level: str) -> float | None:
    if counts.shape[0] == 0 or np.count_nonzero(counts.sum(axis=0)) < 2:
        return None
    return num(krippendorff.alpha(value_counts=counts, value_domain=list(domain), level_of_measurement=level))


def alpha_interval(counts: np.ndarray, domain, level: str, *, seed: int, n_resamples: int) -> Interval:
    """Percentile bootstrap interval of alpha over units (cells): cells are drawn with replacement,
    as Hayes & Krippendorff (2007) resample units; replicates without variation are left out."""
    if counts.shape[0] < 2:
        return Interval(None, None, "fewer than two cells: no interval")
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(n_resamples):
        value = _alpha(counts[rng.integers(0, counts.shape[0], counts.shape[0])], domain, level)
        if value is not None:
            replicates.append(value)
    if len(replicates) < n_resamples / 2:
        return Interval(None, None, "most resamples had no variation: no interval")
    return Interval(*percentile(replicates, CONFIDENCE))


def krippendorff_alpha(
    units, values, *, domain, level: str = "ordinal", seed: int = DEFAULT_SEED, n_resamples: int = 0
) -> dict:
    """Krippendorff's alpha over the units rated by two or more coders (from value counts: coders'
    identities do not enter alpha), with a bootstrap interval when n_resamples > 0. Returns alpha
    (None when it cannot be computed), the number of pairable units and values, and an explanation."""
    counts = value_counts_matrix(units, values, domain)
    pairable = counts[counts.sum(axis=1) >= 2] if counts.size else counts
    result = {
        "level": level,
        "alpha": None,
        "ci": Interval(None, None).as_dict(),
        "n_units": int(pairable.shape[0]),
        "n_values": int(pairable.sum()) if pairable.size else 0,
        "explanation": "",
    }
    if pairable.shape[0] == 0:
        result["explanation"] = (
            "No query–configuration cell was rated by two or more people, so agreement between raters "
            "cannot be measured (with one rater, or one rating per cell, there is nothing to compare)."
        )
        return result
    if np.count_nonzero(pairable.sum(axis=0)) < 2:
        result["explanation"] = (
            "Every rating in the cells rated by two or more people has the same value: raters agree "
            "completely, but alpha is undefined without any variation."
        )
        return result
    result["alpha"] = _alpha(pairable, domain, level)
    if n_resamples:
        result["ci"] = alpha_interval(pairable, domain, level, seed=seed, n_resamples=n_resamples).as_dict()
    if result["n_units"] < FEW_UNITS:
        result["explanation"] = (
            f"Only {result['n_units']} cells were rated by two or more people: a rough figure."
        )
    return result


def rater_agreement(
    ratings: pd.DataFrame, *, seed: int = DEFAULT_SEED, n_resamples: int = ALPHA_RESAMPLES
) -> dict:
    """Ordinal alpha of satisfaction (1–5) and of the match answer (no < partly < yes), over the
    (query, configuration) cells rated by two or more participants, with bootstrap intervals; the
    satisfaction alpha also per configuration (cells of that configuration, with an interval) and
    per query (the query's cells, one per configuration: no interval)."""
    cells = ratings["query"].astype(str) + "\x1f" + ratings["config"].astype(str)
    match = ratings["match"].fillna("").map(MATCH_RANK)
    satisfaction = ratings["satisfaction"].astype(float)

    def alpha_of(mask, resamples: int) -> dict:
        return krippendorff_alpha(
            cells[mask], satisfaction[mask], domain=SATISFACTION_VALUES, seed=seed, n_resamples=resamples
        )

    configs = sorted(ratings["config"].dropna().unique().tolist(), key=str)
    queries = sorted(ratings["query"].dropna().unique().tolist(), key=str)
    return {
        "n_raters": int(ratings["participant"].nunique()),
        "satisfaction": alpha_of(np.ones(len(ratings), dtype=bool), n_resamples),
        "match": krippendorff_alpha(
            cells, match, domain=(1, 2, 3), level="ordinal", seed=seed, n_resamples=n_resamples
        ),
        "per_config": {
            str(key): alpha_of((ratings["config"] == key).to_numpy(), n_resamples) for key in configs
        },
        # A query has one cell per configuration: too few units to resample, so no interval.
        "per_query": {str(key): alpha_of((ratings["query"] == key).to_numpy(), 0) for key in queries},
    }


def _longest_run(values) -> int:
    longest = current = 0
    previous = object()
    for value in values:
        current = current + 1 if value == previous else 1
        previous = value
        longest = max(longest, current)
    return longest


def rater_diagnostics(ratings: pd.DataFrame) -> list[dict]:
    """Per participant: ratings given, mean and spread of satisfaction, longest run of the same value
    in task order (straight-lining), median time on task, and how far their mean sits from the mean
    of the others on the same cells (a lenient or strict rater). Flags are hints, not exclusions."""
    rows = []
    order = "position" if "position" in ratings.columns else None
    rated = ratings.dropna(subset=["satisfaction"])
    cell_sum = rated.groupby(["query", "config"])["satisfaction"].sum()
    cell_n = rated.groupby(["query", "config"])["satisfaction"].size()
    for participant, own in ratings.groupby("participant", sort=True):
        if order:
            own = own.sort_values(order)
        values = own["satisfaction"].dropna().to_numpy(dtype=float)
        times = own["time_on_task_s"].dropna() if "time_on_task_s" in own.columns else pd.Series(dtype=float)
        cells = (
            own.dropna(subset=["satisfaction"])
            .groupby(["query", "config"])["satisfaction"]
            .agg(["sum", "size"])
        )
        others_n = cell_n.reindex(cells.index) - cells["size"]
        shared = others_n > 0
        others_mean = (cell_sum.reindex(cells.index) - cells["sum"])[shared] / others_n[shared]
        own_mean = (cells["sum"] / cells["size"])[shared]
        offset = float((own_mean - others_mean).mean()) if shared.any() else None
        longest = _longest_run(values.tolist())
        median_time = num(times.median()) if len(times) else None
        flags = []
        if values.size >= STRAIGHT_LINE_MIN_TASKS and longest == values.size:
            flags.append("same value on every task")
        if median_time is not None and median_time < FAST_TASK_S:
            flags.append(f"median time on task under {FAST_TASK_S:.0f} s")
        rows.append(
            {
                "participant": str(participant),
                "n_ratings": int(values.size),
                "mean": num(values.mean()) if values.size else None,
                "sd": num(values.std(ddof=1)) if values.size > 1 else None,
                "longest_run": int(longest),
                "median_time_s": median_time,
                "offset_from_others": num(offset),
                "flags": flags,
            }
        )
    return rows
