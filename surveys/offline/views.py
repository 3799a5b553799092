"""Researcher pages of the offline benchmark: start an evaluation or a sweep as a background job,
follow its progress, read the results with plots, turn a sweep point into a weight configuration.
Thin: surveys.offline.jobs runs the job, surveys.offline.sweep creates the configuration."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from embeddings.models import EmbeddingSpace
from search.models import WeightConfig
from surveys.offline import jobs, plots
from surveys.offline.forms import ConfigFromPointForm, StartEvaluationForm
from surveys.offline.models import OfflineEvaluation
from surveys.researcher_views import researcher_required


@researcher_required
def evaluation_list(request):
    form = StartEvaluationForm(request.POST or None, initial=_prefill(request.GET))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        evaluation = jobs.start_evaluation(
            kind=data["kind"],
            space=data["space"],
            configs=list(data["configs"]),
            n_queries=data["n_queries"],
            seed=data["seed"],
            grid_steps=data["grid_steps"],
            image_shares=form.shares(),
            user=request.user,
        )
        return redirect("surveys:offline-detail", pk=evaluation.pk)
    evaluations = OfflineEvaluation.objects.select_related("space")[:50]
    status = 400 if request.method == "POST" else 200
    return render(
        request, "surveys/offline/list.html", {"form": form, "evaluations": evaluations}, status=status
    )


def _prefill(query) -> dict:
    """Start-form values from a link (the report's "run it here"): kind, space and configurations
    by name, so a researcher starts the evaluation the report asks for with one click."""
    initial = {}
    if query.get("kind") in OfflineEvaluation.Kind.values:
        initial["kind"] = query["kind"]
    space = EmbeddingSpace.objects.filter(name=query.get("space", "")).first()
    if space is not None:
        initial["space"] = space
    names = [name for name in query.get("configs", "").split(",") if name]
    if names:
        initial["configs"] = WeightConfig.objects.filter(is_current=True, name__in=names)
    return initial


def _table_rows(evaluation) -> list[dict]:
    result = evaluation.result
    rows = []
    if evaluation.kind == OfflineEvaluation.Kind.PROTOCOL:
        for row in result.get("rows", []):
            for metric, e in row["estimates"].items():
                rows.append(
                    {
                        "group": f"{row['task']} ({row['protocol']})",
                        "arm": row["config"],
                        "metric": metric,
                        **e,
                    }
                )
    elif evaluation.kind == OfflineEvaluation.Kind.COMPOSED:
        for kind, arms in result.get("estimates", {}).items():
            for arm, metrics in arms.items():
                for metric, e in metrics.items():
                    rows.append({"group": kind, "arm": arm, "metric": metric, **e})
    return rows


@researcher_required
def evaluation_detail(request, pk: int):
    evaluation = get_object_or_404(OfflineEvaluation.objects.select_related("space"), pk=pk)
    context = {"evaluation": evaluation, "rows": [], "svgs": {}}
    if evaluation.status == OfflineEvaluation.Status.DONE:
        context["rows"] = _table_rows(evaluation)
        context["svgs"] = plots.svgs(evaluation)
        if evaluation.kind == OfflineEvaluation.Kind.SWEEP:
            best = evaluation.result["best"]
            context["best"] = best
            context["point_form"] = ConfigFromPointForm(
                initial={
                    "name": f"sweep-{evaluation.pk}-best",
                    "stage1_text": best["stage1_text"],
                    "stage2_text": best["stage2_text"],
                    "image_share": best["image_share"],
                }
            )
    return render(request, "surveys/offline/detail.html", context)


@researcher_required
def evaluation_progress(request, pk: int):
    evaluation = get_object_or_404(OfflineEvaluation, pk=pk)
    return JsonResponse(
        {
            "status": evaluation.status,
            "done": evaluation.progress_done,
            "total": evaluation.progress_total,
            "error": evaluation.error,
        }
    )


@require_POST
@researcher_required
def config_from_point(request, pk: int):
    """ "Create a configuration from this point": a new WeightConfig, ready to be a survey arm."""
    from surveys.offline.sweep import Point, create_config_from_point

    evaluation = get_object_or_404(OfflineEvaluation, pk=pk, kind=OfflineEvaluation.Kind.SWEEP)
    form = ConfigFromPointForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        point = Point(data["stage1_text"], data["stage2_text"], data["image_share"])
        try:
            config = create_config_from_point(
                name=data["name"],
                point=point,
                description=f"From offline sweep #{evaluation.pk}: {point.as_dict()}.",
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("surveys:offline-detail", pk=pk)
        messages.success(
            request, f"Created weight configuration {config.label}; it can be an arm of the next survey."
        )
        return redirect("surveys:offline-detail", pk=pk)
    messages.error(
        request, "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
    )
    return redirect("surveys:offline-detail", pk=pk)
