"""Celery tasks of the surveys app (default queue). Thin: the work is in surveys.report and surveys.services."""

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


@shared_task(ignore_result=True)
def open_survey_job(job_id: int) -> str:
    """Compute a survey's result sets with progress, then open it (surveys.services.run_opening)."""
    from surveys import services
    from surveys.models import OpeningJob

    job = OpeningJob.objects.filter(pk=job_id).select_related("survey").first()
    if job is None or not job.active:
        return "nothing to do"
    return services.run_opening(job=job).status
