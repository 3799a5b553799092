"""Report pages for researchers: the weight-comparison report, its self-contained HTML download and
PNG downloads of its plots; and the JSON API view. Thin: `surveys.report` builds, `surveys.plots` draws."""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from embeddings.selectors import active_space_notice
from surveys import plots, report, report_cache
from surveys.api import IsResearcher
from surveys.models import Survey
from surveys.researcher_views import researcher_required
from surveys.stats import format_p


def _fmt(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _interval(interval: dict, digits: int = 2) -> str:
    if interval["low"] is None or interval["high"] is None:
        return interval.get("note") or "–"
    return f"{interval['low']:.{digits}f} to {interval['high']:.{digits}f}"


def _share(value) -> str:
    return "–" if value is None else f"{value:.0%}"


def presentation(data: dict) -> dict:
    """Display-ready rows for the template (Django templates cannot index 'precision@5' keys)."""
    statistics = data["statistics"]
    labels = statistics["labels"]
    config_rows = []
    for key in statistics["configs"]:
        entry = statistics["per_config"][key]
        config_rows.append(
            {
                "code": key,
                "label": labels[key],
                "n_ratings": entry["n_ratings"],
                "n_raters": entry["n_raters"],
                "mean": _fmt(entry["mean"]),
                "mean_ci": _interval(entry["mean_ci"]),
                "median": _fmt(entry["median"], 1),
                "median_ci": _interval(entry["median_ci"], 1),
                "distribution": [entry["distribution"][str(v)] for v in range(1, 6)],
                "yes": _share(entry["match_shares"]["yes"]),
                "partly": _share(entry["match_shares"]["partly"]),
                "no": _share(entry["match_shares"]["no"]),
            }
        )
    comparison_rows = []
    for comparison in statistics["comparisons"]:
        comparison_rows.append(
            {
                "pair": f"{comparison['a']} vs {comparison['b']}",
                "names": f"{labels[comparison['a']]} vs {labels[comparison['b']]}",
                "difference": _fmt(comparison["mean_difference"]),
                "ci": _interval(comparison["ci"]),
                "meaning": comparison["difference_meaning"],
                "status": comparison.get("analysis_status", "exploratory"),
                "shift": _fmt(comparison["hodges_lehmann"]),
                "ci_adjusted": _interval(comparison["ci_adjusted"]),
                "adjusted_confidence": (
                    f"{100 * comparison['adjusted_confidence']:.1f}%"
                    if comparison["adjusted_confidence"]
                    else ""
                ),
                "other_tests": "; ".join(
                    f"{test['test']} {format_p(test['p_value'])}" for test in comparison["other_tests"]
                ),
                "design": comparison["design"] or "–",
                "reason": comparison["reason"],
                "test": comparison["test"] or "none",
                "statistic": _fmt(comparison["statistic"]),
                "p": format_p(comparison["p_value"]) if comparison["p_value"] is not None else "–",
                "p_holm": format_p(comparison["p_holm"]) if comparison["p_holm"] is not None else "–",
                "significant": comparison["significant"],
                "effect": (
                    f"{comparison['effect_size_name']} = {comparison['effect_size']:.2f}"
                    if comparison["effect_size"] is not None
                    else "–"
                ),
                "n": f"{comparison['n']} {comparison['n_unit']}".strip(),
                "wtl": comparison["per_query"],
                "explanation": comparison["explanation"],
            }
        )
    relevance = statistics["relevance"]
    relevance_rows = []
    if relevance["available"]:
        for key in statistics["configs"]:
            entry = relevance["configs"].get(key)
            if not entry:
                continue
            cells = []
            for k in relevance["ks"]:
                for metric in ("precision", "ndcg"):
                    value = entry[f"{metric}@{k}"]
                    cells.append(f"{_fmt(value['mean'])} ({_interval(value['ci'])})")
            relevance_rows.append(
                {"code": key, "label": labels[key], "n": entry["n_ratings"], "cells": cells}
            )
    relevance_headers = [f"{name}@{k}" for k in relevance["ks"] for name in ("precision", "nDCG")]
    agreement = statistics["agreement"]
    return {
        "model_rows": _model_rows(statistics.get("models", {}), labels),
        "heterogeneity_rows": [
            {
                "pair": f"{pair['a']} vs {pair['b']}",
                "q": _fmt(pair["heterogeneity"]["q"]),
                "df": pair["heterogeneity"]["df"],
                "p": format_p(pair["heterogeneity"]["p_value"])
                if pair["heterogeneity"]["p_value"] is not None
                else pair["heterogeneity"]["explanation"],
                "i2": _share(pair["heterogeneity"]["i2"]),
            }
            for pair in statistics.get("query_differences", [])
        ],
        "flagged_raters": [row for row in statistics.get("raters", []) if row["flags"]],
        "n_raters_checked": len(statistics.get("raters", [])),
        "config_rows": config_rows,
        "comparison_rows": comparison_rows,
        "relevance_rows": relevance_rows,
        "relevance_headers": relevance_headers,
        "agreement_rows": [
            {
                "name": name,
                "alpha": _fmt(agreement[key]["alpha"], 3),
                "ci": _interval(agreement[key]["ci"], 3),
                "n_units": agreement[key]["n_units"],
                "n_values": agreement[key]["n_values"],
                "explanation": agreement[key]["explanation"],
            }
            for key, name in (
                ("satisfaction", "Satisfaction (1–5)"),
                ("match", "Matches the style (no < partly < yes)"),
            )
        ],
        "retrieval_rows": [
            {
                **evaluation,
                "recall_1": _fmt(evaluation["recall_at_1"], 3),
                "recall_5": _fmt(evaluation["recall_at_5"], 3),
                "recall_10": _fmt(evaluation["recall_at_10"], 3),
                "mrr_text": _fmt(evaluation["mrr"], 3),
            }
            for evaluation in data["retrieval"]["evaluations"]
        ],
    }


def _model_rows(models: dict, labels: dict) -> dict:
    mixed = models.get("mixed") or {}
    ordinal = models.get("ordinal") or {}
    return {
        "available": bool(mixed.get("available")),
        "explanation": mixed.get("explanation", ""),
        "formula": mixed.get("formula", ""),
        "contrasts": [
            {
                "pair": f"{c['a']} vs {c['b']}",
                "estimate": _fmt(c["estimate"]),
                "ci": _interval(c["ci_adjusted"]) if c.get("ci_adjusted") else "–",
                "confidence": f"{100 * c['adjusted_confidence']:.1f}%"
                if c.get("adjusted_confidence")
                else "",
                "p_holm": format_p(c["p_holm"]) if c["p_holm"] is not None else "–",
                "significant": c["significant"],
                "status": c.get("analysis_status", "exploratory"),
            }
            for c in mixed.get("contrasts", [])
        ],
        "variances": [
            {"name": name.replace("_", " "), "value": _fmt(value, 3)}
            for name, value in mixed.get("variance_components", {}).items()
        ],
        "ordinal": [
            {
                "code": code,
                "reference": ordinal["reference"],
                "log_odds": _fmt(entry["estimate"]),
                "p": format_p(entry["p_value"]),
            }
            for code, entry in ordinal.get("log_odds", {}).items()
        ],  # fmt: skip
        "ordinal_limits": ordinal.get("limits", ""),
    }


def _context(request, survey: Survey, *, standalone: bool) -> tuple[dict, int]:
    errors = {}
    try:
        filters = report.parse_filters(request.GET)
    except report.FilterError as exc:
        errors = exc.fields
        filters = report.ReportFilters()
    cached = report_cache.cached_report(survey, filters)
    context = {
        "survey": survey,
        "report": cached.data,
        "from_cache": cached.from_cache,
        "rows": presentation(cached.data),
        "plots": [
            {"name": name, "title": plots.TITLES[name], "svg": svg}
            for name, svg in report_cache.cached_svgs(cached).items()
        ],
        "filters": filters,
        "filter_errors": errors,
        "query_string": filters.as_query(),
        "standalone": standalone,
    }
    return context, 400 if errors else 200


@researcher_required
def report_page(request, slug):
    """The weight-comparison report of a survey, with filters."""
    survey = get_object_or_404(Survey, slug=slug)
    context, status = _context(request, survey, standalone=False)
    return render(request, "surveys/report/page.html", context, status=status)


def _inline_css() -> str:
    path = finders.find("fashionsite/site.css")
    return Path(path).read_text() if path else ""


@researcher_required
def report_download(request, slug):
    """The same report as one self-contained HTML file: CSS and SVG plots inline, no external references."""
    survey = get_object_or_404(Survey, slug=slug)
    context, status = _context(request, survey, standalone=True)
    if status != 200:
        return render(request, "surveys/report/page.html", context, status=status)
    context["inline_css"] = _inline_css()
    # No request, so no context processors: the random-weights banner is passed explicitly.
    context["embedding_notice"] = active_space_notice()
    html = render_to_string("surveys/report/standalone.html", context, request=None)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="report-{slugify(survey.slug)}.html"'
    return response


@researcher_required
def report_plot_png(request, slug, name):
    """One plot of the report as a PNG download (same filters as the page)."""
    survey = get_object_or_404(Survey, slug=slug)
    if name not in plots.PLOTS:
        raise Http404("No such plot.")
    try:
        filters = report.parse_filters(request.GET)
    except report.FilterError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    fig = plots.PLOTS[name](report_cache.cached_report(survey, filters).data)
    if fig is None:
        return HttpResponse(
            "Not enough ratings to draw this plot yet.", status=404, content_type="text/plain; charset=utf-8"
        )
    response = HttpResponse(plots.render_png(fig), content_type="image/png")
    response["Content-Disposition"] = f'attachment; filename="report-{slugify(survey.slug)}-{name}.png"'
    return response


class SurveyReportView(APIView):
    """The weight-comparison report as JSON (researchers; token or session auth). Query parameters:
    date_from, date_to (YYYY-MM-DD), completed=1, attention=1."""

    permission_classes = [IsResearcher]

    @extend_schema(
        operation_id="survey_report",
        parameters=[
            OpenApiParameter(
                "date_from", OpenApiTypes.DATE, description="ratings submitted on or after (UTC)"
            ),
            OpenApiParameter(
                "date_to", OpenApiTypes.DATE, description="ratings submitted on or before (UTC)"
            ),
            OpenApiParameter("completed", OpenApiTypes.BOOL, description="completed participants only"),
            OpenApiParameter("attention", OpenApiTypes.BOOL, description="exclude failed attention checks"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        description="The weight-comparison report (docs/report.md): per-configuration statistics, "
        "pairwise tests with Holm-adjusted p-values, agreement, relevance metrics, per-query means, "
        "plain-language summary, offline retrieval evaluations.",
    )
    def get(self, request, slug):
        survey = generics.get_object_or_404(Survey, slug=slug)
        try:
            filters = report.parse_filters(request.query_params)
        except report.FilterError as exc:
            raise ValidationError({name: [message] for name, message in exc.fields.items()}) from exc
        cached = report_cache.cached_report(survey, filters)
        return Response({**cached.data, "cached": cached.from_cache})
