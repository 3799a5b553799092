"""The statistical audit's findings (issue 13), each reproduced: ties in the signed-rank test,
interval coverage under participant and query effects, between-subjects false positives, intervals
that agree with Holm's decision, p-values to three significant digits, and what the paired
difference means. No database."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from surveys import stats
from surveys.stats import intervals, pairwise

# The audit's 8-query example: 3 ratings per cell, cell means in thirds.
TIE_A = [[2, 5, 2], [2, 3, 4], [3, 5, 5], [5, 1, 5], [5, 1, 4], [1, 5, 4], [5, 3, 5], [4, 1, 4]]
TIE_B = [[4, 1, 3], [3, 1, 2], [5, 1, 3], [4, 4, 1], [1, 1, 2], [3, 5, 3], [2, 4, 2], [2, 5, 3]]


def tie_ratings() -> pd.DataFrame:
    rows = []
    for query, (cell_a, cell_b) in enumerate(zip(TIE_A, TIE_B, strict=True)):
        for rater, (value_a, value_b) in enumerate(zip(cell_a, cell_b, strict=True)):
            rows.append(("A", f"a{query}-{rater}", query, float(value_a), "yes"))
            rows.append(("B", f"b{query}-{rater}", query, float(value_b), "yes"))
    return pd.DataFrame(rows, columns=["config", "participant", "query", "satisfaction", "match"])


def test_equal_differences_tie_in_the_signed_rank_test():
    result = stats.compare_configurations(tie_ratings(), "A", "B", n_resamples=200)
    assert result["design"] == "paired by query"
    # Float cell means give 1/3 − 2/3 two different values: the untied ranks gave p = 0.0469.
    assert result["p_value"] == pytest.approx(0.0625)
    # The effect size ranks the same rounded differences: thirds give what whole numbers give.
    float_differences = np.mean(TIE_A, axis=1) - np.mean(TIE_B, axis=1)
    whole = np.sum(TIE_A, axis=1) - np.sum(TIE_B, axis=1)
    assert stats.matched_pairs_rank_biserial(float_differences) == stats.matched_pairs_rank_biserial(whole)


def test_paired_t_sign_flip_and_hodges_lehmann_are_reported_beside_wilcoxon():
    result = stats.compare_configurations(tie_ratings(), "A", "B", n_resamples=200)
    differences = np.round(np.mean(TIE_A, axis=1) - np.mean(TIE_B, axis=1), 9)
    tests = {test["test"]: test for test in result["other_tests"]}
    assert tests["paired t"]["p_value"] == pytest.approx(sps.ttest_1samp(differences, 0).pvalue)
    # 2**8 sign patterns: the permutation test is exact.
    signs = np.array(np.meshgrid(*[[-1, 1]] * 8)).reshape(8, -1).T
    flipped = np.abs((signs * differences).mean(axis=1))
    exact = np.mean(flipped >= abs(differences.mean()) - 1e-12)
    assert tests["sign-flip permutation"]["p_value"] == pytest.approx(exact)
    i, j = np.triu_indices(8)
    assert result["hodges_lehmann"] == pytest.approx(np.median((differences[i] + differences[j]) / 2))
    low, high = result["hl_ci"]["low"], result["hl_ci"]["high"]
    assert low <= result["hodges_lehmann"] <= high
    # The interval inverts the test: p(0) = 0.0625 ≥ 0.05, so 0 is inside.
    assert low <= 0 <= high


def crossed(seed: int, *, effect=0.0, interaction=0.0, configs="AB", queries=20, raters=30) -> pd.DataFrame:
    """Latin square: participant p rates query q under configs[(p + q) % k]; rating = 3 + participant
    + query + effect (second config) + configuration-by-query + noise, rounded into 1–5."""
    rng = np.random.default_rng(seed)
    person = rng.normal(0, 0.5, raters)
    item = rng.normal(0, 0.7, queries)
    by_query = rng.normal(0, interaction, (len(configs), queries))
    p, q = np.meshgrid(np.arange(raters), np.arange(queries), indexing="ij")
    p, q = p.ravel(), q.ravel()
    c = (p + q) % len(configs)
    value = 3 + person[p] + item[q] + effect * (c == 1) + by_query[c, q] + rng.normal(0, 0.8, p.size)
    return pd.DataFrame(
        {
            "config": np.array(list(configs))[c],
            "participant": p,
            "query": q,
            "satisfaction": np.clip(np.rint(value), 1, 5),
            "match": "yes",
        }
    )


def population_mean(draws: int = 2_000_000) -> float:
    """E[clip(round(3 + u + v + e))] for the generator above (no effect), by Monte Carlo."""
    rng = np.random.default_rng(99)
    value = 3 + rng.normal(0, 0.5, draws) + rng.normal(0, 0.7, draws) + rng.normal(0, 0.8, draws)
    return float(np.clip(np.rint(value), 1, 5).mean())


@pytest.mark.slow
def test_two_way_bootstrap_covers_the_mean_under_participant_and_query_effects():
    truth = population_mean()
    covered = 0
    replications = 200
    for seed in range(replications):
        data = crossed(seed)
        arm = data[data["config"] == "A"]
        interval = intervals.two_way_interval(
            arm["satisfaction"], arm["participant"], arm["query"], seed=seed, n_resamples=1000
        )
        covered += interval.low <= truth <= interval.high
        if seed == 0:
            # Resampling ratings as if independent: the old, far too narrow interval.
            naive = stats.bootstrap_interval(arm["satisfaction"], seed=seed, n_resamples=1000)
            assert (naive.high - naive.low) < 0.6 * (interval.high - interval.low)
    assert covered / replications >= 0.93


@pytest.mark.slow
def test_between_participant_design_keeps_false_positives_near_five_percent():
    positives = 0
    replications = 300
    for seed in range(replications):
        rng = np.random.default_rng(seed)
        rows = []
        person = rng.normal(0, 0.5, 40)
        item = rng.normal(0, 0.7, 10)
        for participant in range(40):  # each participant sees one configuration only
            config = "A" if participant % 2 else "B"
            for query in range(10):
                value = 3 + person[participant] + item[query] + rng.normal(0, 0.8)
                rows.append((config, participant, query, float(np.clip(np.rint(value), 1, 5)), "yes"))
        data = pd.DataFrame(rows, columns=["config", "participant", "query", "satisfaction", "match"])
        result = stats.compare_configurations(data, "A", "B", pairing="none", n_resamples=50)
        positives += result["p_value"] < 0.05
    assert positives / replications <= 0.07


def test_between_participant_design_uses_participant_means():
    data = crossed(3, raters=16)
    result = stats.compare_configurations(data, "A", "B", pairing="none", n_resamples=200)
    means = data.groupby(["config", "participant"])["satisfaction"].mean()
    direct = sps.mannwhitneyu(np.round(means["A"], 9), np.round(means["B"], 9), alternative="two-sided")
    assert result["design"] == "between participants"
    assert result["n_unit"] == "participants"
    assert result["n"] == means["A"].size + means["B"].size
    assert result["p_value"] == pytest.approx(direct.pvalue)
    assert result["mean_difference"] == pytest.approx(means["A"].mean() - means["B"].mean())


@pytest.mark.slow
@pytest.mark.parametrize("effect", [0.0, 0.3])
def test_adjusted_intervals_agree_with_holm_and_the_plot_colour(effect):
    from surveys import plots

    checked = 0
    for seed in range(12):
        data = crossed(seed, effect=effect, interaction=0.3, configs="ABC", queries=12, raters=18)
        comparisons = stats.pairwise_comparisons(data, ["A", "B", "C"], n_resamples=100)
        for comparison in comparisons:
            if comparison["p_holm"] is None:
                continue
            checked += 1
            interval = comparison["ci_adjusted"]
            excludes_zero = interval["low"] > 0 or interval["high"] < 0
            assert excludes_zero == comparison["significant"], comparison
            assert comparison["adjusted_confidence"] >= 0.95
            colour = plots.comparison_colour(comparison)
            assert colour == (plots.SIGNIFICANT if excludes_zero else plots.NOT_SIGNIFICANT)
    assert checked >= 30


def test_p_values_have_three_significant_digits():
    assert stats.format_p(0.0515) == "p = 0.0515"
    assert stats.format_p(0.0396) == "p = 0.0396"
    assert stats.format_p(0.5) == "p = 0.500"
    assert stats.format_p(0.00123) == "p = 0.00123"
    assert stats.format_p(0.0004) == "p < 0.001"


def test_the_sentence_says_the_difference_is_a_per_query_average():
    report = stats.analyse(crossed(1, effect=0.6), configs=["A", "B"], n_resamples=300, model=False)
    (comparison,) = report["comparisons"]
    assert "average over queries" in comparison["difference_meaning"]
    line = report["summary"][1]
    assert line.startswith("B was rated") and "on average per query" in line
    assert "Holm-adjusted" in line and "Hodges–Lehmann" in line


def test_mixed_model_recovers_a_known_effect_and_its_variance_components():
    """Simulation with known truth: 3 configurations, B = +0.5; participant sd 0.5, query sd 0.7,
    configuration-by-query sd 0.3, noise sd 0.8 (no rounding, so the model is exactly right)."""
    rng = np.random.default_rng(2024)
    raters, queries = 36, 24
    person, item = rng.normal(0, 0.5, raters), rng.normal(0, 0.7, queries)
    by_query = rng.normal(0, 0.3, (3, queries))
    rows = []
    for p in range(raters):
        for q in range(queries):
            c = (p + q) % 3
            value = 3 + person[p] + item[q] + 0.5 * (c == 1) + by_query[c, q] + rng.normal(0, 0.8)
            rows.append(("ABC"[c], p, q, value, "yes"))
    data = pd.DataFrame(rows, columns=["config", "participant", "query", "satisfaction", "match"])
    from surveys.stats.models import mixed_model

    fit = mixed_model(data, ["A", "B", "C"])
    contrast = {(c["a"], c["b"]): c for c in fit["contrasts"]}
    assert contrast[("A", "B")]["estimate"] == pytest.approx(-0.5, abs=0.25)
    assert contrast[("A", "B")]["significant"] is True
    assert contrast[("A", "C")]["significant"] is False
    components = fit["variance_components"]
    assert components["residual"] == pytest.approx(0.64, rel=0.2)
    assert components["participant"] == pytest.approx(0.25, rel=0.6)
    assert components["query"] == pytest.approx(0.49, rel=0.7)
    assert 0 < components["config_by_query"] < 0.3
    adjusted = contrast[("A", "B")]["ci_adjusted"]
    assert adjusted["high"] < 0


def test_small_surveys_fit_dense_matrices_with_the_estimates_of_the_sparse_fit(monkeypatch):
    """Up to DENSE_MODEL_MAX_RATINGS ratings the mixed model is fitted with dense matrices (faster);
    it must report what the sparse fit of larger surveys would report for the same ratings."""
    from surveys.stats import models

    data = crossed(5, effect=0.6, interaction=0.3, configs="ABC", queries=9, raters=6)
    assert len(data) <= models.DENSE_MODEL_MAX_RATINGS
    dense = models.mixed_model(data, ["A", "B", "C"])
    monkeypatch.setattr(models, "DENSE_MODEL_MAX_RATINGS", 0)
    sparse = models.mixed_model(data, ["A", "B", "C"])
    assert dense["converged"] and sparse["converged"]
    for key in "ABC":
        assert dense["means"][key] == pytest.approx(sparse["means"][key], rel=1e-4), key
    for key in ("participant", "query", "config_by_query", "residual"):
        assert dense["variance_components"][key] == pytest.approx(
            sparse["variance_components"][key], rel=1e-3, abs=1e-6
        ), key
    for d, s in zip(dense["contrasts"], sparse["contrasts"], strict=True):
        assert (d["a"], d["b"], d["significant"]) == (s["a"], s["b"], s["significant"])
        assert d["estimate"] == pytest.approx(s["estimate"], rel=1e-4)
        assert d["p_holm"] == pytest.approx(s["p_holm"], rel=1e-3)


def test_per_query_differences_and_heterogeneity():
    data = crossed(4, effect=0.0, interaction=1.2, queries=10, raters=30)
    result = stats.query_differences(data, "A", "B")
    assert len(result["queries"]) == 10
    for row in result["queries"]:
        assert row["low"] < row["difference"] < row["high"]
    assert result["heterogeneity"]["p_value"] < 0.05
    calm = stats.query_differences(crossed(4, queries=10, raters=30), "A", "B")
    assert calm["heterogeneity"]["p_value"] > result["heterogeneity"]["p_value"]


def test_alpha_has_intervals_per_configuration_and_query():
    data = crossed(5, queries=6, raters=30)
    agreement = stats.rater_agreement(data, n_resamples=100)
    overall = agreement["satisfaction"]
    assert overall["ci"]["low"] <= overall["alpha"] <= overall["ci"]["high"]
    assert set(agreement["per_config"]) == {"A", "B"}
    assert set(agreement["per_query"]) == {str(q) for q in range(6)}
    per_config = agreement["per_config"]["A"]
    assert per_config["ci"]["low"] <= per_config["alpha"] <= per_config["ci"]["high"]


def test_rater_diagnostics_flag_straight_lining():
    data = crossed(6, queries=8, raters=10)
    data.loc[data["participant"] == 0, "satisfaction"] = 3.0
    rows = {row["participant"]: row for row in stats.rater_diagnostics(data)}
    assert rows["0"]["flags"] == ["same value on every task"]
    assert rows["0"]["longest_run"] == 8
    assert not rows["1"]["flags"] or rows["1"]["longest_run"] < 8


def test_holm_levels_invert_holm_decisions():
    p_values = [0.001, 0.04, 0.02, None]
    levels = pairwise.holm_levels(p_values)
    # Holm: 0.001·3 < 0.05 reject; 0.02·2 = 0.04 < 0.05 reject; 0.04·1 < 0.05 reject.
    assert levels == pytest.approx([0.05 / 3, 0.05, 0.05 / 2, None])
    kept = pairwise.holm_levels([0.001, 0.03, 0.04])
    # 0.03·2 = 0.06 ≥ 0.05: Holm stops; both kept ones get α / (m − r) = 0.05 / 2.
    assert kept == pytest.approx([0.05 / 3, 0.025, 0.025])
