"""Reads for surveys: participant task views, researcher progress."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Count, Q

from fashionsite.compiled_query import ID_PLACEHOLDER, CompiledRows
from fashionsite.permissions import has_page_permission
from search.selectors import filter_options
from surveys.models import Assignment, Participant, Question, Rating, ResultSet, Survey

RESEARCHER_PERMISSION = "surveys.conduct_survey"


def researcher_can_manage(user) -> bool:
    """Holders of the researcher permission (the Researchers group has it): survey pages, API, report."""
    return has_page_permission(user, RESEARCHER_PERMISSION)


def sampling_categories() -> list[str]:
    """The catalogue's master categories, each once, sorted (the sampling form's checkboxes)."""
    return filter_options(("master_category",))["master_category"]


@dataclass(frozen=True)
class ShownImage:
    """The kept copy of a shown product's image (storage name); falsy when there is none."""

    name: str

    def __bool__(self) -> bool:
        return bool(self.name)

    @property
    def url(self) -> str:
        return default_storage.url(self.name)


@dataclass(frozen=True)
class ShownProduct:
    """One product as a result set froze it: what the participant saw, whatever the catalogue does."""

    catalog_id: str
    title: str
    image: ShownImage
    stage1_score: float | None = None
    stage2_score: float | None = None


def shown_products(result_set: ResultSet) -> list[ShownProduct]:
    """The products of a result set in the order shown, from its frozen items (never re-ranked,
    never re-read from the catalogue)."""
    return [
        ShownProduct(
            catalog_id=item["catalog_id"],
            title=item["title"],
            image=ShownImage(item.get("image") or ""),
            stage1_score=item.get("stage1_score"),
            stage2_score=item.get("stage2_score"),
        )
        for item in result_set.items
    ]


# The reads of a participant's task page and submit, the busiest requests of a fielded survey: their
# SQL is compiled once per process and prepared once per pooled connection (fashionsite/compiled_query.py;
# Django took longer to build them than PostgreSQL to run them, and PostgreSQL longer to plan the task
# page's many-table query than to run it: docs/deployment.md, "Survey load"). Placeholders: values no
# call passes (the compiled SQL's parameters are found by them).
_TOKEN, _PUBLIC_ID = "compiled-placeholder-token", uuid.UUID(int=0xC0DE)

# What a rating task page shows, fetched with the task in one query (a side-by-side task loads its
# second result set when it shows it).
TASK_PAGE_RELATED = ("participant__survey", "query", "result_set", "rating", "draft", "search_run__space")
# What a submit checks: the survey's state, an earlier rating, the shown products (relevance
# marks); a submit that fails validation loads the rest when it shows the page again.
SUBMIT_RELATED = ("participant__survey", "result_set", "rating")


def _task_query(related):
    # public_id is unique: no ORDER BY (Assignment's default ordering joins the participant's
    # ordering in, which doubled the time Django took to build the query).
    return CompiledRows(
        lambda token, public_id: (
            Assignment.objects.select_related(*related)
            .filter(public_id=public_id, participant__token=token)
            .order_by()[:1]
        ),
        token=_TOKEN,
        public_id=_PUBLIC_ID,
    )


_TASK_FOR_PAGE = _task_query(TASK_PAGE_RELATED)
_TASK_FOR_SUBMIT = _task_query(SUBMIT_RELATED)
_QUESTIONS = CompiledRows(
    lambda survey_id: Question.objects.filter(survey_id=survey_id).order_by("order", "id"),
    survey_id=ID_PLACEHOLDER,
)
_NEXT_ASSIGNMENT = CompiledRows(
    lambda participant_id: (
        Assignment.objects.filter(participant_id=participant_id, rating__isnull=True)
        .order_by("position")
        .only("public_id", "participant_id")[:1]
    ),
    participant_id=ID_PLACEHOLDER,
)
_RATED_COUNT = CompiledRows(
    lambda participant_id: (
        Assignment.objects.filter(participant_id=participant_id, rating__isnull=False)
        .order_by()
        .values("participant_id")
        .annotate(rated=Count("id"))
        .values_list("rated")
    ),
    participant_id=ID_PLACEHOLDER,
)


def participant_task(token: str, public_id: uuid.UUID, *, for_submit: bool = False) -> Assignment | None:
    """The task `public_id` of the participant with link `token`, with its participant and survey
    and what its page shows (`for_submit`: what a submit checks); None when that participant has no
    such task."""
    return (_TASK_FOR_SUBMIT if for_submit else _TASK_FOR_PAGE).first(token=token, public_id=public_id)


def task_questions(survey: Survey) -> list[Question]:
    """The survey's questions in the order a task shows them."""
    return _QUESTIONS.all(survey_id=survey.pk)


def next_assignment(participant: Participant) -> Assignment | None:
    """The participant's first unanswered task (its callers need only where it is: its public_id)."""
    return _NEXT_ASSIGNMENT.first(participant_id=participant.pk)


@dataclass
class ParticipantProgress:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def participant_progress(participant: Participant) -> ParticipantProgress:
    fixed = len(participant.plan.get("tasks", []))
    own = participant.survey.own_query_tasks
    done = next(iter(_RATED_COUNT.all(participant_id=participant.pk)), (0,))[0]
    return ParticipantProgress(done=done, total=fixed + own)


def preview_progress(survey: Survey) -> ParticipantProgress:
    """The progress a new participant sees on their first task (for the researcher's preview)."""
    total = survey.queries.filter(participant=None).count() + survey.own_query_tasks
    return ParticipantProgress(done=0, total=total)


def needs_own_query(participant: Participant) -> bool:
    survey = participant.survey
    return (
        survey.own_query_mode
        and next_assignment(participant) is None
        and participant.own_queries.count() < survey.own_query_tasks
    )


@dataclass
class SurveyProgress:
    cells: list[dict]
    participants_started: int
    participants_finished: int
    ratings: int
    median_time_on_task_s: float | None
    participants_failed_attention: int = 0
    configs: list = field(default_factory=list)
    own_query_cells: list[dict] = field(default_factory=list)

    @property
    def matrix(self) -> list[dict]:
        """The cells as rows of a query × arm table: {"query", "cells"} in query order."""
        rows: dict[int, dict] = {}
        for cell in self.cells:
            rows.setdefault(cell["query"].pk, {"query": cell["query"], "cells": []})["cells"].append(cell)
        return list(rows.values())


def _cell(query, config, row: dict, target: int | None) -> dict:
    rated = row.get("rated", 0)
    return {
        "query": query,
        "config": config,
        "assigned": row.get("assigned", 0),
        "rated": rated,
        "target": target,
        "percent": min(100, round(100 * rated / target)) if target else None,
    }


def survey_progress(survey: Survey) -> SurveyProgress:
    """Live progress for researchers: ratings per (query, configuration) cell and participant counts."""
    counts = {
        (row["query_id"], row["survey_config_id"]): row
        for row in Assignment.objects.filter(participant__survey=survey)
        .values("query_id", "survey_config_id")
        .annotate(assigned=Count("id"), rated=Count("rating"))
    }
    cells = []
    configs = list(survey.configs.select_related("weight_config").order_by("position"))
    for query in survey.queries.filter(participant=None).order_by("position", "id"):
        for config in configs:
            row = counts.get((query.pk, config.pk), {})
            cells.append(_cell(query, config, row, survey.target_ratings_per_cell))
    own = {
        row["survey_config_id"]: row
        for row in Assignment.objects.filter(participant__survey=survey, query__participant__isnull=False)
        .values("survey_config_id")
        .annotate(assigned=Count("id"), rated=Count("rating"))
    }
    own_query_cells = (
        [_cell(None, config, own.get(config.pk, {}), None) for config in configs]
        if survey.own_query_mode
        else []
    )
    participants = survey.participants.aggregate(
        started=Count("id", filter=Q(consent_at__isnull=False)),
        finished=Count("id", filter=Q(finished_at__isnull=False)),
    )
    ratings = Rating.objects.filter(assignment__participant__survey=survey)
    with connection.cursor() as cursor:
        # The median in the database: progress must not load every rating of a large survey.
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r.time_on_task_s) FROM surveys_rating r "
            "JOIN surveys_assignment a ON a.id = r.assignment_id "
            "JOIN surveys_participant p ON p.id = a.participant_id WHERE p.survey_id = %s",
            [survey.pk],
        )
        median = cursor.fetchone()[0]
    return SurveyProgress(
        cells=cells,
        configs=configs,
        own_query_cells=own_query_cells,
        participants_started=participants["started"],
        participants_finished=participants["finished"],
        ratings=ratings.count(),
        median_time_on_task_s=median,
        participants_failed_attention=ratings.filter(attention_passed=False)
        .order_by()
        .values("assignment__participant_id")
        .distinct()
        .count(),
    )
