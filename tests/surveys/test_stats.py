"""surveys/stats.py against scipy / statsmodels / krippendorff computed directly, and published examples.

No database: the report's statistics are pure functions of a ratings DataFrame.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from surveys import stats

N_RESAMPLES = 2000
SEED = 7


def frame(rows) -> pd.DataFrame:
    """rows: (config, participant, query, satisfaction, match[, relevance])."""
    columns = ["config", "participant", "query", "satisfaction", "match", "relevance"][: len(rows[0])]
    data = pd.DataFrame(rows, columns=columns)
    data["satisfaction"] = data["satisfaction"].astype(float)
    return data


@pytest.fixture
def fixed_ratings() -> pd.DataFrame:
    """8 queries × configs A/B, 3 ratings per cell from 6 participants; B is a little better."""
    rng = np.random.default_rng(123)
    rows = []
    for query in range(8):
        for config, shift in (("A", 0), ("B", 1)):
            for rater in range(3):
                participant = rater + (3 if config == "B" else 0) + query % 2
                value = int(np.clip(rng.integers(1, 5) + shift * (query % 3 != 0), 1, 5))
                rows.append((config, participant, query, value, ["yes", "partly", "no"][(query + rater) % 3]))
    return frame(rows)


def percentile_ci(data, statistic):
    result = sps.bootstrap(
        (np.asarray(data, dtype=float),),
        statistic,
        n_resamples=N_RESAMPLES,
        method="percentile",
        confidence_level=0.95,
        rng=np.random.default_rng(SEED),
    )
    return result.confidence_interval.low, result.confidence_interval.high


# --------------------------------------------------------------------------- per configuration


def test_configuration_summary_equals_numpy_and_scipy(fixed_ratings):
    a = fixed_ratings[fixed_ratings["config"] == "A"]
    summary = stats.summarize_configuration(a, seed=SEED, n_resamples=N_RESAMPLES)
    values = a["satisfaction"].to_numpy()
    assert summary["n_ratings"] == 24
    assert summary["n_raters"] == a["participant"].nunique()
    assert summary["mean"] == pytest.approx(values.mean())
    assert summary["median"] == pytest.approx(np.median(values))
    # Intervals: two-way (participant × query) cluster bootstrap, never ratings resampled one by one.
    two_way = stats.two_way_interval(values, a["participant"], a["query"], seed=SEED, n_resamples=N_RESAMPLES)
    assert summary["mean_ci"] == two_way.as_dict()
    assert summary["mean_ci"]["low"] < summary["mean"] < summary["mean_ci"]["high"]
    low, high = percentile_ci(values, np.mean)
    assert summary["mean_ci"]["high"] - summary["mean_ci"]["low"] > high - low
    assert summary["median_ci"]["low"] <= summary["median"] <= summary["median_ci"]["high"]
    assert summary["match_share_ci"]["yes"]["low"] <= summary["match_shares"]["yes"]
    assert summary["distribution"] == {str(v): int((values == v).sum()) for v in range(1, 6)}
    assert sum(summary["distribution"].values()) == 24
    shares = a["match"].value_counts(normalize=True)
    for answer in ("yes", "partly", "no"):
        assert summary["match_shares"][answer] == pytest.approx(shares.get(answer, 0.0))


def test_interval_changes_with_the_seed_and_is_reproducible(fixed_ratings):
    values = fixed_ratings["satisfaction"].to_numpy()
    first = stats.bootstrap_interval(values, seed=1, n_resamples=500)
    assert first == stats.bootstrap_interval(values, seed=1, n_resamples=500)
    assert first != stats.bootstrap_interval(values, seed=2, n_resamples=500)


# --------------------------------------------------------------------------- pairwise


def test_paired_by_query_equals_wilcoxon_on_per_query_means(fixed_ratings):
    result = stats.compare_configurations(fixed_ratings, "B", "A", seed=SEED, n_resamples=N_RESAMPLES)
    means = fixed_ratings.groupby(["query", "config"])["satisfaction"].mean().unstack()
    # Rounded before ranking, so that equal differences tie (scipy then enumerates the 2**8 signs).
    differences = np.round((means["B"] - means["A"]).to_numpy(), 9)
    direct = sps.wilcoxon(differences)
    assert result["design"] == "paired by query"
    assert "queries were rated under both" in result["reason"]
    assert result["test"] == "Wilcoxon signed-rank"
    assert result["n"] == 8 and result["n_unit"] == "queries"
    assert result["mean_difference"] == pytest.approx(differences.mean())
    assert result["statistic"] == pytest.approx(direct.statistic)
    assert result["p_value"] == pytest.approx(direct.pvalue)
    assert result["ci_method"].startswith("two-way")
    assert result["ci"]["low"] < result["mean_difference"] < result["ci"]["high"]
    assert result["effect_size_name"] == "matched-pairs rank-biserial correlation"
    assert result["effect_size"] == pytest.approx(stats.matched_pairs_rank_biserial(differences))
    wins = int((differences > 0).sum())
    ties = int(np.isclose(differences, 0).sum())
    assert result["per_query"] == {"wins": wins, "ties": ties, "losses": 8 - wins - ties, "n_queries": 8}


def test_paired_by_participant_when_too_few_shared_queries():
    # 3 queries only, but 8 participants rated both configurations.
    rows = []
    for participant in range(8):
        for query in range(3):
            config = "A" if (participant + query) % 2 else "B"
            rows.append((config, participant, query, 2 + (config == "B") + (participant % 3 == 0), "yes"))
    ratings = frame(rows)
    result = stats.compare_configurations(ratings, "A", "B", seed=SEED, n_resamples=N_RESAMPLES)
    per_participant = ratings.groupby(["participant", "config"])["satisfaction"].mean().unstack()
    differences = (per_participant["A"] - per_participant["B"]).dropna().to_numpy()
    assert result["design"] == "paired by participant"
    assert result["n"] == len(differences) == 8
    assert result["mean_difference"] == pytest.approx(differences.mean())
    assert result["p_value"] == pytest.approx(sps.wilcoxon(differences).pvalue)


def test_holm_adjusted_p_values_equal_statsmodels(fixed_ratings):
    third = fixed_ratings[fixed_ratings["config"] == "A"].copy()
    third["config"] = "C"
    third["satisfaction"] = np.random.default_rng(9).integers(2, 6, len(third)).astype(float)
    ratings = pd.concat([fixed_ratings, third], ignore_index=True)
    comparisons = stats.pairwise_comparisons(ratings, ["A", "B", "C"], seed=SEED, n_resamples=200)
    assert [(c["a"], c["b"]) for c in comparisons] == [("A", "B"), ("A", "C"), ("B", "C")]
    raw = [c["p_value"] for c in comparisons]
    reject, adjusted, _, _ = multipletests(raw, alpha=0.05, method="holm")
    assert [c["p_holm"] for c in comparisons] == pytest.approx(list(adjusted))
    assert [c["significant"] for c in comparisons] == list(reject)
    # Holm never makes a p-value smaller.
    assert all(c["p_holm"] >= c["p_value"] for c in comparisons)


def test_holm_leaves_untested_comparisons_out():
    assert stats.holm_adjust([0.01, None, 0.04]) == pytest.approx([0.02, None, 0.04])


# --------------------------------------------------------------------------- hand-written effect sizes


def test_rank_biserial_matches_published_signed_rank_sums():
    """Sawyer, Washington University Math 408 (2009), 'Wilcoxon signed rank test' worked example
    (www.math.wustl.edu/~sawyer/m408s09/mprogs/WcxSignRankMr.txt): 11 before/after pairs with tied
    differences, published T− = 5.5 and T+ = 60.5. Kerby's simple difference formula then gives
    r = (60.5 − 5.5) / 66."""
    before = [26, 25, 59, 27, 34, 38, 51, 48, 39, 37, 30]
    after = [37, 29, 62, 25, 47, 40, 58, 52, 42, 34, 42]
    differences = np.subtract(after, before)
    assert stats.matched_pairs_rank_biserial(differences) == pytest.approx((60.5 - 5.5) / 66)
    assert sps.wilcoxon(after, before).statistic == pytest.approx(5.5)  # min(T+, T−), same ranks
    assert stats.matched_pairs_rank_biserial(-differences) == pytest.approx(-(60.5 - 5.5) / 66)
    assert stats.matched_pairs_rank_biserial([0, 0]) is None


def test_cliffs_delta_matches_the_published_tortoise_and_hare_example():
    """Wikipedia, 'Mann–Whitney U test', Illustration of calculation methods: finishing order
    T H H H H H T T T T T H gives U_T = 11 and U_H = 25 of 36 pairs, so hares beat tortoises with
    δ = (25 − 11) / 36. Scores: higher = finished earlier."""
    order = "THHHHHTTTTTH"
    score = {position: len(order) - position for position in range(len(order))}
    tortoises = [score[i] for i, animal in enumerate(order) if animal == "T"]
    hares = [score[i] for i, animal in enumerate(order) if animal == "H"]
    assert stats.cliffs_delta(hares, tortoises) == pytest.approx((25 - 11) / 36)
    assert stats.cliffs_delta(tortoises, hares) == pytest.approx((11 - 25) / 36)
    assert stats.cliffs_delta([3, 3], [3, 3]) == 0


def test_cliffs_delta_with_ties_equals_rescaled_mann_whitney_u():
    rng = np.random.default_rng(5)
    a, b = rng.integers(1, 6, 37), rng.integers(1, 6, 23)
    u = sps.mannwhitneyu(a, b).statistic
    assert stats.cliffs_delta(a, b) == pytest.approx(2 * u / (a.size * b.size) - 1)


def test_ranx_ndcg_matches_the_published_example():
    """Wikipedia, 'Discounted cumulative gain', Example: graded relevances 3, 2, 3, 0, 1, 2 shown,
    two more relevant documents (3 and 2) judged but not shown: nDCG6 = 0.785 with the pooled
    ideal (IDCG6 = 8.740), as the report's values are computed (surveys.offline.scoring, ranx)."""
    from surveys.offline import scoring

    grades = [3, 2, 3, 0, 1, 2, 3, 2]
    qrels = {"q": {f"d{i}": grade for i, grade in enumerate(grades)}}
    run = {"q": {f"d{i}": float(10 - i) for i in range(6)}}
    assert scoring.per_query(qrels, run, ["ndcg@6"])["ndcg@6"]["q"] == pytest.approx(6.861 / 8.740, abs=5e-4)


def test_relevance_metrics_per_configuration_use_the_pooled_ranx_values():
    """The per-rating values come from surveys.offline.pooled (ranx, the query's pooled ideal)."""
    from surveys.offline.pooled import RatedList, per_rating

    marks = {
        1: [True, True, False, False, True],
        2: [False, True, False, False, False],
        3: [True, True, True, True, False],
    }
    # Ratings 1 and 3 judge query 1 (arms A and B show products 1-5 and 3-7), rating 2 query 2.
    lists = [
        RatedList("0", 1, 1, [1, 2, 3, 4, 5], dict(zip([1, 2, 3, 4, 5], marks[1], strict=True))),
        RatedList("1", 2, 1, [11, 12, 13, 14, 15], dict(zip([11, 12, 13, 14, 15], marks[2], strict=True))),
        RatedList("2", 1, 2, [3, 4, 5, 6, 7], dict(zip([3, 4, 5, 6, 7], marks[3], strict=True))),
    ]
    values = per_rating(lists, ks=(5,))
    pooled = [{m: values[m][str(i)] for m in values} for i in range(3)] + [None]
    rows = [
        ("A", 1, 1, 4, "yes", marks[1]),
        ("A", 1, 2, 3, "no", marks[2]),
        ("B", 2, 1, 5, "yes", marks[3]),
        ("B", 2, 2, 2, "no", []),
    ]
    data = frame(rows)
    data["pooled"] = pooled
    result = stats.relevance_metrics(data, ["A", "B"], ks=(5,), n_resamples=200)
    assert result["available"]
    assert result["configs"]["A"]["n_ratings"] == 2
    assert result["configs"]["B"]["n_ratings"] == 1  # the empty list has no marks
    assert result["configs"]["A"]["precision@5"]["mean"] == pytest.approx((3 / 5 + 1 / 5) / 2)
    # Query 1's pool (majority, a tie goes to the lower grade): 1, 2 relevant (rating 0), 3, 4 split
    # (0 vs 1 → 0), 5 relevant for both, 6 relevant (rating 2), 7 not: 4 relevant products.
    ideal = 1 + 1 / np.log2(3) + 1 / np.log2(4) + 1 / np.log2(5)
    assert result["configs"]["B"]["ndcg@5"]["mean"] == pytest.approx(
        (1 / np.log2(4) + 1 / np.log2(5)) / ideal
    )
    assert values["ndcg@5"]["0"] == pytest.approx((1 + 1 / np.log2(3) + 1 / np.log2(6)) / ideal)


# --------------------------------------------------------------------------- agreement


def test_krippendorff_alpha_equals_the_published_worked_example():
    """Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
    Communication, University of Pennsylvania (https://repository.upenn.edu/asc_papers/43),
    example C: 4 observers, 12 units, values 1–5 with missing data. Published: nominal α = 0.743,
    ordinal α = 0.815, interval α = 0.849."""
    nan = np.nan
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    coders, units = np.nonzero(~np.isnan(data))
    values = data[coders, units]
    published = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}
    for level, alpha in published.items():
        result = stats.krippendorff_alpha(units, values, domain=(1, 2, 3, 4, 5), level=level)
        assert round(result["alpha"], 3) == alpha
    ordinal = stats.krippendorff_alpha(units, values, domain=(1, 2, 3, 4, 5), level="ordinal")
    assert ordinal["n_units"] == 11  # unit 12 has one value: not pairable
    assert ordinal["alpha"] == pytest.approx(0.8153875, abs=1e-6)


def test_rater_agreement_uses_query_config_cells():
    rows = [
        ("A", 1, 1, 4, "yes"),
        ("A", 2, 1, 4, "yes"),
        ("B", 1, 2, 2, "no"),
        ("B", 2, 2, 3, "partly"),
        ("A", 3, 3, 5, "yes"),  # single rating: not pairable
    ]
    agreement = stats.rater_agreement(frame(rows))
    assert agreement["satisfaction"]["n_units"] == 2
    assert agreement["satisfaction"]["n_values"] == 4
    assert agreement["satisfaction"]["alpha"] is not None
    assert agreement["match"]["n_units"] == 2


# --------------------------------------------------------------------------- simulated surveys


def simulate(effect: float, seed: int, queries: int = 30, raters: int = 30) -> pd.DataFrame:
    """A Latin-square survey: every participant rates every query once, alternating configurations;
    ratings = query difficulty + rater leniency + effect for B + noise, rounded into 1–5."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(3.0, 0.7, queries)
    leniency = rng.normal(0.0, 0.4, raters)
    rows = []
    for participant in range(raters):
        for query in range(queries):
            config = "B" if (participant + query) % 2 else "A"
            value = difficulty[query] + leniency[participant] + (effect if config == "B" else 0.0)
            value += rng.normal(0, 0.8)
            rows.append((config, participant, query, float(np.clip(np.rint(value), 1, 5)), "yes"))
    return frame(rows)


def test_a_truly_better_configuration_is_detected():
    report = stats.analyse(simulate(effect=0.6, seed=11), configs=["A", "B"], seed=0, n_resamples=500)
    (comparison,) = report["comparisons"]
    assert comparison["design"] == "paired by query"
    assert comparison["significant"] is True
    assert comparison["mean_difference"] < 0  # A − B: B is better
    assert comparison["ci"]["high"] < 0
    assert report["summary"][1].startswith("B was rated")
    assert "Holm" in report["summary"][1]


def test_a_null_survey_is_not_significant():
    report = stats.analyse(simulate(effect=0.0, seed=11), configs=["A", "B"], seed=0, n_resamples=500)
    (comparison,) = report["comparisons"]
    assert comparison["significant"] is False
    assert comparison["ci"]["low"] < 0 < comparison["ci"]["high"]
    assert "not a clear difference" in report["summary"][1]


# --------------------------------------------------------------------------- thin and bad data


def test_no_ratings_is_explained():
    empty = pd.DataFrame(columns=["config", "participant", "query", "satisfaction", "match"])
    report = stats.analyse(empty, configs=["A", "B"], n_resamples=100)
    assert report["n_ratings"] == 0
    assert any("No ratings" in line for line in report["explanations"])
    assert report["per_config"]["A"]["mean"] is None
    assert report["comparisons"][0]["p_value"] is None
    assert "nothing to compare" in report["comparisons"][0]["explanation"]
    assert report["agreement"]["satisfaction"]["alpha"] is None
    assert report["per_query"]["queries"] == []


def test_one_configuration_only_is_explained(fixed_ratings):
    report = stats.analyse(fixed_ratings[fixed_ratings["config"] == "A"], configs=["A"], n_resamples=100)
    assert report["comparisons"] == []
    assert any("Only one configuration" in line for line in report["explanations"])
    assert report["per_config"]["A"]["mean"] is not None


def test_all_ties_are_explained():
    rows = [(config, p, q, 3, "yes") for config in "AB" for p in range(4) for q in range(8)]
    report = stats.analyse(frame(rows), n_resamples=100)
    (comparison,) = report["comparisons"]
    assert comparison["p_value"] is None
    assert "tie" in comparison["explanation"]
    assert comparison["per_query"]["ties"] == 8
    assert report["per_config"]["A"]["mean_ci"] == {"low": 3.0, "high": 3.0, "note": "all values equal"}
    assert report["agreement"]["satisfaction"]["alpha"] is None
    assert "undefined" in report["agreement"]["satisfaction"]["explanation"]


def test_one_rater_is_explained():
    rows = [("A" if q % 2 else "B", 1, q, 1 + q % 5, "yes") for q in range(10)]
    report = stats.analyse(frame(rows), n_resamples=100)
    assert report["agreement"]["satisfaction"]["alpha"] is None
    assert any("one rater" in line for line in report["explanations"])
    (comparison,) = report["comparisons"]
    assert comparison["design"] == "between participants"  # no query rated under both, one participant
    assert "Too few" in comparison["warnings"][0]


def test_too_few_pairs_gives_no_test_and_a_warning():
    rows = [
        (config, p, q, 2 + (config == "B") * (q % 2), "no")
        for config in "AB"
        for p in range(2)
        for q in range(2)
    ]
    report = stats.analyse(frame(rows), n_resamples=100)
    (comparison,) = report["comparisons"]
    assert comparison["p_value"] is None
    assert comparison["explanation"]
    assert report["warnings"]
    assert "vs" in report["summary"][-1]


def test_missing_satisfaction_answers_are_explained():
    rows = [("A", 1, 1, np.nan, "yes"), ("B", 2, 1, np.nan, "no")]
    report = stats.analyse(frame(rows), n_resamples=100)
    assert report["per_config"]["A"]["match_shares"]["yes"] == 1.0
    assert any("No satisfaction" in line for line in report["explanations"])


def test_missing_columns_are_a_clear_error():
    with pytest.raises(ValueError, match="satisfaction"):
        stats.analyse(pd.DataFrame({"config": [], "participant": [], "query": [], "match": []}))
