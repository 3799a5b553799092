"""Participation: invites and open links, consent with the assignment plan, own queries, shown
tasks and ratings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from fashionsite.compiled_query import ID_PLACEHOLDER, CompiledRows
from surveys import assignment as plan_rules
from surveys.models import (
    Assignment,
    Participant,
    Question,
    Rating,
    ResultSet,
    Survey,
    SurveyQuery,
    TaskDraft,
)
from surveys.selectors import next_assignment
from surveys.services.errors import SurveyClosed, SurveyError
from surveys.services.queries import add_query
from surveys.services.result_sets import ensure_result_set

# Assignments of participants who consented this long ago and have not rated count as abandoned
# when new participants are steered to the emptiest cells.
ABANDONED_AFTER = timedelta(hours=24)


def _require_open(survey: Survey) -> None:
    if survey.status != Survey.Status.OPEN:
        raise SurveyClosed("This survey is not open.")


@transaction.atomic
def create_invites(*, survey: Survey, count: int) -> list[Participant]:
    """`count` personal invite links (participants who have not consented yet)."""
    if not 1 <= count <= 10_000:
        raise SurveyError("Generate between 1 and 10,000 invite links at a time.")
    return Participant.objects.bulk_create(
        [Participant(survey=survey, entry=Participant.Entry.INVITE) for _ in range(count)]
    )


def join_open_link(*, survey: Survey) -> Participant:
    """A new anonymous participant arriving by the open link (consent comes next)."""
    _require_open(survey)
    if not survey.allow_open_link:
        raise SurveyClosed("This survey takes part by personal invitation only.")
    return Participant.objects.create(survey=survey, entry=Participant.Entry.OPEN)


def _cell_counts(survey: Survey) -> dict[tuple[int, str], int]:
    """Live load per cell: rated assignments plus those of participants still within the time limit."""
    recent = timezone.now() - ABANDONED_AFTER
    rows = (
        Assignment.objects.filter(participant__survey=survey, query__participant=None)
        .filter(Q(rating__isnull=False) | Q(participant__consent_at__gte=recent))
        .values("query_id", "survey_config__code")
        .annotate(n=Count("id"))
    )
    return {(row["query_id"], row["survey_config__code"]): row["n"] for row in rows}


@transaction.atomic
def give_consent(*, participant: Participant) -> Participant:
    """Record consent and store the participant's assignment plan (idempotent).

    The survey row is locked while the row is chosen, so concurrent participants see each other's
    load and the cells stay balanced. FOR NO KEY UPDATE: new participants still join meanwhile
    (PostgreSQL's check of their reference to the survey waits for a FOR UPDATE lock, not for this).
    """
    survey = Survey.objects.select_for_update(no_key=True).get(pk=participant.survey_id)
    _require_open(survey)
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if participant.consent_at is not None:
        return participant
    rotation = Participant.objects.filter(survey=survey).exclude(consent_at=None).count()
    now = timezone.now()
    participant.consent_at = now
    participant.started_at = now
    if survey.task_kind == Survey.TaskKind.SIDE_BY_SIDE:
        from surveys.services.preferences import pair_assignments

        assignments = pair_assignments(survey=survey, participant=participant, participant_index=rotation)
        participant.save(update_fields=["consent_at", "started_at", "plan"])
        Assignment.objects.bulk_create(assignments)
        if not assignments:
            participant.finished_at = now
            participant.save(update_fields=["finished_at"])
        return participant
    configs = list(survey.configs.order_by("position", "id"))
    codes = [config.code for config in configs]
    query_ids = list(
        survey.queries.filter(participant=None).order_by("position", "id").values_list("id", flat=True)
    )
    row = plan_rules.choose_row(
        query_ids, codes, _cell_counts(survey), target=survey.target_ratings_per_cell, rotation=rotation
    )
    tasks = plan_rules.shuffled_tasks(
        plan_rules.latin_square_row(query_ids, codes, row), seed=survey.seed, participant_key=participant.pk
    )
    participant.plan = {
        "row": row,
        "seed": survey.seed,
        "tasks": [{"query": query_id, "config": code} for query_id, code in tasks],
        "own_query_tasks": survey.own_query_tasks,
    }
    participant.save(update_fields=["consent_at", "started_at", "plan"])
    by_code = {config.code: config for config in configs}
    # Opening the survey computed every cell; a query added since gets its result set here.
    computed = {
        (result_set.query_id, result_set.survey_config_id): result_set
        for result_set in ResultSet.objects.filter(query_id__in=query_ids, survey_config__in=configs)
    }
    assignments = []
    for position, (query_id, code) in enumerate(tasks):
        config = by_code[code]
        result_set = computed.get((query_id, config.pk))
        if result_set is None:
            result_set = ensure_result_set(query=SurveyQuery.objects.get(pk=query_id), survey_config=config)
        assignments.append(Assignment.for_result_set(participant, result_set, position))
    Assignment.objects.bulk_create(assignments)
    if not tasks and not survey.own_query_mode:
        participant.finished_at = now
        participant.save(update_fields=["finished_at"])
    return participant


@transaction.atomic
def add_own_query(
    *, participant: Participant, text: str = "", image_bytes: bytes | None = None, image_name: str = ""
) -> Assignment:
    """Own-query mode: the participant's query, answered by a randomly assigned configuration."""
    participant = Participant.objects.select_for_update().select_related("survey").get(pk=participant.pk)
    survey = participant.survey
    _require_open(survey)
    done = participant.own_queries.count()
    if done >= survey.own_query_tasks:
        raise SurveyError("You have already entered all your own queries.")
    if participant.assignments.filter(rating__isnull=True).exists():
        raise SurveyError("Please rate the open task first.")
    query = add_query(
        survey=survey,
        text=text,
        image_bytes=image_bytes,
        image_name=image_name,
        source=SurveyQuery.Source.PARTICIPANT,
        participant=participant,
    )
    codes = list(survey.configs.order_by("position", "id").values_list("code", flat=True))
    code = plan_rules.own_query_config(codes, seed=survey.seed, participant_key=participant.pk, index=done)
    config = survey.configs.get(code=code)
    result_set = ensure_result_set(query=query, survey_config=config)
    last = participant.assignments.order_by("-position").values_list("position", flat=True).first()
    position = 0 if last is None else last + 1
    plan = dict(participant.plan)
    plan.setdefault("own", []).append({"query": query.pk, "config": code})
    participant.plan = plan
    participant.save(update_fields=["plan"])
    assignment = Assignment.for_result_set(participant, result_set, position)
    assignment.save()
    return assignment


def mark_shown(*, assignment: Assignment) -> None:
    """Remember when a task was first shown (time on task starts there; re-opening keeps it)."""
    if assignment.shown_at is None:
        now = timezone.now()
        Assignment.objects.filter(pk=assignment.pk, shown_at=None).update(shown_at=now)
        assignment.shown_at = now


def save_task_draft(*, assignment: Assignment, values: dict) -> TaskDraft | None:
    """Keep a paused task's answers so far ("Save and continue later"): `values` are the task
    form's raw values by field name. Not a rating; replaces the task's previous draft. Returns
    None (nothing stored) when the task already has its rating."""
    with transaction.atomic():
        locked = _lock_open_task(assignment)
        if hasattr(locked, "rating"):
            return None
        draft, _ = TaskDraft.objects.update_or_create(assignment=locked, defaults={"values": values})
        return draft


@dataclass
class SubmitResult:
    rating: Rating
    created: bool
    # Where the participant goes next: their next unanswered task, read in the submit's own
    # transaction (None: none left).
    next_assignment: Assignment | None = None


def submit_rating(*, assignment: Assignment, answers: dict) -> SubmitResult:
    """Store the participant's answers to a task once.

    `answers` is the cleaned form: {question: value} keyed by Question objects. A second submit
    (double click, replayed request) stores nothing and returns the first rating with created=False.
    """
    return store_rating_once(assignment=assignment, build=lambda locked: _new_rating(locked, answers))


def store_rating_once(*, assignment: Assignment, build) -> SubmitResult:
    """Store the rating `build(locked assignment)` makes (an unsaved Rating) once per task.

    The assignment row is locked while the rating is written; a submit that still races past the
    check (its snapshot predates the other's commit) meets the unique constraint and is answered
    with the first rating (created=False). The task's draft, if it was paused, goes with it. The
    result names the participant's next unanswered task; with none left the participant is
    marked finished (when every own query is entered too)."""
    try:
        with transaction.atomic():
            locked = _lock_open_task(assignment)
            if hasattr(locked, "rating"):
                return SubmitResult(locked.rating, False, next_assignment(locked.participant))
            rating = build(locked)
            rating.save()
            if hasattr(locked, "draft"):  # a paused task's draft (none can appear while it is locked)
                locked.draft.delete()
            following = next_assignment(locked.participant)
            if following is None:
                finish_if_done(locked.participant)
            return SubmitResult(rating, True, following)
    except IntegrityError:
        existing = Rating.objects.filter(assignment_id=assignment.pk).first()
        if existing is None:
            raise
        return SubmitResult(existing, False, next_assignment(assignment.participant))


# Every submit runs it: compiled once per process, prepared once per pooled connection
# (fashionsite/compiled_query.py).
_LOCKED_TASK = CompiledRows(
    lambda pk: (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("participant__survey", "rating", "draft")
        .filter(pk=pk)
        .order_by()
    ),
    pk=ID_PLACEHOLDER,
)


def _lock_open_task(assignment: Assignment) -> Assignment:
    """The task's row locked for this transaction, with its survey (refused unless open), rating
    and draft."""
    locked = _LOCKED_TASK.first(pk=assignment.pk)
    if locked is None:
        raise Assignment.DoesNotExist(f"assignment {assignment.pk} no longer exists")
    _require_open(locked.participant.survey)
    return locked


def _new_rating(assignment: Assignment, answers: dict) -> Rating:
    """An unsaved Rating: every answer with the wording shown, typed copies for reports and SQL."""
    now = timezone.now()
    rating = Rating(assignment=assignment, started_at=assignment.shown_at)
    stored = {}
    attention = []
    for question, value in answers.items():
        stored[str(question.pk)] = {"kind": question.kind, "wording": question.wording, "value": value}
        if question.kind == Question.Kind.ATTENTION:
            stored[str(question.pk)]["expected"] = question.expected_value
            attention.append(value == question.expected_value)
        elif question.kind == Question.Kind.MATCH and not rating.match and value:
            rating.match = value
        elif (
            question.kind == Question.Kind.SATISFACTION and rating.satisfaction is None and value is not None
        ):
            rating.satisfaction = value
        elif question.kind in (Question.Kind.RELEVANCE, Question.Kind.GRADED) and not rating.relevance:
            rating.relevance = value or {}
        elif question.kind == Question.Kind.COMMENT and not rating.comment:
            rating.comment = value or ""
    rating.answers = stored
    rating.attention_passed = all(attention) if attention else None
    if assignment.shown_at:
        rating.time_on_task_s = max(0.0, (now - assignment.shown_at).total_seconds())
    return rating


def finish_if_done(participant: Participant) -> None:
    """Mark the participant finished once every task is answered (and every own query entered)."""
    survey = participant.survey
    if participant.assignments.filter(rating__isnull=True).exists():
        return
    if survey.own_query_tasks and participant.own_queries.count() < survey.own_query_tasks:
        return
    Participant.objects.filter(pk=participant.pk, finished_at=None).update(finished_at=timezone.now())
