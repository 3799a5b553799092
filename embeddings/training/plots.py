"""Server-rendered plots of a fine-tuning run (matplotlib, Agg backend, inline SVG, no JavaScript):
the training loss per step with epoch boundaries, and the validation Recall@k / MRR per epoch."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "fashionsite-training", "font.size": 9}
METRIC_NAMES = ("recall@1", "recall@5", "recall@10", "mrr")
TASK_LABELS = {"text_to_image": "text → image", "image_to_text": "image → text"}


def _svg(figure: Figure) -> str:
    with matplotlib.rc_context(SVG_STYLE):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def loss_curve_svg(run) -> str:
    """Training loss per optimizer step (empty string before the first step)."""
    if not run.loss_curve:
        return ""
    figure = Figure(figsize=(6.4, 2.8))
    axes = figure.subplots()
    steps = [step for step, _ in run.loss_curve]
    axes.plot(steps, [loss for _, loss in run.loss_curve], color="#2166ac", linewidth=1)
    for row in run.epochs:
        axes.axvline(row["step"], color="#999999", linestyle=":", linewidth=0.8)
    axes.set_xlabel("optimizer step (dotted: end of an epoch)")
    axes.set_ylabel("contrastive loss")
    axes.set_title(f"Training loss, run {run.pk}")
    return _svg(figure)


def validation_svg(run) -> str:
    """Validation Recall@1/5/10 and MRR per epoch, one panel per direction (empty before epoch 1)."""
    rows = [row for row in run.epochs if row.get("val")]
    if not rows:
        return ""
    figure = Figure(figsize=(6.4, 2.8))
    panels = figure.subplots(1, 2, sharey=True)
    epochs = [row["epoch"] for row in rows]
    for axes, (task, label) in zip(panels, TASK_LABELS.items(), strict=True):
        for name in METRIC_NAMES:
            axes.plot(epochs, [row["val"].get(task, {}).get(name) for row in rows], marker="o", label=name)
        axes.set_title(f"Validation, {label}")
        axes.set_xlabel("epoch")
        axes.set_xticks(epochs)
        axes.set_ylim(0, 1.02)
    panels[0].set_ylabel("mean over queries")
    panels[1].legend(loc="lower right", fontsize=8)
    return _svg(figure)
