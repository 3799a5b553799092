"""`analyse`: every statistic of the report from one ratings DataFrame (schema in the package
docstring), plus the per-configuration summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from surveys.stats.agreement import rater_agreement, rater_diagnostics
from surveys.stats.common import (
    ALPHA,
    CONFIDENCE,
    DEFAULT_KS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    FEW_UNITS,
    MATCH_VALUES,
    MIN_UNITS_FOR_TEST,
    ROUND_DECIMALS,
    SATISFACTION_VALUES,
    config_keys,
    num,
)
from surveys.stats.intervals import TWO_WAY, two_way_interval
from surveys.stats.pairwise import pairwise_comparisons
from surveys.stats.per_query import query_breakdown, query_differences
from surveys.stats.ranking import relevance_metrics
from surveys.stats.sentences import summary_sentences


def summarize_configuration(
    ratings: pd.DataFrame, *, seed: int = DEFAULT_SEED, n_resamples: int = DEFAULT_RESAMPLES
) -> dict:
    """Ratings and raters, mean and median satisfaction, the 1–5 distribution and the yes/partly/no
    shares of one configuration's ratings; the mean, the median and each share with a 95% two-way
    (participant × query) cluster bootstrap interval."""
    rated = ratings.dropna(subset=["satisfaction"])
    satisfaction = rated["satisfaction"].to_numpy(dtype=float)
    counts = {value: int((satisfaction == value).sum()) for value in SATISFACTION_VALUES}
    answered = ratings[ratings["match"].fillna("") != ""]
    match = answered["match"].to_numpy(dtype=object)
    match_counts = {value: int((match == value).sum()) for value in MATCH_VALUES}
    n_match = int(match.size)

    def interval(values, frame, median=False):
        return two_way_interval(
            values,
            frame["participant"],
            frame["query"],
            "median" if median else "mean",
            seed=seed,
            n_resamples=n_resamples,
        ).as_dict()

    return {
        "n_ratings": int(len(ratings)),
        "n_satisfaction": int(satisfaction.size),
        "n_raters": int(ratings["participant"].nunique()),
        "n_queries": int(ratings["query"].nunique()),
        "mean": num(satisfaction.mean()) if satisfaction.size else None,
        "mean_ci": interval(satisfaction, rated),
        "median": num(np.median(satisfaction)) if satisfaction.size else None,
        "median_ci": interval(satisfaction, rated, median=True),
        "distribution": {str(value): counts[value] for value in SATISFACTION_VALUES},
        "distribution_share": {
            str(value): (counts[value] / satisfaction.size if satisfaction.size else None)
            for value in SATISFACTION_VALUES
        },
        "n_match": n_match,
        "match_counts": match_counts,
        "match_shares": {
            value: (match_counts[value] / n_match if n_match else None) for value in MATCH_VALUES
        },
        "match_share_ci": {
            value: (interval((match == value).astype(float), answered) if n_match else None)
            for value in MATCH_VALUES
        },
    }


def analyse(
    ratings: pd.DataFrame,
    *,
    configs=None,
    labels: dict | None = None,
    pairing: str = "auto",
    ks=DEFAULT_KS,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    model: bool = False,
) -> dict:
    """All the report's statistics for one DataFrame of ratings (schema in the package docstring).

    `configs`: the configuration keys in display order (default: sorted keys present); `labels`:
    key → display name for the sentences; `model`: also fit the mixed and ordinal models (a few
    seconds on large surveys). Never raises on thin data: what cannot be computed is None, and
    `explanations` / `warnings` say why in plain language."""
    for column in ("config", "participant", "query", "satisfaction", "match"):
        if column not in ratings.columns:
            raise ValueError(f"ratings need a {column!r} column")
    keys = config_keys(ratings, configs)
    labels = {key: str(key) for key in keys} | (labels or {})
    explanations: list[str] = []
    warnings: list[str] = []

    per_config = {
        key: summarize_configuration(ratings[ratings["config"] == key], seed=seed, n_resamples=n_resamples)
        for key in keys
    }
    n_satisfaction = int(ratings["satisfaction"].notna().sum())
    if ratings.empty:
        explanations.append("No ratings yet (or none match the filters): there is nothing to report.")
    elif n_satisfaction == 0:
        explanations.append(
            "No satisfaction (1–5) answers: means, intervals and tests need them; only the match shares are shown."
        )
    rated_keys = [key for key in keys if per_config[key]["n_satisfaction"] > 0]
    if len(keys) < 2:
        explanations.append("Only one configuration in this survey: there is nothing to compare it with.")
    elif ratings.size and len(rated_keys) < 2:
        explanations.append("Only one configuration has ratings so far: no comparison is possible yet.")
    for key in keys:
        n = per_config[key]["n_satisfaction"]
        if 0 < n < FEW_UNITS:
            warnings.append(f"{labels[key]} has only {n} ratings: its interval is wide.")
    if n_satisfaction and ratings.dropna(subset=["satisfaction"])["satisfaction"].nunique() == 1:
        explanations.append("Every rating has the same value: there is no variation to compare or test.")

    comparisons = (
        pairwise_comparisons(ratings, keys, pairing=pairing, seed=seed, n_resamples=n_resamples)
        if len(keys) >= 2
        else []
    )
    for comparison in comparisons:
        for warning in comparison["warnings"]:
            warnings.append(f"{labels[comparison['a']]} vs {labels[comparison['b']]}: {warning}")

    agreement = rater_agreement(ratings, seed=seed)
    if agreement["n_raters"] == 1:
        explanations.append("Only one rater so far: agreement between raters cannot be measured.")

    models = {}
    if model:
        from surveys.stats.models import fit_models

        models = fit_models(ratings, keys)

    return {
        "configs": keys,
        "labels": labels,
        "n_ratings": int(len(ratings)),
        "n_raters": int(ratings["participant"].nunique()),
        "n_queries": int(ratings["query"].nunique()),
        "per_config": per_config,
        "comparisons": comparisons,
        "query_differences": [query_differences(ratings, c["a"], c["b"]) for c in comparisons],
        "agreement": agreement,
        "raters": rater_diagnostics(ratings),
        "relevance": relevance_metrics(ratings, keys, ks=ks, seed=seed, n_resamples=n_resamples),
        "per_query": query_breakdown(ratings, keys),
        "models": models,
        "summary": summary_sentences(per_config, comparisons, labels) if not ratings.empty else [],
        "explanations": explanations,
        "warnings": warnings,
        "settings": {
            "confidence": CONFIDENCE,
            "alpha": ALPHA,
            "bootstrap": TWO_WAY,
            "n_resamples": n_resamples,
            "seed": seed,
            "pairing": pairing,
            "min_units_for_test": MIN_UNITS_FOR_TEST,
            "round_decimals": ROUND_DECIMALS,
        },
    }
