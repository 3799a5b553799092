"""The report's plain-language lines."""

from __future__ import annotations

from surveys.stats.common import fmt, format_p

UNIT_PHRASE = {
    "paired by query": "on average per query",
    "paired by participant": "on average per participant",
    "between participants": "comparing participants' mean ratings",
}


def _oriented(interval: dict, flip: bool) -> tuple[float | None, float | None]:
    low, high = interval["low"], interval["high"]
    if not flip:
        return low, high
    return (None if high is None else -high), (None if low is None else -low)


def comparison_sentence(comparison: dict, labels: dict) -> str:
    """'B was rated 0.31 points higher than A on average per query (95% CI 0.12 to 0.50, two-way
    bootstrap); shift 0.33, Holm-adjusted 97.5% CI 0.08 to 0.58 (Wilcoxon signed-rank p = 0.0123,
    Holm); n = 20 queries.' The adjusted interval excludes 0 exactly when the difference is called
    significant."""
    a, b = labels.get(comparison["a"], comparison["a"]), labels.get(comparison["b"], comparison["b"])
    diff = comparison["mean_difference"]
    if diff is None or comparison["p_holm"] is None:
        return f"{a} vs {b}: {comparison['explanation'] or 'not enough data to compare.'}"
    flip = diff < 0
    if round(diff, 9) == 0:
        direction = f"{a} and {b} were rated the same {UNIT_PHRASE[comparison['design']]}"
    else:
        higher, lower = (b, a) if flip else (a, b)
        direction = f"{higher} was rated {abs(diff):.2f} points higher than {lower} {UNIT_PHRASE[comparison['design']]}"
    low, high = _oriented(comparison["ci"], flip)
    shift = comparison["hodges_lehmann"]
    adj_low, adj_high = _oriented(comparison["ci_adjusted"], flip)
    confidence = comparison["adjusted_confidence"]
    sentence = (
        f"{direction} (95% CI {fmt(low)} to {fmt(high)}); Hodges–Lehmann shift "
        f"{fmt(None if shift is None else (-shift if flip else shift))}, Holm-adjusted "
        f"{100 * confidence:.1f}% CI {fmt(adj_low)} to {fmt(adj_high)} ({comparison['test']} "
        f"{format_p(comparison['p_holm'])}, Holm); n = {comparison['n']} {comparison['n_unit']}"
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
            f"(95% CI {fmt(ci['low'])} to {fmt(ci['high'])}, two-way bootstrap over participants and "
            f"queries), from {entry['n_satisfaction']} ratings by {entry['n_raters']} raters."
        )
    ordered = sorted(
        comparisons, key=lambda c: (not c["significant"], c["p_holm"] if c["p_holm"] is not None else 2)
    )
    lines.extend(comparison_sentence(comparison, labels) for comparison in ordered)
    return lines
