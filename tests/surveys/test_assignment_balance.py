"""Counterbalancing on the database: 30 participants on a 6-query × 3-configuration survey."""

from collections import Counter

import pytest

from surveys import services
from surveys.models import Assignment, Question
from tests.surveys.fixtures import catalogue_per_module

pytestmark = pytest.mark.django_db
media_root, catalogue = catalogue_per_module()


def rate_everything(participant):
    questions = list(participant.survey.questions.all())
    for assignment in participant.assignments.order_by("position"):
        answers = {q: ("partly" if q.kind == Question.Kind.MATCH else 3) for q in questions}
        assert services.submit_rating(assignment=assignment, answers=answers).created


def test_thirty_participants_leave_every_cell_within_one_rating(make_survey):
    survey = make_survey(queries=6, configs=3, target=10)
    for _ in range(30):
        participant = services.join_open_link(survey=survey)
        participant = services.give_consent(participant=participant)
        rate_everything(participant)
        queries = list(participant.assignments.values_list("query_id", flat=True))
        assert len(queries) == len(set(queries)) == 6  # no query twice, every query once

    cells = Counter(
        Assignment.objects.filter(participant__survey=survey, rating__isnull=False).values_list(
            "query_id", "survey_config_id"
        )
    )
    assert len(cells) == 18
    assert max(cells.values()) - min(cells.values()) <= 1
    assert sum(cells.values()) == 180


def test_balance_holds_at_every_step_and_configs_rotate(make_survey):
    survey = make_survey(queries=6, configs=3, target=10)
    for step in range(1, 13):
        participant = services.give_consent(participant=services.join_open_link(survey=survey))
        rate_everything(participant)
        configs_seen = Counter(participant.assignments.values_list("survey_config__code", flat=True))
        assert configs_seen == {"A": 2, "B": 2, "C": 2}  # each config twice within a participant
        cells = Counter(
            Assignment.objects.filter(participant__survey=survey).values_list("query_id", "survey_config_id")
        )
        counts = [
            cells.get((q, c), 0)
            for q in survey.queries.values_list("id", flat=True)
            for c in survey.configs.values_list("id", flat=True)
        ]
        assert max(counts) - min(counts) <= 1, f"unbalanced after {step} participants"


def test_abandoned_participants_do_not_block_cells(make_survey):
    """Steering prefers the cells furthest below target: rows with ratings missing get the next participants."""
    survey = make_survey(queries=3, configs=3, target=2)
    first = services.give_consent(participant=services.join_open_link(survey=survey))
    rate_everything(first)
    second = services.give_consent(participant=services.join_open_link(survey=survey))
    assert second.plan["row"] != first.plan["row"]


def test_plan_is_stored_and_matches_assignments(make_survey):
    survey = make_survey(queries=4, configs=2)
    participant = services.give_consent(participant=services.join_open_link(survey=survey))
    planned = [(task["query"], task["config"]) for task in participant.plan["tasks"]]
    stored = list(participant.assignments.order_by("position").values_list("query_id", "survey_config__code"))
    assert planned == stored
    assert participant.plan["seed"] == survey.seed
