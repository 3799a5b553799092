"""Statistics of the weight-comparison report: pure functions on pandas/NumPy data, no Django.

Input is one DataFrame with a row per rating (`surveys/report.py` builds it from the database):

    config        configuration key (the survey's neutral code, e.g. "A")
    participant   rater id
    query         query id (the blocking factor of the design: every query is shown under every config)
    satisfaction  1–5, NaN when not answered
    match         "yes" / "partly" / "no", "" when not answered
    relevance     optional: per shown product in screen order, True / False (None or [] = no marks)

Everything returned is plain JSON-ready data (floats, ints, str, None for "cannot be computed"),
and every quantity that cannot be computed comes with a sentence saying why.
Intervals, tests, alpha and the multiple-comparison adjustment come from scipy, statsmodels and
the `krippendorff` package; the two effect sizes and the ranking metrics are written here and
tested against published worked examples (docs/report.md lists the formulas and references).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import krippendorff
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

CONFIDENCE = 0.95
ALPHA = 0.05
DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
# Below 6 non-tied pairs the smallest two-sided Wilcoxon p-value is 2/2**5 = 0.0625: no test could
# ever reach 0.05, so none is run. The same floor is used for the other designs for consistency.
MIN_UNITS_FOR_TEST = 6
# Under this many units an interval is wide enough that the comparison deserves a warning.
FEW_UNITS = 20
SATISFACTION_VALUES = (1, 2, 3, 4, 5)
MATCH_VALUES = ("yes", "partly", "no")
# "Matches the style" answers are ordered for agreement: no < partly < yes.
MATCH_RANK = {"no": 1, "partly": 2, "yes": 3}
DEFAULT_KS = (5, 10)


def _num(value) -> float | None:
    """A JSON-ready float: None for NaN/inf/None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _round(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def format_p(p: float | None) -> str:
    """p-values as reports usually write them: 'p = 0.012', 'p < 0.001'."""
    if p is None:
        return "p not computed"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


# --------------------------------------------------------------------------- intervals


@dataclass(frozen=True)
class Interval:
    low: float | None
    high: float | None
    note: str = ""

    def as_dict(self) -> dict:
        return {"low": _num(self.low), "high": _num(self.high), "note": self.note}


def _statistic(name: str):
    return {"mean": np.mean, "median": np.median}[name]


def bootstrap_intervals(
    values,
    statistics: tuple[str, ...] = ("mean",),
    *,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals of the mean and/or median of one sample, from one set of resamples.

    `scipy.stats.bootstrap(..., method="percentile", rng=np.random.default_rng(seed))` with a vector-valued
    statistic: each interval equals what a separate call with the same seed gives. The percentile method
    rather than BCa because BCa's jackknife costs O(n²) and is undefined for the degenerate resampling
    distributions that 1–5 ratings produce (e.g. the median of mostly-4 ratings).
    """
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if data.size == 0:
        return dict.fromkeys(statistics, Interval(None, None, "no values"))
    if data.size == 1:
        return dict.fromkeys(statistics, Interval(None, None, "one value: no interval"))
    if np.ptp(data) == 0:
        return dict.fromkeys(statistics, Interval(float(data[0]), float(data[0]), "all values equal"))
    functions = [_statistic(name) for name in statistics]

    def joint(sample, axis=-1):
        return np.stack([function(sample, axis=axis) for function in functions])

    result = stats.bootstrap(
        (data,),
        joint,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return {name: Interval(float(low[i]), float(high[i])) for i, name in enumerate(statistics)}


def bootstrap_interval(
    values,
    statistic: str = "mean",
    *,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Percentile bootstrap interval of the mean or median of one sample (see bootstrap_intervals)."""
    return bootstrap_intervals(
        values, (statistic,), seed=seed, n_resamples=n_resamples, confidence=confidence
    )[statistic]


def _mean_difference(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def bootstrap_difference_interval(
    a,
    b,
    *,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Percentile bootstrap interval of mean(a) − mean(b) for two independent samples (each resampled
    on its own: `scipy.stats.bootstrap((a, b), ..., paired=False)`)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        return Interval(None, None, "fewer than two values in a group: no interval")
    if np.ptp(np.concatenate([a, b])) == 0:
        return Interval(0.0, 0.0, "all values equal")
    result = stats.bootstrap(
        (a, b),
        _mean_difference,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return Interval(float(result.confidence_interval.low), float(result.confidence_interval.high))


# --------------------------------------------------------------------------- effect sizes (hand-written)


def matched_pairs_rank_biserial(differences) -> float | None:
    """Matched-pairs rank-biserial correlation r = (T+ − T−) / (T+ + T−) (Kerby 2014, "simple
    difference formula"), T± the sums of the ranks of |d| over the positive / negative differences.
    Zero differences are dropped, as in the Wilcoxon test it accompanies (zero_method="wilcox").
    +1: every pair favours the first configuration; −1: every pair the second."""
    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d) & (d != 0)]
    if d.size == 0:
        return None
    ranks = stats.rankdata(np.abs(d))
    positive = ranks[d > 0].sum()
    negative = ranks[d < 0].sum()
    return float((positive - negative) / (positive + negative))


def cliffs_delta(a, b) -> float | None:
    """Cliff's delta δ = (#{a_i > b_j} − #{a_i < b_j}) / (n_a · n_b) (Cliff 1993): the probability that
    a rating of the first configuration beats one of the second minus the reverse. O(n log n)."""
    a = np.asarray(a, dtype=float)
    b = np.sort(np.asarray(b, dtype=float))
    if a.size == 0 or b.size == 0:
        return None
    below = np.searchsorted(b, a, side="left")  # b_j < a_i
    not_above = np.searchsorted(b, a, side="right")  # b_j <= a_i
    greater = below.sum()
    less = (b.size - not_above).sum()
    return float((greater - less) / (a.size * b.size))


# --------------------------------------------------------------------------- ranking metrics (hand-written)


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


# --------------------------------------------------------------------------- per configuration


def _config_keys(ratings: pd.DataFrame, configs) -> list:
    if configs is not None:
        return list(configs)
    return sorted(ratings["config"].dropna().unique().tolist(), key=str)


def summarize_configuration(
    ratings: pd.DataFrame, *, seed: int = DEFAULT_SEED, n_resamples: int = DEFAULT_RESAMPLES
) -> dict:
    """Ratings and raters, mean and median satisfaction with 95% bootstrap intervals, the 1–5
    distribution and the yes/partly/no shares of one configuration's ratings."""
    satisfaction = ratings["satisfaction"].astype(float).dropna().to_numpy()
    counts = {value: int((satisfaction == value).sum()) for value in SATISFACTION_VALUES}
    match = ratings["match"].fillna("")
    match = match[match != ""]
    match_counts = {value: int((match == value).sum()) for value in MATCH_VALUES}
    n_match = int(match.size)
    intervals = bootstrap_intervals(satisfaction, ("mean", "median"), seed=seed, n_resamples=n_resamples)
    return {
        "n_ratings": int(len(ratings)),
        "n_satisfaction": int(satisfaction.size),
        "n_raters": int(ratings["participant"].nunique()),
        "n_queries": int(ratings["query"].nunique()),
        "mean": _num(satisfaction.mean()) if satisfaction.size else None,
        "mean_ci": intervals["mean"].as_dict(),
        "median": _num(np.median(satisfaction)) if satisfaction.size else None,
        "median_ci": intervals["median"].as_dict(),
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
    }


# --------------------------------------------------------------------------- pairwise comparisons


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
    diff = (per_query["a"] - per_query["b"]).to_numpy(dtype=float)
    tie = np.isclose(diff, 0.0)
    return {
        "wins": int(((diff > 0) & ~tie).sum()),
        "ties": int(tie.sum()),
        "losses": int(((diff < 0) & ~tie).sum()),
    }


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
    "unpaired": (
        "Fewer than {min} queries or participants were rated under both configurations, so the ratings "
        "are compared as two independent groups with the Mann–Whitney U test."
    ),
}


def _choose_design(ratings: pd.DataFrame, a, b, pairing: str) -> tuple[str, pd.DataFrame | None]:
    if pairing in ("auto", "query"):
        by_query = unit_means(ratings, a, b, "query")
        if pairing == "query" or len(by_query) >= MIN_UNITS_FOR_TEST:
            return "paired by query", by_query
    if pairing in ("auto", "participant"):
        by_participant = unit_means(ratings, a, b, "participant")
        if pairing == "participant" or len(by_participant) >= MIN_UNITS_FOR_TEST:
            return "paired by participant", by_participant
    return "unpaired", None


def compare_configurations(
    ratings: pd.DataFrame,
    a,
    b,
    *,
    pairing: str = "auto",
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict:
    """Compare satisfaction under a and b: mean difference (a − b) with a 95% bootstrap interval, a
    paired Wilcoxon signed-rank test when the design pairs them (≥ 6 queries, else ≥ 6 participants
    rated under both), a Mann–Whitney U test otherwise, an effect size (matched-pairs rank-biserial /
    Cliff's delta) and per-query win/tie/loss counts. `pairing` forces a design: "query",
    "participant" or "none"; "auto" chooses as above. The unadjusted p-value is `p_value`;
    `pairwise_comparisons` adds the Holm-adjusted one."""
    if pairing not in ("auto", "query", "participant", "none"):
        raise ValueError(f"unknown pairing {pairing!r}")
    rated = ratings.dropna(subset=["satisfaction"])
    values_a = rated.loc[rated["config"] == a, "satisfaction"].to_numpy(dtype=float)
    values_b = rated.loc[rated["config"] == b, "satisfaction"].to_numpy(dtype=float)
    per_query = unit_means(ratings, a, b, "query")
    result = {
        "a": a,
        "b": b,
        "mean_a": _num(values_a.mean()) if values_a.size else None,
        "mean_b": _num(values_b.mean()) if values_b.size else None,
        "n_ratings_a": int(values_a.size),
        "n_ratings_b": int(values_b.size),
        "design": None,
        "reason": "",
        "n": 0,
        "n_unit": "",
        "mean_difference": None,
        "ci": Interval(None, None).as_dict(),
        "test": None,
        "statistic": None,
        "p_value": None,
        "p_holm": None,
        "significant": None,
        "effect_size_name": None,
        "effect_size": None,
        "per_query": win_tie_loss(per_query) | {"n_queries": int(len(per_query))},
        "explanation": "",
        "warnings": [],
    }
    if values_a.size == 0 or values_b.size == 0:
        missing = a if values_a.size == 0 else b
        result["explanation"] = f"No satisfaction ratings for {missing} yet: nothing to compare."
        return result

    design, units = _choose_design(ratings, a, b, "auto" if pairing == "auto" else pairing)
    if pairing == "none":
        design, units = "unpaired", None
    result["design"] = design
    if design == "unpaired":
        return _unpaired(result, values_a, values_b, seed=seed, n_resamples=n_resamples)
    return _paired(result, design, units, seed=seed, n_resamples=n_resamples)


def _paired(result: dict, design: str, units: pd.DataFrame, *, seed: int, n_resamples: int) -> dict:
    unit = "queries" if design == "paired by query" else "participants"
    differences = (units["a"] - units["b"]).to_numpy(dtype=float)
    n = int(differences.size)
    result.update(
        n=n,
        n_unit="pairs",
        reason=DESIGN_REASONS[design].format(n=n, min=MIN_UNITS_FOR_TEST),
        mean_difference=_num(differences.mean()) if n else None,
        ci=bootstrap_interval(differences, "mean", seed=seed, n_resamples=n_resamples).as_dict(),
        effect_size_name="matched-pairs rank-biserial correlation",
        effect_size=matched_pairs_rank_biserial(differences),
    )
    nonzero = int(np.count_nonzero(differences))
    if n == 0:
        result["explanation"] = f"No {unit} were rated under both configurations: no paired comparison."
        return result
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
    test = stats.wilcoxon(differences, zero_method="wilcox", alternative="two-sided")
    result.update(
        test="Wilcoxon signed-rank",
        statistic=_num(test.statistic),
        p_value=_num(test.pvalue),
    )
    if n < FEW_UNITS:
        result["warnings"].append(
            f"Only {n} pairs: the interval is wide and the comparison is indicative at best."
        )
    return result


def _unpaired(result: dict, values_a, values_b, *, seed: int, n_resamples: int) -> dict:
    n_a, n_b = int(values_a.size), int(values_b.size)
    result.update(
        n=n_a + n_b,
        n_unit="ratings",
        reason=DESIGN_REASONS["unpaired"].format(min=MIN_UNITS_FOR_TEST),
        mean_difference=_num(values_a.mean() - values_b.mean()),
        ci=bootstrap_difference_interval(values_a, values_b, seed=seed, n_resamples=n_resamples).as_dict(),
        effect_size_name="Cliff's delta",
        effect_size=cliffs_delta(values_a, values_b),
    )
    if min(n_a, n_b) < MIN_UNITS_FOR_TEST:
        result["explanation"] = (
            f"Only {n_a} and {n_b} ratings: at least {MIN_UNITS_FOR_TEST} per configuration are needed "
            "before a test says anything. Collect more ratings."
        )
        result["warnings"].append(f"Too few ratings ({n_a} and {n_b}) to test.")
        return result
    if np.ptp(np.concatenate([values_a, values_b])) == 0:
        result["explanation"] = (
            "Every rating under both configurations is the same: there is no difference to test."
        )
        result["warnings"].append("All ratings tied.")
        return result
    test = stats.mannwhitneyu(values_a, values_b, alternative="two-sided")
    result.update(test="Mann–Whitney U", statistic=_num(test.statistic), p_value=_num(test.pvalue))
    if min(n_a, n_b) < FEW_UNITS:
        result["warnings"].append(
            f"Only {n_a} and {n_b} ratings: the interval is wide and the comparison is indicative at best."
        )
    return result


def holm_adjust(p_values: list[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (statsmodels `multipletests(method="holm")`) over the p-values
    that exist; None stays None and does not count as a comparison."""
    present = [index for index, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    if present:
        _, corrected, _, _ = multipletests([p_values[i] for i in present], alpha=ALPHA, method="holm")
        for index, value in zip(present, corrected, strict=True):
            adjusted[index] = float(value)
    return adjusted


def pairwise_comparisons(
    ratings: pd.DataFrame,
    configs=None,
    *,
    pairing: str = "auto",
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> list[dict]:
    """`compare_configurations` for every pair (in the order of `configs`), with Holm-adjusted p-values
    across all the pairs that were tested and `significant` = adjusted p < 0.05."""
    keys = _config_keys(ratings, configs)
    comparisons = [
        compare_configurations(ratings, a, b, pairing=pairing, seed=seed, n_resamples=n_resamples)
        for a, b in combinations(keys, 2)
    ]
    adjusted = holm_adjust([comparison["p_value"] for comparison in comparisons])
    for comparison, p_holm in zip(comparisons, adjusted, strict=True):
        comparison["p_holm"] = p_holm
        comparison["significant"] = None if p_holm is None else bool(p_holm < ALPHA)
    return comparisons


# --------------------------------------------------------------------------- agreement


def value_counts_matrix(units, values, domain) -> np.ndarray:
    """Units × values count matrix (krippendorff's `value_counts` input) from parallel unit/value lists."""
    frame = pd.DataFrame({"unit": list(units), "value": list(values)}).dropna()
    if frame.empty:
        return np.zeros((0, len(domain)))
    table = pd.crosstab(frame["unit"], frame["value"]).reindex(columns=list(domain), fill_value=0)
    return table.to_numpy(dtype=float)


def krippendorff_alpha(units, values, *, domain, level: str = "ordinal") -> dict:
    """Krippendorff's alpha over the units rated by two or more coders (the `krippendorff` package,
    from value counts: coders' identities do not enter alpha). Returns alpha (None when it cannot
    be computed), the number of pairable units and values, and an explanation."""
    counts = value_counts_matrix(units, values, domain)
    pairable = counts[counts.sum(axis=1) >= 2] if counts.size else counts
    result = {
        "level": level,
        "alpha": None,
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
    result["alpha"] = _num(
        krippendorff.alpha(value_counts=pairable, value_domain=list(domain), level_of_measurement=level)
    )
    if result["n_units"] < FEW_UNITS:
        result["explanation"] = (
            f"Only {result['n_units']} cells were rated by two or more people: a rough figure."
        )
    return result


def rater_agreement(ratings: pd.DataFrame) -> dict:
    """Ordinal alpha of satisfaction (1–5) and of the match answer (no < partly < yes), over the
    (query, configuration) cells rated by two or more participants."""
    cells = ratings["query"].astype(str) + "\x1f" + ratings["config"].astype(str)
    match = ratings["match"].fillna("").map(MATCH_RANK)
    return {
        "n_raters": int(ratings["participant"].nunique()),
        "satisfaction": krippendorff_alpha(
            cells, ratings["satisfaction"].astype(float), domain=SATISFACTION_VALUES, level="ordinal"
        ),
        "match": krippendorff_alpha(cells, match, domain=(1, 2, 3), level="ordinal"),
    }


# --------------------------------------------------------------------------- relevance marks


def relevance_metrics(
    ratings: pd.DataFrame,
    configs=None,
    *,
    ks=DEFAULT_KS,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict:
    """precision@k and nDCG@k per configuration (mean over the ratings with relevance marks, with a
    95% bootstrap interval). nDCG@k counts 0 for a rating where nothing shown was marked relevant."""
    keys = _config_keys(ratings, configs)
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
        lists = marked.loc[marked["config"] == key, "relevance"].tolist()
        entry = {"n_ratings": len(lists)}
        for k in ks:
            precision = np.array([precision_at_k(marks, k) for marks in lists], dtype=float)
            ndcg = np.array([ndcg_at_k(marks, k) or 0.0 for marks in lists], dtype=float)
            entry[f"precision@{k}"] = {
                "mean": _num(precision.mean()) if precision.size else None,
                "ci": bootstrap_interval(precision, "mean", seed=seed, n_resamples=n_resamples).as_dict(),
            }
            entry[f"ndcg@{k}"] = {
                "mean": _num(ndcg.mean()) if ndcg.size else None,
                "ci": bootstrap_interval(ndcg, "mean", seed=seed, n_resamples=n_resamples).as_dict(),
            }
        per_config[key] = entry
    return {"available": True, "ks": list(ks), "configs": per_config, "explanation": ""}


# --------------------------------------------------------------------------- per query


def query_breakdown(ratings: pd.DataFrame, configs=None) -> dict:
    """Mean satisfaction and count per (query, configuration): the heat map's data. Rows follow the
    order of first appearance of queries sorted by id; cells without ratings are None."""
    keys = _config_keys(ratings, configs)
    rated = ratings.dropna(subset=["satisfaction"])
    if rated.empty:
        return {"queries": [], "configs": keys, "means": [], "counts": [], "best": []}
    grouped = rated.groupby(["query", "config"])["satisfaction"]
    means = grouped.mean().unstack("config").reindex(columns=keys)
    counts = grouped.size().unstack("config").reindex(columns=keys).fillna(0).astype(int)
    means = means.sort_index()
    counts = counts.reindex(means.index)
    best = []
    for _, row in means.iterrows():
        present = row.dropna()
        if present.empty:
            best.append(None)
            continue
        top = present.max()
        winners = [key for key, value in present.items() if np.isclose(value, top)]
        best.append(winners[0] if len(winners) == 1 else None)
    return {
        "queries": means.index.tolist(),
        "configs": keys,
        "means": [[_num(value) for value in row] for row in means.to_numpy(dtype=float)],
        "counts": counts.to_numpy().tolist(),
        "best": best,
    }


# --------------------------------------------------------------------------- plain language


def comparison_sentence(comparison: dict, labels: dict) -> str:
    """'A was rated 0.4 points higher than B (95% CI 0.1 to 0.7; p = 0.01, Holm), n = 120 pairs.'"""
    a, b = labels.get(comparison["a"], comparison["a"]), labels.get(comparison["b"], comparison["b"])
    diff = comparison["mean_difference"]
    if diff is None or comparison["p_holm"] is None:
        return f"{a} vs {b}: {comparison['explanation'] or 'not enough data to compare.'}"
    ci = comparison["ci"]
    if np.isclose(diff, 0):
        direction = f"{a} and {b} were rated the same on average"
    else:
        higher, lower = (a, b) if diff > 0 else (b, a)
        direction = f"{higher} was rated {abs(diff):.2f} points higher than {lower}"
    low, high = (
        (ci["low"], ci["high"])
        if diff >= 0
        else (
            None if ci["high"] is None else -ci["high"],
            None if ci["low"] is None else -ci["low"],
        )
    )
    sentence = (
        f"{direction} (95% CI {_round(low)} to {_round(high)}; {format_p(comparison['p_holm'])}, Holm), "
        f"n = {comparison['n']} {comparison['n_unit']}"
    )
    if comparison["significant"]:
        return sentence + "."
    return sentence + ": not a clear difference at the 5% level."


def summary_sentences(per_config: dict, comparisons: list[dict], labels: dict) -> list[str]:
    """The plain-language lines at the top of the report: the best-rated configuration, then one line
    per comparison, significant ones first."""
    lines = []
    rated = {key: entry for key, entry in per_config.items() if entry["mean"] is not None}
    if rated:
        best = max(rated, key=lambda key: rated[key]["mean"])
        entry = rated[best]
        ci = entry["mean_ci"]
        lines.append(
            f"{labels.get(best, best)} has the highest mean satisfaction: {entry['mean']:.2f} of 5 "
            f"(95% CI {_round(ci['low'])} to {_round(ci['high'])}), from {entry['n_satisfaction']} ratings "
            f"by {entry['n_raters']} raters."
        )
    ordered = sorted(
        comparisons, key=lambda c: (not c["significant"], c["p_holm"] if c["p_holm"] is not None else 2)
    )
    lines.extend(comparison_sentence(comparison, labels) for comparison in ordered)
    return lines


# --------------------------------------------------------------------------- everything


def analyse(
    ratings: pd.DataFrame,
    *,
    configs=None,
    labels: dict | None = None,
    pairing: str = "auto",
    ks=DEFAULT_KS,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> dict:
    """All the report's statistics for one DataFrame of ratings (schema in the module docstring).

    `configs`: the configuration keys in display order (default: sorted keys present); `labels`:
    key → display name for the sentences. Never raises on thin data: what cannot be computed is
    None, and `explanations` / `warnings` say why in plain language."""
    for column in ("config", "participant", "query", "satisfaction", "match"):
        if column not in ratings.columns:
            raise ValueError(f"ratings need a {column!r} column")
    keys = _config_keys(ratings, configs)
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

    agreement = rater_agreement(ratings)
    if agreement["n_raters"] == 1:
        explanations.append("Only one rater so far: agreement between raters cannot be measured.")

    return {
        "configs": keys,
        "labels": labels,
        "n_ratings": int(len(ratings)),
        "n_raters": int(ratings["participant"].nunique()),
        "n_queries": int(ratings["query"].nunique()),
        "per_config": per_config,
        "comparisons": comparisons,
        "agreement": agreement,
        "relevance": relevance_metrics(ratings, keys, ks=ks, seed=seed, n_resamples=n_resamples),
        "per_query": query_breakdown(ratings, keys),
        "summary": summary_sentences(per_config, comparisons, labels) if not ratings.empty else [],
        "explanations": explanations,
        "warnings": warnings,
        "settings": {
            "confidence": CONFIDENCE,
            "alpha": ALPHA,
            "bootstrap": "percentile",
            "n_resamples": n_resamples,
            "seed": seed,
            "pairing": pairing,
            "min_units_for_test": MIN_UNITS_FOR_TEST,
        },
    }
