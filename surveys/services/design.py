"""Survey design: the survey row, its compared configurations and its questions (drafts)."""

from __future__ import annotations

import string

from django.db import transaction
from django.utils.text import capfirst

from search.services import unpin_runs
from surveys.models import DEFAULT_QUESTIONS, Assignment, Question, ResultSet, Survey, SurveyConfig
from surveys.services.errors import SurveyError

# Survey settings that decide which products a (query, configuration) cell shows.
RESULT_SETTINGS = ("results_per_task", "space", "exact", "task_kind")


@transaction.atomic
def create_survey(*, title: str, slug: str, weight_configs, created_by=None, **fields) -> Survey:
    """A draft survey comparing two or more arms, with the seed's two default questions. Each item of
    `weight_configs` is a WeightConfig (searched in the survey's space) or a (space, WeightConfig) pair."""
    weight_configs = list(weight_configs)
    if len(weight_configs) < 2:
        raise SurveyError("A survey compares at least two weight configurations.")
    survey = Survey.objects.create(title=title, slug=slug, created_by=created_by, **fields)
    set_survey_configs(survey=survey, weight_configs=weight_configs)
    for order, question in enumerate(DEFAULT_QUESTIONS):
        Question.objects.create(survey=survey, order=order, **question)
    return survey


def _config_code(index: int) -> str:
    letters = string.ascii_uppercase
    return letters[index] if index < 26 else f"{letters[index // 26 - 1]}{letters[index % 26]}"


@transaction.atomic
def set_survey_configs(*, survey: Survey, weight_configs) -> list[SurveyConfig]:
    """Replace the compared arms (draft surveys only). Codes are neutral letters. An item is a
    WeightConfig (the survey's space) or a (space, WeightConfig) pair: arms may differ by space."""
    arms = list(dict.fromkeys(item if isinstance(item, tuple) else (None, item) for item in weight_configs))
    if len(arms) < 2:
        raise SurveyError("A survey compares at least two weight configurations.")
    if survey.status != Survey.Status.DRAFT and survey.participants.exists():
        raise SurveyError("The configurations cannot change once participants have joined.")
    survey.configs.all().delete()
    return [
        SurveyConfig.objects.create(
            survey=survey, weight_config=config, space=space, code=_config_code(index), position=index
        )
        for index, (space, config) in enumerate(arms)
    ]


@transaction.atomic
def add_question(
    *,
    survey: Survey,
    kind: str,
    wording: str,
    required: bool = True,
    expected_value: int | None = None,
    **labels,
) -> Question:
    """Add a question at the end of the survey. An attention check needs `expected_value` (1–5),
    the answer its wording asks for."""
    low, high = Question.SATISFACTION_RANGE
    if kind == Question.Kind.ATTENTION and (expected_value is None or not low <= expected_value <= high):
        raise SurveyError(f"An attention check needs the answer ({low}–{high}) its wording asks for.")
    order = (survey.questions.order_by("-order").values_list("order", flat=True).first() or 0) + 1
    return Question.objects.create(
        survey=survey,
        kind=kind,
        wording=wording,
        required=required,
        order=order,
        expected_value=expected_value if kind == Question.Kind.ATTENTION else None,
        **labels,
    )


SURVEY_FIELDS = (
    "title",
    "slug",
    "instructions",
    "consent_text",
    "results_per_task",
    "target_ratings_per_cell",
    "seed",
    "space",
    "exact",
    "own_query_tasks",
    "allow_open_link",
    "arms_hidden_from_public_search",
    "task_kind",
)


@transaction.atomic
def update_survey(*, survey: Survey, weight_configs=None, **fields) -> Survey:
    """Change a survey's settings (`SURVEY_FIELDS`, as keyword arguments) and, when given, its
    configurations.

    Settings that decide what a cell shows (results per task, space, exact search) cannot change
    once participants have been assigned tasks: everyone in a cell must see the same set. Before
    that, result sets already computed (e.g. by a preview) are dropped and computed again.
    """
    unknown = sorted(set(fields) - set(SURVEY_FIELDS))
    if unknown:
        raise SurveyError(f"Unknown survey settings: {', '.join(unknown)}.")
    stored = Survey.objects.select_for_update().get(pk=survey.pk)
    changed = sorted(
        name for name in RESULT_SETTINGS if name in fields and getattr(stored, name) != fields[name]
    )
    if changed:
        if Assignment.objects.filter(participant__survey=stored).exists():
            names = ", ".join(capfirst(Survey._meta.get_field(name).verbose_name) for name in changed)
            raise SurveyError(
                f"Participants have already been shown results, so these settings cannot change: {names}."
            )
        stale = ResultSet.objects.filter(query__survey=stored)
        unpin_runs(run_ids=list(stale.values_list("search_run_id", flat=True)))
        stale.delete()
    for name, value in fields.items():
        setattr(stored, name, value)
    stored.save()
    if weight_configs is not None:
        arms = list(weight_configs)
        current = list(stored.configs.order_by("position").values_list("space_id", "weight_config_id"))
        wanted = [(arm[0].pk, arm[1].pk) if isinstance(arm, tuple) else (None, arm.pk) for arm in arms]
        if wanted != current:
            set_survey_configs(survey=stored, weight_configs=arms)
    return stored


QUESTION_FIELDS = (
    "kind",
    "wording",
    "low_label",
    "high_label",
    "grade_labels",
    "expected_value",
    "required",
    "order",
)


@transaction.atomic
def save_questions(*, survey: Survey, questions=(), delete_ids=()) -> None:
    """Save reworded or added questions and delete others. `questions`: dicts of `QUESTION_FIELDS`
    with "id" for an existing question of this survey (absent for a new one); `delete_ids`: ids of
    questions to remove. Stored answers keep the wording they were given."""
    own = {question.pk: question for question in survey.questions.all()}
    for data in questions:
        pk = data.get("id")
        if pk is not None and pk not in own:
            raise SurveyError(f"Question {pk} is not part of this survey.")
        question = own[pk] if pk is not None else Question(survey=survey)
        for name in QUESTION_FIELDS:
            if name in data:
                setattr(question, name, data[name])
        question.save()
    survey.questions.filter(pk__in=[pk for pk in delete_ids if pk in own]).delete()
