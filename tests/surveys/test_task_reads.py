"""The reads of a participant's task page and submit (surveys/selectors.py), whose SQL is compiled
once per process (fashionsite/compiled_query.py): they answer what the ORM answers, with every
related object the page shows, and see each change at once (nothing but the SQL is kept)."""

import uuid

import pytest

from surveys import selectors
from surveys.models import Assignment
from tests.surveys.test_participant_flow import consent, task_url, valid_answers

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_a_task_is_read_with_what_its_page_shows_and_only_by_its_participant(client, open_survey):
    participant = consent(client, open_survey)
    other = consent(client.__class__(), open_survey)
    first = participant.assignments.order_by("position").first()
    orm = Assignment.objects.select_related(*selectors.TASK_PAGE_RELATED).get(pk=first.pk)

    found = selectors.participant_task(participant.token, first.public_id)
    assert _fields(found) == _fields(orm) and found._state.db == "default" and not found._state.adding
    for related in ("participant", "query", "result_set", "search_run"):
        assert _fields(getattr(found, related)) == _fields(getattr(orm, related))
    assert _fields(found.participant.survey) == _fields(open_survey)
    assert found.search_run.space == orm.search_run.space
    assert not hasattr(found, "rating") and not hasattr(found, "draft")

    assert selectors.participant_task(other.token, first.public_id) is None  # someone else's task
    assert selectors.participant_task(participant.token, uuid.uuid4()) is None


def test_the_submit_reads_follow_each_stored_rating(client, open_survey):
    participant = consent(client, open_survey)
    first, second = participant.assignments.order_by("position")[:2]
    assert selectors.next_assignment(participant).public_id == first.public_id
    assert selectors.participant_progress(participant).done == 0
    questions = selectors.task_questions(open_survey)
    assert [question.pk for question in questions] == list(
        open_survey.questions.order_by("order", "id").values_list("pk", flat=True)
    )

    client.get(task_url(participant, first))
    response = client.post(task_url(participant, first), valid_answers(open_survey, satisfaction="2"))
    assert response["Location"] == task_url(participant, second)

    submitted = selectors.participant_task(participant.token, first.public_id, for_submit=True)
    assert submitted.rating.satisfaction == 2
    assert selectors.next_assignment(participant).public_id == second.public_id
    assert selectors.participant_progress(participant).done == 1
