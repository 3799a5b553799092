"""Server-rendered plots of the weight-comparison report (matplotlib, Agg backend, no JavaScript).

Each plot function takes the report dict of `surveys.report.build_report` and returns a matplotlib
Figure (None when there is nothing to draw); `render_svg` gives inline SVG markup (text kept as
text, deterministic ids), `render_png` bytes for the download. Intervals are always drawn and
axes always labelled.
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
    }
)

SATISFACTION_COLOURS = ("#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac")
ANNOTATE_MAX_CELLS = 120
MATCH_COLOURS = {"yes": "#2166ac", "partly": "#92c5de", "no": "#d6604d"}


def _labels(report: dict) -> tuple[list, list[str]]:
    statistics = report["statistics"]
    keys = statistics["configs"]
    return keys, [f"{key}: {statistics['labels'][key]}" for key in keys]


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
    ax.set_xlabel("Mean satisfaction (1–5), 95% bootstrap interval")
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
    """Mean difference per pair with its 95% interval (forest plot), zero marked."""
    statistics = report["statistics"]
    comparisons = [c for c in statistics["comparisons"] if c["mean_difference"] is not None]
    if not comparisons:
        return None
    fig = Figure(figsize=(6.4, 0.55 * len(comparisons) + 1.3))
    ax = fig.subplots()
    y = np.arange(len(comparisons))
    centres = [c["mean_difference"] for c in comparisons]
    errors = np.array([_error(c["mean_difference"], c["ci"]) for c in comparisons]).T
    colours = ["#2166ac" if c["significant"] else "#777777" for c in comparisons]
    for index in range(len(comparisons)):
        ax.errorbar(centres[index], index, xerr=errors[:, [index]], fmt="o", color=colours[index], capsize=4)
    ax.axvline(0, color="black", linewidth=0.8, linestyle="--")
    ax.set_yticks(y, [f"{c['a']} − {c['b']}" for c in comparisons])
    ax.set_ylim(-0.7, len(comparisons) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("Difference in mean satisfaction (points), 95% interval; blue = significant (Holm)")
    ax.set_title("Pairwise differences")
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
    ax.set_xticks(np.arange(len(keys)), keys)
    ax.set_yticks(np.arange(rows), per_query["labels"], fontsize=7 if rows > 25 else 8)
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
}

TITLES = {
    "means": "Mean satisfaction per configuration",
    "distribution": "Distribution of ratings",
    "match": "Matches the style",
    "differences": "Pairwise differences",
    "heatmap": "Per-query heat map",
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
