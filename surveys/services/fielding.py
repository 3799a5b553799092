"""Opening and closing a survey for participants."""

from __future__ import annotations

from django.utils import timezone

from surveys.models import Survey
from surveys.services.arms import IdenticalArms, arm_overlaps
from surveys.services.errors import SurveyError
from surveys.services.planning import freeze_preregistration


def open_survey(*, survey: Survey, confirm_identical: int | None = None) -> Survey:
    """Open a survey for participants, computing every cell's results first.

    The first opening compares the arms (`arm_overlaps`): when some (query, arm pair) cells show
    identical results it raises IdenticalArms with their count, unless `confirm_identical` is that
    count (the researcher saw the list and opens anyway). A preregistration is frozen here."""
    if survey.configs.count() < 2:
        raise SurveyError("Add at least two weight configurations before opening.")
    if not survey.questions.exists():
        raise SurveyError("Add at least one question before opening.")
    if not survey.queries.filter(participant=None).exists() and not survey.own_query_mode:
        raise SurveyError("Add queries (or turn on participants' own queries) before opening.")
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
