"""Save and continue later mid-task: a draft (not a rating), restored when the participant comes back."""

import pytest
from django.urls import reverse

from surveys import services
from surveys.models import Question, Rating, TaskDraft
from tests.surveys.fixtures import survey_data_per_module
from tests.surveys.test_participant_flow import consent, task_url, valid_answers

pytestmark = pytest.mark.django_db
media_root, catalogue, open_survey = survey_data_per_module()


def first_task(client, survey):
    participant = consent(client, survey)
    assignment = participant.assignments.order_by("position").first()
    url = task_url(participant, assignment)
    client.get(url)
    return participant, assignment, url


def question_field(survey, kind) -> str:
    return f"q{survey.questions.get(kind=kind).pk}"


def test_save_later_with_missing_answers_keeps_a_draft_and_shows_the_link(client, open_survey):
    participant, assignment, url = first_task(client, open_survey)
    match = question_field(open_survey, Question.Kind.MATCH)
    paused = client.post(url, {match: "partly", "later": "1"})
    assert paused.status_code == 303
    assert paused["Location"] == reverse("surveys:paused", args=[participant.token])
    page = client.get(paused["Location"]).content.decode()
    assert reverse("surveys:invite", args=[participant.token]) in page
    assert not Rating.objects.exists()
    assert TaskDraft.objects.get(assignment=assignment).values == {match: "partly"}

    resumed = client.get(reverse("surveys:invite", args=[participant.token]), follow=True)
    html = resumed.content.decode()
    assert resumed.redirect_chain[-1][0] == url  # the same task, not the next one
    assert "Your answers from last time are filled in" in html
    assert 'value="partly" id="id_' + match + '_1" checked' in html


def test_a_draft_keeps_only_offered_choices_and_goes_when_the_rating_is_stored(client, open_survey):
    participant, assignment, url = first_task(client, open_survey)
    match = question_field(open_survey, Question.Kind.MATCH)
    satisfaction = question_field(open_survey, Question.Kind.SATISFACTION)
    client.post(url, {match: "maybe", satisfaction: "9", "q999": "x", "later": "1"})
    assert TaskDraft.objects.get(assignment=assignment).values == {}
    client.post(url, {satisfaction: "2", "later": "1"})
    # Replaced: one draft per task.
    assert TaskDraft.objects.get(assignment=assignment).values == {satisfaction: "2"}

    stored = client.post(url, valid_answers(open_survey))
    assert stored.status_code == 303
    assert Rating.objects.get(assignment=assignment).satisfaction == 4
    assert not TaskDraft.objects.exists()


def test_save_later_with_every_answer_stores_the_rating(client, open_survey):
    participant, assignment, url = first_task(client, open_survey)
    paused = client.post(url, valid_answers(open_survey, satisfaction="5") | {"later": "1"})
    assert paused["Location"] == reverse("surveys:paused", args=[participant.token])
    assert Rating.objects.get(assignment=assignment).satisfaction == 5
    assert not TaskDraft.objects.exists()


def test_no_draft_is_kept_once_the_survey_is_closed(client, open_survey):
    _, assignment, url = first_task(client, open_survey)
    services.close_survey(survey=open_survey)
    match = question_field(open_survey, Question.Kind.MATCH)
    closed = client.post(url, {match: "yes", "later": "1"})
    assert closed.status_code == 410
    assert "This survey is closed" in closed.content.decode()
    assert not TaskDraft.objects.exists()
