"""Side-by-side preference surveys: the pair assignment at consent and storing a preference.

The design is surveys.sidebyside.design's: the n-th consenting participant (n from 0) gets, for
the i-th query, arm pair (i + n) mod P, so every pair is shown within one time of the others per
query; each pair starts on a side seeded by the survey's seed and flips every time it is shown, so
left and right stay balanced per pair and per arm. The task order on screen is shuffled per
participant as in rating surveys.
"""

from __future__ import annotations

from django.utils import timezone

from surveys import assignment as plan_rules
from surveys.models import PREFERENCE_CHOICES, Assignment, Participant, Rating, ResultSet, Survey, SurveyQuery
from surveys.services.errors import SurveyError
from surveys.services.participation import store_rating_once
from surveys.services.result_sets import ensure_result_set
from surveys.sidebyside import design

PREFERENCES = tuple(value for value, _label in PREFERENCE_CHOICES)
MAX_REASON_CHARS = 2000


def pair_plan(*, survey: Survey, participant_index: int, query_ids: list[int], codes: list[str]):
    """[(query id, left code, right code)] of the participant_index-th participant, shuffled."""
    rows = design.pair_tasks(
        codes, n_queries=len(query_ids), n_participants=participant_index + 1, seed=survey.seed
    )
    cells = [(query_ids[t.query], (t.left, t.right)) for t in rows if t.participant == participant_index]
    return [
        (query_id, left, right)
        for query_id, (left, right) in plan_rules.shuffled_tasks(
            cells, seed=survey.seed, participant_key=participant_index
        )
    ]


def pair_assignments(*, survey: Survey, participant: Participant, participant_index: int) -> list[Assignment]:
    """Unsaved assignments of a consenting participant of a side-by-side survey (see the module
    docstring); also stores the plan on the participant (the caller saves it)."""
    configs = {config.code: config for config in survey.configs.order_by("position", "id")}
    if len(configs) < 2:
        raise SurveyError("A side-by-side survey needs at least two arms to compare.")
    query_ids = list(
        survey.queries.filter(participant=None).order_by("position", "id").values_list("id", flat=True)
    )
    tasks = pair_plan(
        survey=survey, participant_index=participant_index, query_ids=query_ids, codes=list(configs)
    )
    participant.plan = {
        "index": participant_index,
        "seed": survey.seed,
        "tasks": [{"query": q, "left": left, "right": right} for q, left, right in tasks],
    }
    computed = {
        (rs.query_id, rs.survey_config_id): rs
        for rs in ResultSet.objects.filter(query_id__in=query_ids, survey_config__in=configs.values())
    }

    def result_set(query_id, config):
        found = computed.get((query_id, config.pk))
        return found or ensure_result_set(query=SurveyQuery.objects.get(pk=query_id), survey_config=config)

    assignments = []
    for position, (query_id, left, right) in enumerate(tasks):
        left_set = result_set(query_id, configs[left])
        assignments.append(
            Assignment(
                participant=participant,
                query_id=query_id,
                survey_config=configs[left],
                result_set=left_set,
                search_run_id=left_set.search_run_id,
                right_config=configs[right],
                right_result_set=result_set(query_id, configs[right]),
                position=position,
            )
        )
    return assignments


def submit_preference(*, assignment: Assignment, preference: str, reason: str = ""):
    """Store a side-by-side answer once: `preference` is left / right / both / neither, `reason`
    optional free text. A second submit stores nothing and returns the first answer (created=False)."""
    if preference not in PREFERENCES:
        raise SurveyError(f"Choose one of: {', '.join(PREFERENCES)} (got {preference!r}).")
    if len(reason) > MAX_REASON_CHARS:
        raise SurveyError(f"Please keep the reason under {MAX_REASON_CHARS} characters.")
    if assignment.right_config_id is None:
        raise SurveyError("This task is not a side-by-side comparison.")

    def build(locked: Assignment) -> Rating:
        now = timezone.now()
        return Rating(
            assignment=locked,
            preference=preference,
            preference_reason=reason.strip(),
            started_at=locked.shown_at,
            time_on_task_s=max(0.0, (now - locked.shown_at).total_seconds()) if locked.shown_at else None,
        )

    return store_rating_once(assignment=assignment, build=build)
