"""Side-by-side preference: balanced design, win/tie/loss with sign tests (Holm), and Bradley–Terry
strengths that match a published fit."""

from collections import Counter

import numpy as np
import pytest

from surveys.sidebyside import design, stats

# Stigler (1994) journal citations as used by the BradleyTerry2 R package (Firth & Turner, vignette
# "Bradley-Terry models in R", `citations`): row = cited journal (the winner), column = citing.
JOURNALS = ["Biometrika", "Comm Statist", "JASA", "JRSS-B"]
CITATIONS = np.array([[714, 730, 498, 221], [33, 425, 68, 17], [320, 813, 1072, 142], [284, 276, 325, 188]])
# BTm(..., refcat = "Biometrika") abilities published there.
PUBLISHED = {"Biometrika": 0.0, "Comm Statist": -2.9491, "JASA": -0.4796, "JRSS-B": 0.2690}


def test_bradley_terry_strengths_match_the_published_citations_fit():
    comparisons = [
        stats.Comparison(JOURNALS[i], JOURNALS[j], stats.LEFT)
        for i in range(4)
        for j in range(4)
        if i != j
        for _ in range(CITATIONS[i, j])
    ]
    fitted = stats.bradley_terry(comparisons, n_resamples=20)
    for journal, ability in PUBLISHED.items():
        relative = fitted[journal]["strength"] - fitted["Biometrika"]["strength"]
        assert relative == pytest.approx(ability, abs=5e-4), journal
        assert fitted[journal]["low"] <= fitted[journal]["strength"] <= fitted[journal]["high"]


def test_win_tie_loss_and_sign_tests_per_pair():
    comparisons = (
        [stats.Comparison("A", "B", stats.LEFT)] * 14
        + [stats.Comparison("B", "A", stats.LEFT)] * 2
        + [stats.Comparison("A", "B", stats.BOTH)] * 3
        + [stats.Comparison("B", "A", stats.NEITHER)]
        + [stats.Comparison("A", "C", stats.RIGHT)] * 5
        + [stats.Comparison("C", "A", stats.RIGHT)] * 5
    )
    rows = {(r["arm_a"], r["arm_b"]): r for r in stats.pair_table(comparisons)}
    ab = rows[("A", "B")]
    assert (ab["wins"], ab["ties"], ab["losses"], ab["n"]) == (14, 4, 2, 20)
    from scipy.stats import binomtest

    assert ab["p_value"] == pytest.approx(binomtest(14, 16).pvalue)
    assert ab["wins_share"]["low"] < 0.7 < ab["wins_share"]["high"]
    ac = rows[("A", "C")]
    assert (ac["wins"], ac["losses"]) == (5, 5) and ac["p_value"] == 1.0
    assert ab["p_holm"] == pytest.approx(min(1.0, 2 * ab["p_value"]))


@pytest.mark.parametrize("n_arms", [2, 3, 4])
def test_pairs_are_balanced_per_query_and_sides_per_arm(n_arms):
    arms = ["A", "B", "C", "D"][:n_arms]
    tasks = design.pair_tasks(arms, n_queries=7, n_participants=23, seed=5)
    for q in range(7):
        counts = Counter(tuple(sorted((t.left, t.right))) for t in tasks if t.query == q)
        every = [counts.get(pair, 0) for pair in design.arm_pairs(arms)]
        assert max(every) - min(every) <= 1
    for pair in design.arm_pairs(arms):
        left_first = sum((t.left, t.right) == pair for t in tasks)
        right_first = sum((t.right, t.left) == pair for t in tasks)
        assert abs(left_first - right_first) <= 1
    for arm in arms:
        left = sum(t.left == arm for t in tasks)
        right = sum(t.right == arm for t in tasks)
        assert abs(left - right) <= n_arms - 1
    assert design.pair_tasks(arms, n_queries=7, n_participants=23, seed=5) == tasks
    with pytest.raises(ValueError, match="at least two arms"):
        design.pair_tasks(["A"], n_queries=1, n_participants=1)
