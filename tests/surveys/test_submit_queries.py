"""Database round trips per participant submit, the busiest request of a fielded survey
(benchmarks/survey_load.py): the task and its survey in one query, the questions, then one short
transaction (lock the assignment with its rating and draft, insert the rating, delete the draft
only if the task was paused, the next task: none left means the participant may be done)."""

import pytest

from surveys.models import Rating
from tests.surveys.test_participant_flow import consent, task_url, valid_answers

pytestmark = pytest.mark.django_db


def test_a_submit_takes_at_most_seven_round_trips(client, open_survey, django_assert_max_num_queries):
    participant = consent(client, open_survey)
    first, second = participant.assignments.order_by("position")[:2]
    url = task_url(participant, first)
    client.get(url)
    answers = valid_answers(open_survey)
    # 5 queries + BEGIN/COMMIT (savepoints under the test's transaction); no DELETE: the task had
    # no draft.
    with django_assert_max_num_queries(7):
        response = client.post(url, answers)
    assert response.status_code == 303
    assert response["Location"] == task_url(participant, second)
    assert Rating.objects.get().assignment == first


def test_a_task_page_takes_at_most_four_round_trips(client, open_survey, django_assert_max_num_queries):
    """The task with everything it shows in one query, the questions, marking it shown, the progress
    count; the site-wide banner's active space is not asked (the page brings its own), nor the
    session (only the staff header's links need the user, and a participant's page has no such header)."""
    participant = consent(client, open_survey)
    first = participant.assignments.order_by("position").first()
    with django_assert_max_num_queries(4):
        response = client.get(task_url(participant, first))
    assert response.status_code == 200
    assert first.query.text in response.content.decode()
