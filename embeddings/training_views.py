"""Fine-tuning pages beside the embeddings dashboard (/embeddings/training/): start a run, watch it
(loss curve, validation per epoch, base vs fine-tuned on the test split), cancel it, compare runs.
Staff with embeddings.run_training."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from embeddings.models import TrainingRun
from embeddings.training import plots
from embeddings.training.forms import TrainingRunForm
from embeddings.training.params import TrainingSetupError
from fashionsite.permissions import TRAINING_PERMISSION, permission_required

training_required = permission_required(TRAINING_PERMISSION)


def _runs_page(request, form, *, status=200):
    runs = TrainingRun.objects.select_related("base_space", "result_space")[:50]
    rows = [comparison_summary(run) for run in runs]
    return render(request, "embeddings/training.html", {"form": form, "runs": rows}, status=status)


@training_required
def training(request):
    return _runs_page(request, TrainingRunForm())


@training_required
@require_POST
def start(request):
    from embeddings.training.services import start_training_run

    form = TrainingRunForm(request.POST)
    if not form.is_valid():
        return _runs_page(request, form, status=400)
    try:
        run = start_training_run(
            base_space=form.cleaned_data["base_space"], params=form.params(), user=request.user
        )
    except TrainingSetupError as error:
        for name, message in error.errors.items():
            form.add_error(name if name in form.fields else None, message)
        return _runs_page(request, form, status=400)
    messages.success(request, f"Run {run.pk} queued on the training queue: {run.total_steps} steps.")
    return redirect("embeddings:training-run", pk=run.pk)


@training_required
def run_detail(request, pk: int):
    run = get_object_or_404(TrainingRun.objects.select_related("base_space", "result_space"), pk=pk)
    return render(
        request,
        "embeddings/training_run.html",
        {
            "run": run,
            "split": {name: len(ids) for name, ids in run.split.items()},
            "loss_svg": plots.loss_curve_svg(run),
            "validation_svg": plots.validation_svg(run),
            "comparison": comparison_rows(run.evaluation),
            "epoch_rows": epoch_rows(run),
        },
    )


@training_required
@require_POST
def cancel(request, pk: int):
    from embeddings.training.services import cancel_training_run

    run = get_object_or_404(TrainingRun, pk=pk)
    cancel_training_run(run)
    messages.success(request, f"Run {run.pk}: cancel requested; it stops at its next step.")
    return redirect("embeddings:training-run", pk=run.pk)


def comparison_rows(evaluation: dict) -> list[dict]:
    """Rows (direction, metric, base, fine-tuned) of the test-split comparison, with intervals."""
    if "base" not in evaluation:
        return []
    rows = []
    for task, label in plots.TASK_LABELS.items():
        for name in plots.METRIC_NAMES:
            rows.append(
                {
                    "task": label,
                    "metric": name,
                    "base": evaluation["base"][task][name],
                    "finetuned": evaluation["finetuned"][task][name],
                }
            )
    return rows


def comparison_summary(run: TrainingRun) -> dict:
    """One row of the runs table: the last validation Recall@10 and the test split's base vs
    fine-tuned Recall@10 (text → image), None where not measured yet."""
    last_val = (run.epochs[-1].get("val") or {}).get("text_to_image", {}) if run.epochs else {}
    evaluation = run.evaluation if "base" in run.evaluation else {}
    return {
        "run": run,
        "val_recall10": last_val.get("recall@10"),
        "test_base_recall10": evaluation and evaluation["base"]["text_to_image"]["recall@10"]["mean"],
        "test_finetuned_recall10": evaluation
        and evaluation["finetuned"]["text_to_image"]["recall@10"]["mean"],
    }


def epoch_rows(run: TrainingRun) -> list[list[str]]:
    """The per-epoch table: epoch, train loss, pairs/s, then Recall@1/5/10 and MRR both directions."""

    def number(value, digits=3):
        return "—" if value is None else f"{value:.{digits}f}"

    rows = []
    for row in run.epochs:
        cells = [str(row["epoch"]), number(row.get("train_loss")), number(row.get("pairs_per_s"), 1)]
        for task in plots.TASK_LABELS:
            values = (row.get("val") or {}).get(task, {})
            cells += [number(values.get(name)) for name in plots.METRIC_NAMES]
        rows.append(cells)
    return rows
