"""Server-rendered plots of the weight-comparison report (matplotlib, Agg backend, no JavaScript).

Each plot function takes the report dict of `surveys.report.build_report` and returns a matplotlib
Figure (None when there is nothing to draw); `render_svg` gives inline SVG markup (text kept as
text, deterministic ids), `render_png` bytes for the download. Intervals are always drawn and
axes always labelled.

Labels come from user data (configuration names, participants' own queries): mathtext is off
(`text.parse_math`), so "$", "\\", "_" or "^" in a label are drawn as typed and can never make a
plot raise; control characters are replaced and very long labels shortened by `plain`.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text: smaller, searchable, readable by screen readers
        "svg.hashsalt": "fashionsite-report",  # deterministic element ids
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        # User text is text, never TeX: "bag for $$ cheap" must not reach the mathtext parser.
        "text.parse_math": False,
        "text.usetex": False,
    }
)
LABEL_MAX = 60

SATISFACTION_COLOURS = ("#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac")
ANNOTATE_MAX_CELLS = 120
MATCH_COLOURS = {"yes": "#2166ac", "partly": "#92c5de", "no": "#d6604d"}
SIGNIFICANT = "#2166ac"
NOT_SIGNIFICANT = "#777777"


def plain(text, limit: int = LABEL_MAX) -> str:
    """A user-supplied label made safe to draw: control characters become spaces, length is capped."""
    cleaned = "".join(" " if not character.isprintable() else character for character in str(text))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def comparison_colour(comparison: dict) -> str:
    """Blue when the Holm-adjusted interval excludes 0 (then Holm calls the difference significant)."""
    interval = comparison["ci_adjusted"]
    low, high = interval["low"], interval["high"]
    excludes = low is not None and high is not None and (low > 0 or high < 0)
    return SIGNIFICANT if excludes else NOT_SIGNIFICANT


def _labels(report: dict) -> tuple[list, list[str]]:
    statistics = report["statistics"]
    keys = statistics["configs"]
    return keys, [plain(f"{key}: {statistics['labels'][key]}") for key in keys]


def _error(centre, interval) -> tuple[float, float]:
    low, high = interval["low"], interval["high"]
    if centre is None or low is None or high is None:
        return 0.0, 0.0
    return max(centre - low, 0.0), max(high - centre, 0.0)


def mean_satisfaction(report: dict) -> Figure | None:
    """Mean satisfaction per configuration with its 95% bootstrap interval."""
    keys, names = _labels(report)
    per_config = report["statistics"]["per_config"]
    if not any(per_config[key]["mean"] is not None for key in keys):
        return None
    fig = Figure(figsize=(6.4, 0.55 * len(keys) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(keys))
    means = [per_config[key]["mean"] if per_config[key]["mean"] is not None else np.nan for key in keys]
    errors = np.array([_error(per_config[key]["mean"], per_config[key]["mean_ci"]) for key in keys]).T
    ax.errorbar(means, y, xerr=errors, fmt="o", color="#2166ac", ecolor="#2166ac", capsize=4)
    for index, key in enumerate(keys):
        if per_config[key]["mean"] is not None:
            ax.annotate(
                f"{per_config[key]['mean']:.2f} (n={per_config[key]['n_satisfaction']})",
                (per_config[key]["mean"], index),
                textcoords="offset points",
                xytext=(0, 7),
                ha="center",
            )
    ax.set_yticks(y, names)
    ax.set_ylim(-0.7, len(keys) - 0.3)
    ax.invert_yaxis()
    ax.set_xlim(1, 5)
    ax.set_xlabel("Mean satisfaction (1–5), 95% two-way (participant × query) bootstrap interval")
    ax.set_title("Satisfaction per configuration")
    fig.tight_layout()
    return fig


def distribution(report: dict) -> Figure | None:
    """Share of each satisfaction value 1–5 per configuration (stacked bars)."""
    keys, names = _labels(report)
    per_config = report["statistics"]["per_config"]
    if not any(per_config[key]["n_satisfaction"] for key in keys):
        return None
    fig = Figure(figsize=(6.4, 0.5 * len(keys) + 1.4))
    ax = fig.subplots()
    left = np.zeros(len(keys))
    for value, colour in zip(range(1, 6), SATISFACTION_COLOURS, strict=True):
        shares = np.array([per_config[key]["distribution_share"][str(value)] or 0.0 for key in keys])
        ax.barh(names, shares, left=left, color=colour, label=str(value), edgecolor="white")
        left += shares
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("Share of ratings")
    ax.set_title("Distribution of satisfaction ratings")
    ax.legend(title="rating", ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    fig.tight_layout()
    return fig


def match_shares(report: dict) -> Figure | None:
    """Yes / partly / no shares of "matches the style" per configuration."""
    keys, names = _labels(report)
    per_config = report["statistics"]["per_config"]
    if not any(per_config[key]["n_match"] for key in keys):
        return None
    fig = Figure(figsize=(6.4, 0.5 * len(keys) + 1.4))
    ax = fig.subplots()
    left = np.zeros(len(keys))
    for answer, colour in MATCH_COLOURS.items():
        shares = np.array([per_config[key]["match_shares"][answer] or 0.0 for key in keys])
        ax.barh(names, shares, left=left, color=colour, label=answer, edgecolor="white")
        left += shares
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("Share of answers")
    ax.set_title("Does the set match the style? (yes / partly / no)")
    ax.legend(ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    fig.tight_layout()
    return fig


def differences(report: dict) -> Figure | None:
    """Per pair, the Hodges–Lehmann shift with its Holm-adjusted interval (forest plot), zero marked:
    blue exactly when the interval excludes 0, which is exactly when Holm calls it significant."""
    statistics = report["statistics"]
    comparisons = [
        c
        for c in statistics["comparisons"]
        if c["hodges_lehmann"] is not None and c["ci_adjusted"]["low"] is not None
    ]
    if not comparisons:
        return None
    fig = Figure(figsize=(6.4, 0.55 * len(comparisons) + 1.3))
    ax = fig.subplots()
    y = np.arange(len(comparisons))
    for index, comparison in enumerate(comparisons):
        error = np.array(_error(comparison["hodges_lehmann"], comparison["ci_adjusted"])).reshape(2, 1)
        colour = comparison_colour(comparison)
        ax.errorbar(comparison["hodges_lehmann"], index, xerr=error, fmt="o", color=colour, capsize=4)
    ax.axvline(0, color="black", linewidth=0.8, linestyle="--")
    ax.set_yticks(y, [plain(f"{c['a']} − {c['b']}") for c in comparisons])
    ax.set_ylim(-0.7, len(comparisons) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("Shift in satisfaction (Hodges–Lehmann), Holm-adjusted interval; blue = significant")
    ax.set_title("Pairwise differences")
    fig.tight_layout()
    return fig


QUERY_FOREST_MAX_ROWS = 60


def query_forest(report: dict) -> Figure | None:
    """Per query, the difference of cell means (first − second configuration) with its 95% interval,
    one panel per pair, with the heterogeneity test in the panel title."""
    statistics = report["statistics"]
    pairs = [pair for pair in statistics.get("query_differences", []) if pair["queries"]]
    if not pairs:
        return None
    labels = dict(
        zip(statistics["per_query"]["queries"], statistics["per_query"].get("labels", []), strict=False)
    )
    rows = min(max(len(pair["queries"]) for pair in pairs), QUERY_FOREST_MAX_ROWS)
    fig = Figure(figsize=(4.2 * len(pairs) + 2.4, 0.24 * rows + 1.6))
    axes = np.atleast_1d(fig.subplots(1, len(pairs), sharey=False))
    for ax, pair in zip(axes, pairs, strict=True):
        shown = pair["queries"][:QUERY_FOREST_MAX_ROWS]
        y = np.arange(len(shown))
        centres = [row["difference"] for row in shown]
        errors = np.array([_error(row["difference"], row) for row in shown]).T
        ax.errorbar(centres, y, xerr=errors, fmt="o", color=SIGNIFICANT, markersize=3, capsize=2)
        ax.axvline(0, color="black", linewidth=0.8, linestyle="--")
        ax.set_yticks(
            y, [plain(labels.get(row["query"], f"query {row['query']}"), 40) for row in shown], fontsize=7
        )
        ax.invert_yaxis()
        test = pair["heterogeneity"]
        detail = (
            ""
            if test["p_value"] is None
            else f"\nheterogeneity Q = {test['q']:.1f}, df = {test['df']}, "
            + (f"p = {test['p_value']:#.3g}, I² = {100 * test['i2']:.0f}%")
        )
        ax.set_title(plain(f"{pair['a']} − {pair['b']}") + detail, fontsize=8)
        ax.set_xlabel("Difference of cell means, 95% interval")
    fig.tight_layout()
    return fig


def heat_map(report: dict) -> Figure | None:
    """Mean rating per query × configuration; empty cells are blank."""
    per_query = report["statistics"]["per_query"]
    if not per_query["queries"]:
        return None
    keys = per_query["configs"]
    means = np.array([[np.nan if v is None else v for v in row] for row in per_query["means"]], dtype=float)
    rows = len(per_query["queries"])
    fig = Figure(figsize=(1.2 * len(keys) + 3.6, 0.26 * rows + 1.4))
    ax = fig.subplots()
    # interpolation="none": the SVG embeds the small data image as is (no resampling: fast, crisp).
    image = ax.imshow(
        np.ma.masked_invalid(means), cmap="RdBu", vmin=1, vmax=5, aspect="auto", interpolation="none"
    )
    ax.set_xticks(np.arange(len(keys)), [plain(key) for key in keys])
    ax.set_yticks(
        np.arange(rows), [plain(label) for label in per_query["labels"]], fontsize=7 if rows > 25 else 8
    )
    # Values written in the cells while they stay legible; larger maps rely on the colour bar (and the JSON).
    if rows * len(keys) <= ANNOTATE_MAX_CELLS:
        for (i, j), value in np.ndenumerate(means):
            if not np.isnan(value):
                ax.text(
                    j,
                    i,
                    f"{value:.1f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if abs(value - 3) > 1.2 else "black",
                )
    ax.set_xlabel("Configuration")
    ax.set_ylabel("Query")
    ax.set_title("Mean satisfaction per query")
    colorbar = fig.colorbar(image, ax=ax, fraction=0.05)
    colorbar.set_label("Mean satisfaction (1–5)")
    fig.tight_layout()
    return fig


PLOTS = {
    "means": mean_satisfaction,
    "distribution": distribution,
    "match": match_shares,
    "differences": differences,
    "heatmap": heat_map,
    "queries": query_forest,
}

TITLES = {
    "means": "Mean satisfaction per configuration",
    "distribution": "Distribution of ratings",
    "match": "Matches the style",
    "differences": "Pairwise differences",
    "heatmap": "Per-query heat map",
    "queries": "Per-query differences",
}


def render_svg(fig: Figure) -> str:
    """The figure as an inline <svg> element (XML prolog and DOCTYPE removed)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def render_png(fig: Figure, dpi: int = 150) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def all_svgs(report: dict) -> dict[str, str | None]:
    """name → inline SVG, None where the data gives nothing to draw."""
    result = {}
    for name, build in PLOTS.items():
        fig = build(report)
        result[name] = render_svg(fig) if fig is not None else None
    return result
