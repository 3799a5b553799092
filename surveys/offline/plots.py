"""Plots of offline evaluations (matplotlib, drawn on the server like the report's, surveys/plots.py):
the sweep's heat map over (stage-1, stage-2) text weights with the seed's and the best point marked,
a line per stage with its CI band, and arms with their CIs."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from surveys.plots import render_svg


def _point_table(result: dict, share: float) -> tuple[list[float], dict]:
    grid = result["grid"]
    table = {(p["stage1_text"], p["stage2_text"]): p for p in result["points"] if p["image_share"] == share}
    return grid, table


def sweep_heat_map(result: dict) -> Figure:
    best = result["best"]
    grid, table = _point_table(result, best["image_share"])
    values = np.array([[table[(w1, w2)]["mean"] for w2 in grid] for w1 in grid])
    fig = Figure(figsize=(5.2, 4.2))
    ax = fig.add_subplot()
    image = ax.imshow(
        values, origin="lower", cmap="viridis", extent=(-0.025, 1.025, -0.025, 1.025), aspect="auto"
    )
    fig.colorbar(image, ax=ax, label=f"mean {result['metric']}")
    seed = result["seed_point"]
    ax.plot([seed[1]], [seed[0]], marker="s", mfc="none", mec="white", ms=10, label="seed 0.5/0.5 → 0.9/0.1")
    ax.plot([best["stage2_text"]], [best["stage1_text"]], marker="*", color="#d62728", ms=12, label="best")
    ax.set_xlabel("stage-2 text weight (image = 1 − text)")
    ax.set_ylabel("stage-1 text weight")
    ax.set_title(
        f"{result['metric']} over {result['n_queries']} composed queries (image share {best['image_share']})"
    )
    ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    return fig


def sweep_lines(result: dict) -> Figure:
    best = result["best"]
    grid, table = _point_table(result, best["image_share"])
    fig = Figure(figsize=(5.2, 3.2))
    ax = fig.add_subplot()
    for label, rows in (
        (f"stage 1 (stage 2 at {best['stage2_text']})", [table[(w, best["stage2_text"])] for w in grid]),
        (f"stage 2 (stage 1 at {best['stage1_text']})", [table[(best["stage1_text"], w)] for w in grid]),
    ):
        means = [r["mean"] for r in rows]
        ax.plot(grid, means, marker="o", ms=3, label=label)
        ax.fill_between(grid, [r["low"] for r in rows], [r["high"] for r in rows], alpha=0.2)
    ax.set_xlabel("text weight of the stage (image = 1 − text)")
    ax.set_ylabel(f"mean {result['metric']} (95% CI)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def arms_chart(rows: list[tuple[str, dict]], metric: str) -> Figure:
    """rows: (label, estimate dict); one bar per label with its CI."""
    fig = Figure(figsize=(5.2, 0.5 + 0.35 * len(rows)))
    ax = fig.add_subplot()
    means = [e["mean"] for _label, e in rows]
    errors = np.array([[e["mean"] - e["low"] for _l, e in rows], [e["high"] - e["mean"] for _l, e in rows]])
    ax.barh(range(len(rows)), means, xerr=errors, color="#67a9cf", capsize=3)
    ax.set_yticks(range(len(rows)), [label for label, _e in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"mean {metric} (95% bootstrap CI)")
    fig.tight_layout()
    return fig


def svgs(evaluation) -> dict[str, str]:
    """name → inline SVG for a finished evaluation."""
    result = evaluation.result
    if evaluation.kind == "sweep":
        return {"heatmap": render_svg(sweep_heat_map(result)), "lines": render_svg(sweep_lines(result))}
    if evaluation.kind == "composed":
        rows = [
            (f"{kind}: {arm}", metrics["ndcg@10"])
            for kind, arms in result["estimates"].items()
            for arm, metrics in arms.items()
        ]
        return {"arms": render_svg(arms_chart(rows, "ndcg@10"))}
    rows = [(f"{r['task']}: {r['config']}", r["estimates"]["mrr@10"]) for r in result["rows"]]
    return {"arms": render_svg(arms_chart(rows, "RR@10"))}
