"""Effect sizes and shift estimates, written here and tested against published worked examples."""

from __future__ import annotations

import numpy as np
from scipy import stats

from surveys.stats.common import rounded


def matched_pairs_rank_biserial(differences) -> float | None:
    """Matched-pairs rank-biserial correlation r = (T+ − T−) / (T+ + T−) (Kerby 2014, "simple
    difference formula"), T± the sums of the ranks of |d| over the positive / negative differences.
    Differences are rounded first (equal differences tie); zero differences are dropped, as in the
    Wilcoxon test it accompanies (zero_method="wilcox").
    +1: every pair favours the first configuration; −1: every pair the second."""
    d = rounded(differences)
    d = d[~np.isnan(d) & (d != 0)]
    if d.size == 0:
        return None
    ranks = stats.rankdata(np.abs(d))
    positive = ranks[d > 0].sum()
    negative = ranks[d < 0].sum()
    return float((positive - negative) / (positive + negative))


def cliffs_delta(a, b) -> float | None:
    """Cliff's delta δ = (#{a_i > b_j} − #{a_i < b_j}) / (n_a · n_b) (Cliff 1993): the probability that
    a value of the first group beats one of the second minus the reverse. O(n log n)."""
    a = rounded(a)
    b = np.sort(rounded(b))
    if a.size == 0 or b.size == 0:
        return None
    below = np.searchsorted(b, a, side="left")  # b_j < a_i
    not_above = np.searchsorted(b, a, side="right")  # b_j <= a_i
    greater = below.sum()
    less = (b.size - not_above).sum()
    return float((greater - less) / (a.size * b.size))


def walsh_averages(differences) -> np.ndarray:
    """All (d_i + d_j) / 2 for i ≤ j: the one-sample Hodges–Lehmann estimate is their median and the
    signed-rank test's confidence interval has two of them as its ends."""
    d = rounded(differences)
    d = d[~np.isnan(d)]
    i, j = np.triu_indices(d.size)
    return rounded((d[i] + d[j]) / 2)


def hodges_lehmann(differences) -> float | None:
    """Hodges–Lehmann shift of paired differences: the median of the Walsh averages (Hollander,
    Wolfe & Chicken, Nonparametric Statistical Methods, 3rd ed., §3.2)."""
    averages = walsh_averages(differences)
    return float(np.median(averages)) if averages.size else None


def pairwise_differences(a, b) -> np.ndarray:
    a, b = rounded(a), rounded(b)
    return rounded(np.subtract.outer(a[~np.isnan(a)], b[~np.isnan(b)]).ravel())


def hodges_lehmann_two_sample(a, b) -> float | None:
    """Two-sample Hodges–Lehmann shift: the median of all a_i − b_j (pairs the rank-sum test inverts)."""
    differences = pairwise_differences(a, b)
    return float(np.median(differences)) if differences.size else None
