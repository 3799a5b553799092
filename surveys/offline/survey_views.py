"""A survey's judgements page: its arms scored against the pooled judgements (ranx, judged@10 beside
every figure) and what-if scoring of any weight configuration against the same pool."""

from __future__ import annotations

import math

from django.shortcuts import get_object_or_404, render

from search.models import WeightConfig
from surveys.models import Survey
from surveys.offline import judgements
from surveys.offline.views import researcher_required

ARM_COLUMNS = (
    ("ndcg@10", "nDCG@10"),
    ("precision@10", "P@10"),
    ("map", "MAP"),
    ("mrr@10", "MRR@10"),
    ("judged@10", "judged@10"),
)
WHAT_IF_COLUMNS = (
    ("ndcg@10", "nDCG@10"),
    ("judged@10", "judged@10"),
    ("condensed_ndcg@10", "condensed nDCG@10"),
)


def _cell(estimate) -> str:
    if estimate.n == 0 or math.isnan(estimate.mean):
        return "–"
    return f"{estimate.mean:.3f} [{estimate.low:.3f}, {estimate.high:.3f}]"


@researcher_required
def judgements_page(request, slug: str):
    survey = get_object_or_404(Survey, slug=slug)
    found = judgements.survey_judgements(survey)
    qrels = judgements.aggregate(found, "majority")
    configs = WeightConfig.objects.filter(is_current=True).order_by("name")
    context = {
        "survey": survey,
        "n_judgements": len(found),
        "n_queries": len(qrels),
        "n_raters": len({j.rater_id for j in found}),
        "rule": judgements.RULES["majority"],
        "arm_headers": [label for _key, label in ARM_COLUMNS],
        "arms": [],
        "configs": configs,
        "what_if": None,
        "what_if_headers": [label for _key, label in WHAT_IF_COLUMNS],
        "error": "",
    }
    if qrels:
        scores = judgements.score_runs(qrels, judgements.arm_runs(survey))
        context["arms"] = [
            {"label": label, "cells": [_cell(values[key]) for key, _l in ARM_COLUMNS]}
            for label, values in sorted(scores.items())
        ]
    status = 200
    chosen = request.GET.get("config")
    if chosen:
        config = configs.filter(pk=int(chosen)).first() if chosen.isdigit() else None
        if config is None:
            context["error"] = (
                f"No current weight configuration with id {chosen!r}; choose one from the list."
            )
            status = 400
        elif not qrels:
            context["error"] = "The survey has no per-product judgements yet: nothing to score against."
            status = 400
        else:
            estimates = judgements.what_if(survey, config)
            context["what_if"] = {
                "config": config,
                "cells": [_cell(estimates[key]) for key, _l in WHAT_IF_COLUMNS],
            }
    return render(request, "surveys/manage/judgements.html", context, status=status)
