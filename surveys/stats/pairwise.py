"""Pairwise comparisons of configurations: the design (paired by query, paired by participant, or
between subjects on participant-level means), the primary test (Wilcoxon signed-rank / Mann–Whitney
U, p-value Holm-adjusted), the tests reported beside it (paired t, sign-flip permutation / Welch t),
the Hodges–Lehmann shift with the interval that inverts the primary test, and the Holm-consistent
adjusted intervals that make "significant", the interval and the forest plot's colour agree.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from surveys.stats.common import (
    ALPHA,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    FEW_UNITS,
    MIN_UNITS_FOR_TEST,
    Interval,
    config_keys,
    num,
    rounded,
)
from surveys.stats.effects import (
    cliffs_delta,
    hodges_lehmann,
    hodges_lehmann_two_sample,
    matched_pairs_rank_biserial,
    pairwise_differences,
    walsh_averages,
)
from surveys.stats.intervals import (
    TWO_WAY,
    bootstrap_difference_interval,
    invert_test,
    percentile,
    two_way_difference_replicates,
)

PERMUTATIONS = 9999

DESIGN_REASONS = {
    "paired by query": (
        "{n} queries were rated under both configurations, so each query is compared with itself "
        "(its mean rating under one minus under the other) with the Wilcoxon signed-rank test: pairing "
        "removes the differences between easy and hard queries."
    ),
    "paired by participant": (
        "Fewer than {min} queries were rated under both configurations, but {n} participants rated "
        "both, so each participant's mean rating under one is compared with their own mean under the "
        "other (Wilcoxon signed-rank test): pairing removes differences between lenient and strict raters."
    ),
    "between participants": (
        "Fewer than {min} queries or participants were rated under both configurations, so each "
        "participant's mean rating is one value and the two groups of participants are compared with "
        "the Mann–Whitney U test: ratings of one person are not independent, so they are never pooled."
    ),
}
DIFFERENCE_MEANING = {
    "paired by query": "the average over queries of (query's mean under the first − under the second)",
    "paired by participant": (
        "the average over participants of (participant's mean under the first − under the second)"
    ),
    "between participants": (
        "the mean of the participant-level means under the first minus that under the second"
    ),
}


def unit_means(ratings: pd.DataFrame, a, b, by: str) -> pd.DataFrame:
    """Mean satisfaction per `by` unit (query or participant) under a and under b, for the units rated
    under both. Columns: the unit, "a", "b"."""
    rated = ratings.dropna(subset=["satisfaction"])
    rated = rated[rated["config"].isin([a, b])]
    if rated.empty:
        return pd.DataFrame(columns=[by, "a", "b"])
    means = rated.groupby([by, "config"], sort=True)["satisfaction"].mean().unstack("config")
    if a not in means.columns or b not in means.columns:
        return pd.DataFrame(columns=[by, "a", "b"])
    both = means[[a, b]].dropna()
    both.columns = ["a", "b"]
    return both.reset_index()


def win_tie_loss(per_query: pd.DataFrame) -> dict:
    """Per query rated under both: does a's mean rating beat, tie with or lose to b's?"""
    diff = rounded((per_query["a"] - per_query["b"]).to_numpy(dtype=float))
    return {
        "wins": int((diff > 0).sum()),
        "ties": int((diff == 0).sum()),
        "losses": int((diff < 0).sum()),
    }


def _choose_design(ratings: pd.DataFrame, a, b, pairing: str) -> tuple[str, pd.DataFrame | None]:
    if pairing == "none":
        return "between participants", None
    if pairing in ("auto", "query"):
        by_query = unit_means(ratings, a, b, "query")
        if pairing == "query" or len(by_query) >= MIN_UNITS_FOR_TEST:
            return "paired by query", by_query
    if pairing in ("auto", "participant"):
        by_participant = unit_means(ratings, a, b, "participant")
        if pairing == "participant" or len(by_participant) >= MIN_UNITS_FOR_TEST:
            return "paired by participant", by_participant
    return "between participants", None


def signed_rank_test(differences) -> tuple[float | None, float]:
    """Two-sided Wilcoxon signed-rank test of rounded differences: zeros dropped, tied |d| get mid
    ranks, and the p-value comes from the exact distribution of T+ over all 2**n sign patterns of
    those ranks (the permutation distribution, which stays exact with ties: scipy's own choice up
    to 13 pairs, here at any n, deterministic). p = min(1, 2 · min(P(T+ ≤ t), P(T+ ≥ t))).
    Returns (min(T+, T−), p); (None, 1.0) when every difference is 0."""
    d = rounded(differences)
    d = d[~np.isnan(d) & (d != 0)]
    if d.size == 0:
        return None, 1.0
    doubled = np.rint(2 * stats.rankdata(np.abs(d))).astype(int)  # mid ranks are halves
    t_plus = int(doubled[d > 0].sum())
    distribution = np.zeros(int(doubled.sum()) + 1)
    distribution[0] = 1.0
    for rank in doubled:
        shifted = np.zeros_like(distribution)
        shifted[rank:] = distribution[:-rank]
        distribution = (distribution + shifted) / 2
    low = distribution[: t_plus + 1].sum()
    high = distribution[t_plus:].sum()
    statistic = min(t_plus, int(doubled.sum()) - t_plus) / 2
    return float(statistic), float(min(1.0, 2 * min(low, high)))


def wilcoxon_p(differences) -> float:
    """The p-value of `signed_rank_test`."""
    return signed_rank_test(differences)[1]


def mann_whitney_p(a, b) -> float:
    a, b = rounded(a), rounded(b)
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def sign_flip_p(differences, *, seed: int) -> float:
    """Two-sided sign-flip permutation test of the mean difference (exact when 2**n ≤ 9999)."""
    d = rounded(differences)
    if np.count_nonzero(d) == 0:
        return 1.0
    result = stats.permutation_test(
        (d,),
        lambda x, axis=-1: np.mean(x, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=PERMUTATIONS,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def _empty_result(a, b, per_query: pd.DataFrame, values_a, values_b) -> dict:
    return {
        "a": a,
        "b": b,
        "mean_a": num(values_a.mean()) if values_a.size else None,
        "mean_b": num(values_b.mean()) if values_b.size else None,
        "n_ratings_a": int(values_a.size),
        "n_ratings_b": int(values_b.size),
        "design": None,
        "reason": "",
        "n": 0,
        "n_unit": "",
        "mean_difference": None,
        "difference_meaning": "",
        "ci": Interval(None, None).as_dict(),
        "ci_method": "",
        "test": None,
        "statistic": None,
        "p_value": None,
        "other_tests": [],
        "hodges_lehmann": None,
        "hl_ci": Interval(None, None).as_dict(),
        "p_holm": None,
        "significant": None,
        "ci_adjusted": Interval(None, None).as_dict(),
        "adjusted_confidence": None,
        "effect_size_name": None,
        "effect_size": None,
        "per_query": win_tie_loss(per_query) | {"n_queries": int(len(per_query))},
        "explanation": "",
        "warnings": [],
    }


def compare_configurations(
    ratings: pd.DataFrame,
    a,
    b,
    *,
    pairing: str = "auto",
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict:
    """Compare satisfaction under a and b (a − b). Paired by query when ≥ 6 queries were rated under
    both, else paired by participant when ≥ 6 participants rated both, else between participants on
    participant-level means; `pairing` forces "query", "participant" or "none" (between participants).
    Paired: Wilcoxon signed-rank over the rounded unit differences (primary), paired t and sign-flip
    permutation beside it, mean difference with a two-way cluster bootstrap interval, Hodges–Lehmann
    shift with the Wilcoxon-inverted interval. Between participants: Mann–Whitney U (primary) and
    Welch t on participant means, participant bootstrap interval, two-sample Hodges–Lehmann shift.
    `pairwise_comparisons` adds the Holm-adjusted p-value and interval."""
    if pairing not in ("auto", "query", "participant", "none"):
        raise ValueError(f"unknown pairing {pairing!r}")
    rated = ratings.dropna(subset=["satisfaction"])
    values_a = rated.loc[rated["config"] == a, "satisfaction"].to_numpy(dtype=float)
    values_b = rated.loc[rated["config"] == b, "satisfaction"].to_numpy(dtype=float)
    result = _empty_result(a, b, unit_means(ratings, a, b, "query"), values_a, values_b)
    if values_a.size == 0 or values_b.size == 0:
        missing = a if values_a.size == 0 else b
        result["explanation"] = f"No satisfaction ratings for {missing} yet: nothing to compare."
        return result
    design, units = _choose_design(ratings, a, b, pairing)
    result["design"] = design
    result["difference_meaning"] = DIFFERENCE_MEANING[design]
    if design == "between participants":
        return _between(result, rated, a, b, seed=seed, n_resamples=n_resamples)
    return _paired(result, rated, design, units, seed=seed, n_resamples=n_resamples)


def _paired(
    result: dict, rated: pd.DataFrame, design: str, units: pd.DataFrame, *, seed: int, n_resamples: int
) -> dict:
    unit, other = ("query", "participant") if design == "paired by query" else ("participant", "query")
    plural = "queries" if unit == "query" else "participants"
    differences = rounded((units["a"] - units["b"]).to_numpy(dtype=float))
    n = int(differences.size)
    result.update(
        n=n,
        n_unit=plural,
        reason=DESIGN_REASONS[design].format(n=n, min=MIN_UNITS_FOR_TEST),
        mean_difference=num(differences.mean()) if n else None,
        effect_size_name="matched-pairs rank-biserial correlation",
        effect_size=matched_pairs_rank_biserial(differences),
        hodges_lehmann=hodges_lehmann(differences),
    )
    if n == 0:
        result["explanation"] = f"No {plural} were rated under both configurations: no paired comparison."
        return result
    shared = rated[rated[unit].isin(units[unit])]
    side_a, side_b = shared[shared["config"] == result["a"]], shared[shared["config"] == result["b"]]
    replicates = two_way_difference_replicates(
        side_a[unit], side_a[other], side_a["satisfaction"], side_b[unit], side_b[other],
        side_b["satisfaction"], seed=seed, n_resamples=n_resamples,
    )  # fmt: skip
    result["ci"] = (
        Interval(*percentile(replicates)) if np.ptp(differences) or differences[0] else Interval(0.0, 0.0)
    ).as_dict()
    result["ci_method"] = TWO_WAY
    nonzero = int(np.count_nonzero(differences))
    if nonzero == 0:
        result["explanation"] = (
            f"Every one of the {n} pairs is a tie (the same mean rating under both): there is no "
            "difference to test."
        )
        result["warnings"].append(f"All {n} pairs tied.")
        return result
    if nonzero < MIN_UNITS_FOR_TEST:
        result["explanation"] = (
            f"Only {nonzero} of the {n} pairs differ: with fewer than {MIN_UNITS_FOR_TEST} non-tied pairs "
            "no two-sided Wilcoxon test can reach p < 0.05, so none was run. Collect more ratings."
        )
        result["warnings"].append(f"Too few pairs ({nonzero} non-tied) to test.")
        return result
    statistic, p_value = signed_rank_test(differences)
    t_test = stats.ttest_1samp(differences, 0.0)
    result.update(
        test="Wilcoxon signed-rank",
        statistic=num(statistic),
        p_value=num(p_value),
        other_tests=[
            {"test": "paired t", "statistic": num(t_test.statistic), "p_value": num(t_test.pvalue)},
            {
                "test": "sign-flip permutation",
                "statistic": num(differences.mean()),
                "p_value": sign_flip_p(differences, seed=seed),
            },
        ],  # fmt: skip
        hl_ci=adjusted_interval(result, differences, ALPHA).as_dict(),
    )
    if n < FEW_UNITS:
        result["warnings"].append(
            f"Only {n} pairs: the interval is wide and the comparison is indicative at best."
        )
    result["_units"] = differences
    return result


def participant_means(rated: pd.DataFrame, key) -> np.ndarray:
    rows = rated[rated["config"] == key]
    return rows.groupby("participant")["satisfaction"].mean().to_numpy(dtype=float)


def _between(result: dict, rated: pd.DataFrame, a, b, *, seed: int, n_resamples: int) -> dict:
    means_a, means_b = participant_means(rated, a), participant_means(rated, b)
    n_a, n_b = int(means_a.size), int(means_b.size)
    result.update(
        n=n_a + n_b,
        n_unit="participants",
        reason=DESIGN_REASONS["between participants"].format(min=MIN_UNITS_FOR_TEST),
        mean_difference=num(means_a.mean() - means_b.mean()),
        ci=bootstrap_difference_interval(means_a, means_b, seed=seed, n_resamples=n_resamples).as_dict(),
        ci_method="percentile bootstrap over participants (participant-level means)",
        effect_size_name="Cliff's delta (participant means)",
        effect_size=cliffs_delta(means_a, means_b),
        hodges_lehmann=hodges_lehmann_two_sample(means_a, means_b),
    )
    if min(n_a, n_b) < MIN_UNITS_FOR_TEST:
        result["explanation"] = (
            f"Only {n_a} and {n_b} participants: at least {MIN_UNITS_FOR_TEST} per configuration are "
            "needed before a test says anything. Collect more ratings."
        )
        result["warnings"].append(f"Too few participants ({n_a} and {n_b}) to test.")
        return result
    if np.ptp(np.concatenate([means_a, means_b])) == 0:
        result["explanation"] = "Every participant's mean is the same: there is no difference to test."
        result["warnings"].append("All participant means tied.")
        return result
    test = stats.mannwhitneyu(rounded(means_a), rounded(means_b), alternative="two-sided")
    welch = stats.ttest_ind(means_a, means_b, equal_var=False)
    result.update(
        test="Mann–Whitney U (participant means)",
        statistic=num(test.statistic),
        p_value=num(test.pvalue),
        other_tests=[{"test": "Welch t", "statistic": num(welch.statistic), "p_value": num(welch.pvalue)}],
    )
    result["_groups"] = (means_a, means_b)
    result["hl_ci"] = adjusted_interval(result, None, ALPHA).as_dict()
    if min(n_a, n_b) < FEW_UNITS:
        result["warnings"].append(
            f"Only {n_a} and {n_b} participants: the interval is wide and the comparison is indicative at best."
        )
    return result


def adjusted_interval(result: dict, differences, alpha: float) -> Interval:
    """The shift interval at level 1 − alpha that inverts the comparison's own primary test: around
    the Hodges–Lehmann shift, {δ : Wilcoxon p(d − δ) ≥ alpha} (paired) or {δ : Mann–Whitney p(a − δ,
    b) ≥ alpha} (between participants)."""
    if differences is not None:
        return invert_test(
            lambda shift: wilcoxon_p(differences - shift),
            walsh_averages(differences),
            result["hodges_lehmann"],
            alpha,
        )
    means_a, means_b = result["_groups"]
    return invert_test(
        lambda shift: mann_whitney_p(means_a - shift, means_b),
        pairwise_differences(means_a, means_b),
        result["hodges_lehmann"],
        alpha,
    )


def holm_adjust(p_values: list[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values over the p-values that exist (None stays None and does not
    count as a comparison): the j-th smallest of m becomes max_{i ≤ j} (m − i + 1) p_(i), capped at
    1 — what statsmodels `multipletests(method="holm")` returns (tested), without its per-call
    garbage collection, which the planner's thousands of simulated surveys cannot afford."""
    present = [index for index, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    if present:
        values = np.array([p_values[i] for i in present], dtype=float)
        order = np.argsort(values, kind="stable")
        m = values.size
        stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * values[order]))
        for rank, position in enumerate(order):
            adjusted[present[position]] = float(stepped[rank])
    return adjusted


def holm_levels(p_values: list[float | None], alpha: float = ALPHA) -> list[float | None]:
    """Per comparison, the test level whose inverted interval agrees with Holm's decision: α/(m − j + 1)
    for the j-th smallest p-value when Holm rejects it, α/(m − r) for every comparison Holm keeps
    (r = number rejected). Then the interval excludes 0 exactly when Holm calls the difference
    significant (Holm-compatible simultaneous intervals in the sense of Strassburger & Bretz 2008,
    in their simplest, non-informative-for-rejections form)."""
    present = sorted((p, index) for index, p in enumerate(p_values) if p is not None)
    m = len(present)
    adjusted = holm_adjust(p_values)
    rejected = sum(1 for p in adjusted if p is not None and p < alpha)
    levels: list[float | None] = [None] * len(p_values)
    for step, (_, index) in enumerate(present, start=1):
        levels[index] = alpha / (m - step + 1) if adjusted[index] < alpha else alpha / (m - rejected)
    return levels


def pairwise_comparisons(
    ratings: pd.DataFrame,
    configs=None,
    *,
    pairing: str = "auto",
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> list[dict]:
    """`compare_configurations` for every pair (in the order of `configs`), with Holm-adjusted p-values
    across all the pairs that were tested, `significant` = adjusted p < 0.05, and `ci_adjusted`, the
    Holm-consistent interval of the shift (it excludes 0 exactly when `significant`)."""
    keys = config_keys(ratings, configs)
    comparisons = [
        compare_configurations(ratings, a, b, pairing=pairing, seed=seed, n_resamples=n_resamples)
        for a, b in combinations(keys, 2)
    ]
    p_values = [comparison["p_value"] for comparison in comparisons]
    adjusted = holm_adjust(p_values)
    levels = holm_levels(p_values)
    for comparison, p_holm, level in zip(comparisons, adjusted, levels, strict=True):
        comparison["p_holm"] = p_holm
        comparison["significant"] = None if p_holm is None else bool(p_holm < ALPHA)
        if level is not None:
            comparison["adjusted_confidence"] = 1 - level
            comparison["ci_adjusted"] = adjusted_interval(
                comparison, comparison.get("_units"), level
            ).as_dict()
        comparison.pop("_units", None)
        comparison.pop("_groups", None)
    return comparisons
