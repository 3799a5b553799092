"""Celery tasks of the surveys app (default queue). Thin: the work is in surveys.report."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def fit_report_models(survey_id: int, filters: dict) -> str:
    """Fit the report's mixed and ordinal models of a large survey and cache them (surveys.report)."""
    from surveys.models import Survey
    from surveys.report import ReportFilters, fit_and_cache_models

    survey = Survey.objects.filter(pk=survey_id).first()
    if survey is None:
        return "survey gone"
    fit_and_cache_models(survey, ReportFilters.from_dict(filters))
    return "fitted"


@shared_task(name="surveys.run_offline_evaluation")
def run_offline_evaluation(evaluation_id: int) -> None:
    """Compute one offline evaluation job (protocol, composed-query arms or a sweep)."""
    from surveys.offline import jobs

    jobs.run_evaluation(evaluation_id=evaluation_id)
