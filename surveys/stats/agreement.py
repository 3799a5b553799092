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
    """Units × values count matrix (krippendorff's `value_counts` input) from parallel unit/value
    lists; units without any value in the domain are left out."""
    values = pd.Series(list(values), dtype=object)
    index = values.map({value: position for position, value in enumerate(domain)})
    keep = index.notna().to_numpy()
    if not keep.any():
        return np.zeros((0, len(domain)))
    codes, _ = pd.factorize(pd.Series(list(units), dtype=object)[keep], sort=True)
    counts = np.zeros((codes.max() + 1, len(domain)))
    np.add.at(counts, (codes, index[keep].to_numpy(dtype=int)), 1.0)
    return counts


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


def rater_diagnostics(ratings: pd.DataFrame) -> list[dict]:
    """Per participant: ratings given, mean and spread of satisfaction, longest run of the same value
    in task order (straight-lining), median time on task, and how far their mean sits from the mean
    of the others on the same cells (a lenient or strict rater). Flags are hints, not exclusions."""
    rated = ratings.dropna(subset=["satisfaction"])
    if "position" in rated.columns:
        rated = rated.sort_values(["participant", "position"], kind="stable")
    else:
        rated = rated.sort_values("participant", kind="stable")
    if rated.empty:
        return []
    value, who = rated["satisfaction"].to_numpy(dtype=float), rated["participant"].to_numpy()
    new_run = np.r_[True, (value[1:] != value[:-1]) | (who[1:] != who[:-1])]
    runs = pd.DataFrame({"participant": who, "run": np.cumsum(new_run)})
    longest = runs.groupby(["participant", "run"]).size().groupby(level=0).max()
    summary = rated.groupby("participant")["satisfaction"].agg(["size", "mean", "std"])
    own = rated.groupby(["participant", "query", "config"])["satisfaction"].agg(["sum", "size"])
    cells = rated.groupby(["query", "config"])["satisfaction"].agg(["sum", "size"])
    cell = cells.reindex(own.index.droplevel(0))
    others_n = cell["size"].to_numpy() - own["size"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = (
            own["sum"].to_numpy() / own["size"].to_numpy()
            - (cell["sum"].to_numpy() - own["sum"].to_numpy()) / others_n
        )
    gaps = pd.Series(np.where(others_n > 0, gap, np.nan), index=own.index).groupby(level=0).mean()
    times = (
        ratings.groupby("participant")["time_on_task_s"].median()
        if "time_on_task_s" in ratings.columns
        else pd.Series(dtype=float)
    )
    rows = []
    for participant, entry in summary.iterrows():
        median_time = num(times.get(participant)) if len(times) else None
        run = int(longest[participant])
        flags = []
        if entry["size"] >= STRAIGHT_LINE_MIN_TASKS and run == entry["size"]:
            flags.append("same value on every task")
        if median_time is not None and median_time < FAST_TASK_S:
            flags.append(f"median time on task under {FAST_TASK_S:.0f} s")
        rows.append(
            {
                "participant": str(participant),
                "n_ratings": int(entry["size"]),
                "mean": num(entry["mean"]),
                "sd": num(entry["std"]),
                "longest_run": run,
                "median_time_s": median_time,
                "offset_from_others": num(gaps.get(participant)),
                "flags": flags,
            }
        )
    return rows
