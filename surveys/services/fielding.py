"""Opening and closing a survey for participants; opening in the background with progress."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from surveys.models import OpeningJob, Survey
from surveys.services.arms import IdenticalArms, arm_overlaps
from surveys.services.errors import SurveyError
from surveys.services.planning import freeze_preregistration
from surveys.services.result_sets import compute_result_sets, missing_cells

logger = logging.getLogger("fashionsite.surveys")


def check_openable(*, survey: Survey) -> None:
    """Raise SurveyError naming what is missing before a survey can open (cheap: no searches)."""
    if survey.configs.count() < 2:
        raise SurveyError("Add at least two weight configurations before opening.")
    if not survey.questions.exists():
        raise SurveyError("Add at least one question before opening.")
    if not survey.queries.filter(participant=None).exists() and not survey.own_query_mode:
        raise SurveyError("Add queries (or turn on participants' own queries) before opening.")


def open_survey(*, survey: Survey, confirm_identical: int | None = None) -> Survey:
    """Open a survey for participants, computing every cell's results first.

    The first opening compares the arms (`arm_overlaps`): when some (query, arm pair) cells show
    identical results it raises IdenticalArms with their count, unless `confirm_identical` is that
    count (the researcher saw the list and opens anyway). A preregistration is frozen here."""
    check_openable(survey=survey)
    overlaps = arm_overlaps(survey=survey)
    if survey.opened_at is None and overlaps["n_identical"] and confirm_identical != overlaps["n_identical"]:
        raise IdenticalArms(overlaps["n_identical"], overlaps["n_pairs"])
    freeze_preregistration(survey=survey)
    Survey.objects.filter(pk=survey.pk).update(
        status=Survey.Status.OPEN, opened_at=survey.opened_at or timezone.now(), closed_at=None
    )
    survey.refresh_from_db()
    return survey


def close_survey(*, survey: Survey) -> Survey:
    """Close a survey: participants get a 'closed' page and nothing more is stored."""
    Survey.objects.filter(pk=survey.pk).update(status=Survey.Status.CLOSED, closed_at=timezone.now())
    survey.refresh_from_db()
    return survey


def active_opening(*, survey: Survey) -> OpeningJob | None:
    """The survey's queued or running opening job, if any."""
    return survey.opening_jobs.filter(status__in=OpeningJob.ACTIVE).first()


def start_opening(*, survey: Survey, confirm_identical: int | None = None) -> OpeningJob:
    """Queue the opening of `survey` (surveys.tasks.open_survey_job) after the preconditions pass;
    a job already under way is returned instead of a second one."""
    from surveys import tasks

    check_openable(survey=survey)
    with transaction.atomic():
        Survey.objects.select_for_update().filter(pk=survey.pk).first()
        job = active_opening(survey=survey)
        if job is not None:
            return job
        missing, total = missing_cells(survey=survey)
        job = OpeningJob.objects.create(
            survey=survey, cells_total=total, cells_done=total - missing, confirm_identical=confirm_identical
        )
        transaction.on_commit(lambda: tasks.open_survey_job.delay(job.pk))
    return job


def run_opening(*, job: OpeningJob) -> OpeningJob:
    """The opening job's work: compute every cell (progress after each), then open the survey. A
    failure is stored on the job with its reason (identical arms ask for confirmation)."""
    jobs = OpeningJob.objects.filter(pk=job.pk)
    jobs.update(status=OpeningJob.Status.RUNNING)
    survey = job.survey
    try:
        compute_result_sets(survey=survey, on_cell=lambda done: jobs.update(cells_done=done))
        open_survey(survey=survey, confirm_identical=job.confirm_identical)
    except IdenticalArms as exc:
        jobs.update(
            status=OpeningJob.Status.FAILED,
            error=str(exc),
            needs_confirmation=True,
            finished_at=timezone.now(),
        )
    except SurveyError as exc:
        jobs.update(status=OpeningJob.Status.FAILED, error=str(exc), finished_at=timezone.now())
    except Exception as exc:
        logger.exception("opening survey %s failed", survey.slug)
        jobs.update(
            status=OpeningJob.Status.FAILED,
            error=f"Unexpected error while computing results ({type(exc).__name__}); the worker log has details.",
            finished_at=timezone.now(),
        )
    else:
        jobs.update(status=OpeningJob.Status.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job
