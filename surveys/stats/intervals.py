"""Interval construction: the two-way (participant × query) cluster bootstrap used for every mean,
share, precision@k and nDCG of the report, the one-sample / two-sample percentile bootstrap used
on unit-level values (participant means), and intervals obtained by inverting a test.

Why two-way: a rating shares its participant (lenient or strict) and its query (easy or hard)
with other ratings, so ratings are not independent. Resampling ratings one by one gave nominal
95 % intervals that covered the truth two times in three. Here each bootstrap replicate draws
participants with replacement and, independently, queries with replacement; a rating enters with
weight (times its participant was drawn) × (times its query was drawn) — the "pigeonhole"
bootstrap of Owen (2007, Annals of Applied Statistics 1(2)), known to be mildly conservative for
crossed designs. Percentile intervals from those replicates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from surveys.stats.common import CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, rounded

TWO_WAY = "two-way (participant × query) cluster bootstrap, percentile"


def _codes(labels) -> tuple[np.ndarray, int]:
    _, codes = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True)
    return codes.astype(int), int(codes.max()) + 1 if codes.size else 0


def _draws(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """n_resamples × n counts: how often each cluster is drawn in each replicate (n draws with
    replacement per replicate, counted with one bincount)."""
    picks = rng.integers(0, n, size=(n_resamples, n)) + n * np.arange(n_resamples)[:, None]
    return np.bincount(picks.ravel(), minlength=n_resamples * n).reshape(n_resamples, n).astype(float)


class TwoWayResampler:
    """Replicate weights of ratings grouped by participant and query. `totals(values)` gives, per
    replicate, the weighted sum Σ w_p(b) · w_q(b) · value over the ratings, computed on the
    participant × query table of sums, so the cost does not grow with the number of ratings."""

    def __init__(self, participants, queries, *, seed: int, n_resamples: int):
        self.p, n_p = _codes(participants)
        self.q, n_q = _codes(queries)
        rng = np.random.default_rng(seed)
        self.wp = _draws(n_p, n_resamples, rng) if n_p else np.zeros((n_resamples, 0))
        self.wq = _draws(n_q, n_resamples, rng) if n_q else np.zeros((n_resamples, 0))
        self.shape = (n_p, n_q)

    def totals(self, values) -> np.ndarray:
        table = np.zeros(self.shape)
        np.add.at(table, (self.p, self.q), np.asarray(values, dtype=float))
        return ((self.wp @ table) * self.wq).sum(axis=1)

    def means(self, values) -> np.ndarray:
        """Per replicate, the weighted mean of values (NaN where a replicate drew no rating)."""
        weight = self.totals(np.ones(len(self.p)))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(weight > 0, self.totals(values) / weight, np.nan)

    def medians(self, values) -> np.ndarray:
        """Per replicate, the weighted (lower) median of discrete values, from the weighted share
        of every value (replicates that drew no rating are left out)."""
        levels = np.unique(values)
        weights = np.stack([self.totals(values == level) for level in levels], axis=1)
        total = weights.sum(axis=1)
        valid = total > 0
        cumulative = np.cumsum(weights[valid], axis=1) / total[valid, None]
        # Lower median: the first value whose cumulative share reaches one half.
        return levels[np.argmax(cumulative >= 0.5 - 1e-12, axis=1)]


def percentile(replicates, confidence: float = CONFIDENCE) -> tuple[float, float]:
    finite = np.asarray(replicates, dtype=float)
    finite = finite[np.isfinite(finite)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def _degenerate(values) -> Interval | None:
    if values.size == 0:
        return Interval(None, None, "no values")
    if values.size == 1:
        return Interval(None, None, "one value: no interval")
    if np.ptp(values) == 0:
        return Interval(float(values[0]), float(values[0]), "all values equal")
    return None


def two_way_interval(
    values,
    participants,
    queries,
    statistic: str = "mean",
    *,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Two-way cluster bootstrap percentile interval of the mean of per-rating values (a rating,
    a 0/1 share indicator, a precision@k or nDCG@k), or of the median of discrete values (1–5
    ratings: each replicate's weighted median from the weighted share of every value); NaN values
    are left out."""
    values = np.asarray(values, dtype=float)
    keep = ~np.isnan(values)
    values = values[keep]
    degenerate = _degenerate(values)
    if degenerate is not None:
        return degenerate
    resampler = TwoWayResampler(
        np.asarray(participants)[keep], np.asarray(queries)[keep], seed=seed, n_resamples=n_resamples
    )
    replicates = {"mean": resampler.means, "median": resampler.medians}[statistic](values)
    return Interval(*percentile(replicates, confidence))


def two_way_difference_replicates(
    unit_a, other_a, values_a, unit_b, other_b, values_b, *, seed: int, n_resamples: int
) -> np.ndarray:
    """Replicates of the paired difference: mean over units (queries, or participants) of
    (unit's mean under a − unit's mean under b), with units and the crossed factor (participants,
    or queries) both resampled. A unit drawn without ratings under a or b in a replicate is left
    out of that replicate's average."""
    units = np.concatenate([np.asarray(unit_a, dtype=str), np.asarray(unit_b, dtype=str)])
    others = np.concatenate([np.asarray(other_a, dtype=str), np.asarray(other_b, dtype=str)])
    unit_codes, n_units = _codes(units)
    other_codes, n_other = _codes(others)
    rng = np.random.default_rng(seed)
    w_unit = _draws(n_units, n_resamples, rng)
    w_other = _draws(n_other, n_resamples, rng)
    split = len(values_a)

    def unit_means(codes_u, codes_o, values):
        sums = np.zeros((n_other, n_units))
        counts = np.zeros((n_other, n_units))
        np.add.at(sums, (codes_o, codes_u), values)
        np.add.at(counts, (codes_o, codes_u), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (w_other @ sums) / (w_other @ counts)

    mean_a = unit_means(unit_codes[:split], other_codes[:split], np.asarray(values_a, dtype=float))
    mean_b = unit_means(unit_codes[split:], other_codes[split:], np.asarray(values_b, dtype=float))
    difference = mean_a - mean_b
    present = np.isfinite(difference) & (w_unit > 0)
    weights = np.where(present, w_unit, 0.0)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present, difference * weights, 0.0).sum(axis=1) / total


def bootstrap_interval(
    values,
    statistic: str = "mean",
    *,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Percentile bootstrap interval of the mean or median of independent unit-level values (e.g.
    participant means): `scipy.stats.bootstrap(..., method="percentile")` with a seeded generator."""
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    degenerate = _degenerate(data)
    if degenerate is not None:
        return degenerate
    result = stats.bootstrap(
        (data,),
        {"mean": np.mean, "median": np.median}[statistic],
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return Interval(float(result.confidence_interval.low), float(result.confidence_interval.high))


def bootstrap_difference_interval(
    a,
    b,
    *,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Percentile bootstrap interval of mean(a) − mean(b) for two independent samples of unit-level
    values (each resampled on its own)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size < 2 or b.size < 2:
        return Interval(None, None, "fewer than two units in a group: no interval")
    if np.ptp(np.concatenate([a, b])) == 0:
        return Interval(0.0, 0.0, "all values equal")
    result = stats.bootstrap(
        (a, b),
        lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return Interval(float(result.confidence_interval.low), float(result.confidence_interval.high))


def invert_test(p_of_shift: Callable[[float], float], candidates, centre: float, alpha: float) -> Interval:
    """The set of shifts δ that a test does not reject at level alpha, {δ : p(δ) ≥ alpha}, as an
    interval: a confidence interval at level 1 − alpha that agrees with the test by construction.

    `candidates` are the points where p(δ) can change (Walsh averages for the signed-rank test,
    pairwise differences for the rank-sum test); the search visits them and the midpoints between
    them, bisecting on each side of `centre` (p(δ) rises towards the centre and falls after it).
    The interval is then checked against p(0) itself, so "the interval excludes 0" and "p(0) <
    alpha" always agree (ties can make the accepted set ragged at its edges)."""
    points = np.unique(rounded(candidates))
    if points.size == 0:
        return Interval(None, None, "nothing to invert")
    spread = max(points[-1] - points[0], 1.0)
    grid = np.unique(
        np.concatenate([points, (points[:-1] + points[1:]) / 2, [points[0] - spread, points[-1] + spread]])
    )
    cache: dict[float, bool] = {}

    def accepted(index: int) -> bool:
        value = float(grid[index])
        if value not in cache:
            cache[value] = p_of_shift(value) >= alpha
        return cache[value]

    middle = int(np.clip(np.searchsorted(grid, centre), 0, grid.size - 1))
    if not accepted(middle):
        middle = int(np.argmin(np.abs(grid - centre)))
    lo, hi = 0, middle  # first accepted index in [lo, middle]
    while lo < hi:
        mid = (lo + hi) // 2
        if accepted(mid):
            hi = mid
        else:
            lo = mid + 1
    low_index = lo
    lo, hi = middle, grid.size - 1  # last accepted index in [middle, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if accepted(mid):
            lo = mid
        else:
            hi = mid - 1
    low, high = float(grid[low_index]), float(grid[lo])
    note = ""
    zero_accepted = p_of_shift(0.0) >= alpha
    if zero_accepted and not low <= 0 <= high:
        low, high = min(low, 0.0), max(high, 0.0)
        note = "widened to 0: ties make the accepted shifts ragged at the edge"
    elif not zero_accepted and low <= 0 <= high:
        inside = grid[(grid > 0) & (grid <= high)] if centre > 0 else grid[(grid < 0) & (grid >= low)]
        kept = [float(g) for g in inside if p_of_shift(float(g)) >= alpha]
        if centre > 0 and kept:
            low = min(kept)
        elif kept:
            high = max(kept)
        note = "narrowed at 0: ties make the accepted shifts ragged at the edge"
    return Interval(low, high, note)
