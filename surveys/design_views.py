"""Researcher pages that check a design before it is fielded: can the arms differ (overlap of every
(query, arm pair)), the result diff of two arms for one query, the sample-size planner and the
preregistration. Thin: services compute, templates show."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from surveys import services
from surveys.design_forms import PlannerForm, PreregistrationForm
from surveys.models import StudyPlan, Survey, SurveyConfig, SurveyQuery
from surveys.overlap import jaccard_at_k, rank_biased_overlap, result_diff
from surveys.researcher_views import researcher_required
from surveys.selectors import shown_products


@researcher_required
def arms_page(request, slug):
    """Per query and arm pair: overlap@k and rank-biased overlap; identical cells first, and, for a
    draft, a form that opens the survey anyway when the researcher confirms their count."""
    survey = get_object_or_404(Survey, slug=slug)
    try:
        overlaps = services.arm_overlaps(survey=survey)
    except services.SurveyError as exc:
        messages.error(request, str(exc))
        return redirect(survey)
    rows = sorted(overlaps["rows"], key=lambda row: (not row["identical"], row["rbo"], row["query_id"]))
    return render(request, "surveys/manage/arms.html", {"survey": survey, "overlaps": overlaps, "rows": rows})


@researcher_required
def result_diff_page(request, slug):
    """Two arms' result sets of one query side by side: what moved, what came in and what left."""
    survey = get_object_or_404(Survey, slug=slug)
    query_id, first, second = request.GET.get("query", ""), request.GET.get("a", ""), request.GET.get("b", "")
    if not query_id.isdigit():
        raise Http404("Name a query of this survey (?query=<id>&a=<code>&b=<code>).")
    query = get_object_or_404(SurveyQuery, pk=int(query_id), survey=survey, participant=None)
    config_a = get_object_or_404(SurveyConfig, survey=survey, code=first)
    config_b = get_object_or_404(SurveyConfig, survey=survey, code=second)
    set_a = services.ensure_result_set(query=query, survey_config=config_a)
    set_b = services.ensure_result_set(query=query, survey_config=config_b)
    products_a = shown_products(set_a)
    products_b = shown_products(set_b)
    ids_a = [product.catalog_id for product in products_a]
    ids_b = [product.catalog_id for product in products_b]
    diff = result_diff(ids_a, ids_b)
    by_id = {product.catalog_id: product for product in products_a + products_b}
    context = {
        "survey": survey,
        "query": query,
        "a": config_a.code,
        "b": config_b.code,
        "left_rows": [
            {"rank": rank, "product": product, "gone": product.catalog_id not in ids_b}
            for rank, product in enumerate(products_a, start=1)
        ],
        "right_rows": [row | {"product": by_id[row["item"]]} for row in diff["b"]],
        "left": [by_id[row["item"]] for row in diff["left"]],
        "came_in": [by_id[item] for item in diff["came_in"]],
        "jaccard": jaccard_at_k(ids_a, ids_b, survey.results_per_task),
        "rbo": rank_biased_overlap(ids_a, ids_b),
        "identical": ids_a == ids_b,
    }
    return render(request, "surveys/manage/diff.html", context)


@researcher_required
def plan_page(request, slug):
    """Sample-size planner (simulated power of this survey's design and analysis, stored with the
    survey) and the preregistration (frozen when the survey opens)."""
    survey = get_object_or_404(Survey, slug=slug)
    plan = StudyPlan.objects.filter(survey=survey).first()
    action = request.POST.get("action") if request.method == "POST" else None
    planner_form = PlannerForm(request.POST if action == "plan" else None, survey=survey)
    prereg_form = PreregistrationForm(request.POST if action == "preregister" else None, instance=plan)
    status = 200
    if action == "plan":
        if planner_form.is_valid():
            data = planner_form.cleaned_data
            try:
                services.plan_sample_size(
                    survey=survey, effect=data["effect"], alpha=data["alpha"], queries=data["queries"],
                    participants=data["participants"], pilot=data["pilot"],
                )  # fmt: skip
            except services.SurveyError as exc:
                planner_form.add_error(None, str(exc))
            else:
                messages.success(request, "Plan computed and stored with the survey.")
                return redirect("surveys:manage-plan", slug=survey.slug)
        status = 400
    elif action == "preregister":
        if prereg_form.is_valid():
            try:
                services.preregister(survey=survey, **prereg_form.cleaned_data)
            except services.SurveyError as exc:
                prereg_form.add_error(None, str(exc))
            else:
                messages.success(request, "Preregistration saved; it is frozen when the survey opens.")
                return redirect("surveys:manage-plan", slug=survey.slug)
        status = 400
    context = {
        "survey": survey,
        "plan": plan,
        "power": (plan.power_plan if plan else None) or None,
        "planner_form": planner_form,
        "prereg_form": prereg_form,
        "frozen": bool(plan and plan.frozen_at),
    }
    return render(request, "surveys/manage/plan.html", context, status=status)
