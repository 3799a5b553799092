"""Participant pages: consent, one rating per task, and every way of getting it wrong storing nothing."""

import uuid

import pytest
from django.urls import reverse

from surveys import services
from surveys.models import Participant, Question, Rating, Survey
from tests.surveys.fixtures import survey_data_per_module

pytestmark = pytest.mark.django_db
media_root, catalogue, open_survey = survey_data_per_module()


def consent(client, survey) -> Participant:
    response = client.post(reverse("surveys:open", args=[survey.slug]), {"consent": "on"})
    assert response.status_code == 302
    return Participant.objects.get(token=response["Location"].rstrip("/").rsplit("/", 1)[-1])


def valid_answers(survey, match="yes", satisfaction="4") -> dict:
    data = {}
    for question in survey.questions.all():
        if question.kind == Question.Kind.MATCH:
            data[f"q{question.pk}"] = match
        elif question.kind == Question.Kind.SATISFACTION:
            data[f"q{question.pk}"] = satisfaction
    return data


def task_url(participant, assignment) -> str:
    return reverse("surveys:task", args=[participant.token, assignment.public_id])


def test_no_consent_no_tasks(client, open_survey):
    landing = client.get(reverse("surveys:open", args=[open_survey.slug]))
    assert landing.status_code == 200
    assert open_survey.consent_text[:20] in landing.content.decode()
    refused = client.post(reverse("surveys:open", args=[open_survey.slug]), {})
    assert refused.status_code == 200
    assert "Please tick the box" in refused.content.decode()
    assert not Participant.objects.exists()


def test_consent_stores_time_and_plan_then_tasks_follow(client, open_survey):
    participant = consent(client, open_survey)
    assert participant.consent_at is not None
    assert len(participant.plan["tasks"]) == open_survey.queries.count()
    follow = client.get(reverse("surveys:invite", args=[participant.token]))
    first = participant.assignments.order_by("position").first()
    assert follow["Location"] == task_url(participant, first)
    page = client.get(follow["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Does the returned set match the style/pattern you had in mind?" in html
    assert 'type="radio"' in html and "<legend>" in html
    # Blinded: no configuration name or code reaches the participant.
    for config in open_survey.configs.select_related("weight_config"):
        assert config.weight_config.name not in html
    assert "Task 1 of" in html
    # The catalogue's space has random weights: a page showing its results says so (the same
    # words for every configuration, so the blinding holds).
    assert 'data-testid="random-weights"' in html


def test_rating_is_stored_once_with_wording_and_double_submit_is_polite(client, open_survey):
    participant = consent(client, open_survey)
    assignment = participant.assignments.order_by("position").first()
    url = task_url(participant, assignment)
    client.get(url)
    first = client.post(url, valid_answers(open_survey))
    assert first.status_code == 303
    again = client.post(url, valid_answers(open_survey, match="no", satisfaction="1"), follow=True)
    assert again.status_code == 200
    assert "already saved" in again.content.decode()
    rating = Rating.objects.get()
    assert (rating.match, rating.satisfaction) == ("yes", 4)
    match_question = open_survey.questions.get(kind=Question.Kind.MATCH)
    assert rating.answers[str(match_question.pk)]["wording"] == match_question.wording
    assert rating.time_on_task_s is not None and rating.time_on_task_s >= 0


def test_replayed_request_from_another_browser_stores_nothing_twice(client, open_survey, client_factory):
    participant = consent(client, open_survey)
    assignment = participant.assignments.order_by("position").first()
    url = task_url(participant, assignment)
    client.get(url)
    assert client.post(url, valid_answers(open_survey)).status_code == 303
    replay = client_factory().post(url, valid_answers(open_survey, satisfaction="2"))
    assert replay.status_code == 302
    assert Rating.objects.count() == 1
    assert Rating.objects.get().satisfaction == 4


def test_forged_assignment_is_a_clear_404_and_stores_nothing(client, open_survey):
    participant = consent(client, open_survey)
    forged = reverse("surveys:task", args=[participant.token, uuid.uuid4()])
    response = client.post(forged, valid_answers(open_survey))
    assert response.status_code == 404
    html = response.content.decode()
    assert "This task does not exist" in html
    assert reverse("surveys:invite", args=[participant.token]) in html  # the way back
    assert not Rating.objects.exists()


def test_another_participants_task_is_a_clear_403_and_stores_nothing(client, open_survey, client_factory):
    alice = consent(client, open_survey)
    bob = consent(client_factory(), open_survey)
    alices_task = alice.assignments.first()
    url = reverse("surveys:task", args=[bob.token, alices_task.public_id])
    response = client.post(url, valid_answers(open_survey))
    assert response.status_code == 403
    assert "This task belongs to someone else" in response.content.decode()
    assert alice.token not in response.content.decode()
    assert client.get(url).status_code == 403
    assert not Rating.objects.exists()


def test_unknown_token_is_a_clear_404(client, open_survey):
    for url in (
        reverse("surveys:invite", args=["not-a-token"]),
        reverse("surveys:task", args=["not-a-token", uuid.uuid4()]),
        reverse("surveys:open", args=["no-such-survey"]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "This link is not valid" in response.content.decode(), url


def test_closed_survey_is_410_and_stores_nothing(client, open_survey):
    participant = consent(client, open_survey)
    assignment = participant.assignments.first()
    services.close_survey(survey=open_survey)
    assert client.post(task_url(participant, assignment), valid_answers(open_survey)).status_code == 410
    assert client.get(reverse("surveys:open", args=[open_survey.slug])).status_code == 410
    assert client.get(reverse("surveys:invite", args=[participant.token])).status_code == 410
    assert not Rating.objects.exists()


def test_draft_survey_is_not_reachable(client, draft_survey):
    assert client.get(reverse("surveys:open", args=[draft_survey.slug])).status_code == 404
    invite = services.create_invites(survey=draft_survey, count=1)[0]
    assert client.get(reverse("surveys:invite", args=[invite.token])).status_code == 404


@pytest.mark.parametrize(
    ("match", "satisfaction", "message"),
    [
        ("yes", "9", "Please choose a number from 1 to 5."),
        ("yes", "0", "Please choose a number from 1 to 5."),
        ("maybe", "3", "Please choose yes, partly or no."),
        ("", "3", "Please choose yes, partly or no."),
        ("yes", "", "Please choose a number from 1 to 5."),
    ],
)
def test_out_of_range_or_missing_answers_reshow_the_form(client, open_survey, match, satisfaction, message):
    participant = consent(client, open_survey)
    url = task_url(participant, participant.assignments.first())
    client.get(url)
    response = client.post(url, valid_answers(open_survey, match=match, satisfaction=satisfaction))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Rating.objects.exists()


def test_same_cell_same_results_and_reopening_shows_the_same_set(client, open_survey, client_factory):
    participants = [consent(client_factory(), open_survey) for _ in range(4)]
    by_cell = {}
    for participant in participants:
        for assignment in participant.assignments.all():
            key = (assignment.query_id, assignment.survey_config_id)
            by_cell.setdefault(key, set()).add(assignment.search_run_id)
    assert all(len(runs) == 1 for runs in by_cell.values())
    participant = participants[0]
    url = task_url(participant, participant.assignments.first())
    browser = client_factory()
    first = browser.get(url).content.decode()
    second = browser.get(url).content.decode()
    grid = lambda html: html.split('data-testid="result-grid"')[1].split("</ol>")[0]  # noqa: E731
    assert grid(first) == grid(second)
    assert participant.assignments.first().search_run.pinned


def test_open_link_resumes_in_the_same_browser(client, open_survey):
    participant = consent(client, open_survey)
    again = client.get(reverse("surveys:open", args=[open_survey.slug]))
    assert again["Location"] == reverse("surveys:invite", args=[participant.token])
    assert Participant.objects.count() == 1


def test_finishing_every_task_reaches_thank_you(client, open_survey):
    participant = consent(client, open_survey)
    for assignment in participant.assignments.order_by("position"):
        client.get(task_url(participant, assignment))
        assert client.post(task_url(participant, assignment), valid_answers(open_survey)).status_code == 303
    final = client.get(reverse("surveys:invite", args=[participant.token]), follow=True)
    assert "Thank you" in final.content.decode()
    participant.refresh_from_db()
    assert participant.finished_at is not None
    assert Survey.objects.get().status == Survey.Status.OPEN


def test_attention_check_is_stored_with_the_rating(client, open_survey):
    """An instructed-response item: the answer, its wording and the instructed value are kept, and
    the rating records whether it was answered as instructed."""
    check = services.add_question(
        survey=open_survey,
        kind=Question.Kind.ATTENTION,
        wording="To show you are reading carefully, choose 2.",
        expected_value=2,
    )
    participant = consent(client, open_survey)
    first, second = participant.assignments.order_by("position")[:2]
    page = client.get(task_url(participant, first)).content.decode()
    assert check.wording in page and f'name="q{check.pk}" value="2"' in page
    missing = client.post(task_url(participant, first), valid_answers(open_survey))
    assert missing.status_code == 400 and not Rating.objects.exists()
    passed = valid_answers(open_survey) | {f"q{check.pk}": "2"}
    assert client.post(task_url(participant, first), passed).status_code == 303
    failed = valid_answers(open_survey) | {f"q{check.pk}": "5"}
    client.get(task_url(participant, second))
    assert client.post(task_url(participant, second), failed).status_code == 303
    ratings = {rating.assignment_id: rating for rating in Rating.objects.all()}
    assert ratings[first.pk].attention_passed is True
    assert ratings[second.pk].attention_passed is False
    assert ratings[second.pk].answers[str(check.pk)] == {
        "kind": "attention",
        "wording": check.wording,
        "value": 5,
        "expected": 2,
    }


def test_attention_check_without_an_instructed_answer_is_refused(open_survey):
    with pytest.raises(services.SurveyError, match="attention check needs the answer"):
        services.add_question(survey=open_survey, kind=Question.Kind.ATTENTION, wording="Choose 2.")
    assert not open_survey.questions.filter(kind=Question.Kind.ATTENTION).exists()


def test_open_link_limits_new_participants_per_address_without_storing_it(
    open_survey, client_factory, settings
):
    settings.SURVEY_JOINS_PER_HOUR = 2
    for _ in range(2):
        consent(client_factory(REMOTE_ADDR="203.0.113.7"), open_survey)
    refused = client_factory(REMOTE_ADDR="203.0.113.7").post(
        reverse("surveys:open", args=[open_survey.slug]), {"consent": "on"}
    )
    assert refused.status_code == 429
    assert "Too many new participants" in refused.content.decode()
    assert open_survey.participants.count() == 2
    # Another address is not affected, and no address reaches the database.
    consent(client_factory(REMOTE_ADDR="198.51.100.4"), open_survey)
    assert open_survey.participants.count() == 3
    stored = " ".join(str(values) for values in Participant.objects.values_list())
    assert "203.0.113.7" not in stored and "198.51.100.4" not in stored
