"""Inputs that used to end in a 500 (or a raw server error) get a 4xx that says what is wrong."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from surveys.models import Participant, Rating, Survey
from tests.surveys.fixtures import survey_data_per_module
from tests.surveys.test_participant_flow import consent, task_url, valid_answers

pytestmark = pytest.mark.django_db
media_root, catalogue, open_survey = survey_data_per_module()


@pytest.mark.parametrize(
    ("query", "expected"),
    [("query=abc&config=1", "query='abc'"), ("query=1&config=abc", "config='abc'"), ("", "query=''")],
)
def test_preview_with_ids_that_are_not_numbers_is_a_400(researcher_client, open_survey, query, expected):
    response = researcher_client.get(f"/surveys/manage/{open_survey.slug}/preview/?{query}")
    assert response.status_code == 400
    text = response.content.decode()
    assert "Preview needs ?query=<query id>&config=<arm id> as numbers" in text
    assert expected in text


def test_preview_with_a_nul_byte_is_a_400(researcher_client, open_survey):
    response = researcher_client.get(f"/surveys/manage/{open_survey.slug}/preview/?query=1&config=1%00")
    assert response.status_code == 400
    assert "NUL byte" in response.content.decode()


def test_a_search_run_id_that_is_not_a_uuid_gets_the_api_json_404(client):
    response = client.get("/api/search-runs/not-a-uuid/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "/api/search-runs/not-a-uuid/" in error["message"]


def test_a_100k_deep_json_body_is_a_400(client):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/search/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "JSON parse error - the body is nested too deeply."


def test_deep_json_in_multipart_filters_is_a_400(client):
    response = client.post("/api/search/", {"text": "shirt", "filters": "[" * 100_000})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["filters"] == ["Value must be valid JSON."]


def test_a_long_allowed_query_is_answered_on_the_post_not_with_a_414(client, tiny_catalogue):
    query = "👗" * 1000
    response = client.post("/", {"q": query, "submitted": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="result"' in html or "result" in html
    assert response.context["run"].query_text == query
    assert response.context["next_url"] == ""


def test_a_too_long_query_gets_the_limit_in_words(client, tiny_catalogue):
    response = client.post("/", {"q": "a" * 1001, "submitted": "1"}, follow=True)
    assert response.status_code == 400
    assert "The query text is longer than 1000 characters." in response.content.decode()


def test_a_rating_for_a_task_never_shown_is_refused_then_accepted_once_shown(client, open_survey):
    participant = consent(client, open_survey)
    assignment = participant.assignments.order_by("position").first()
    url = task_url(participant, assignment)
    blind = client.post(url, valid_answers(open_survey))
    assert blind.status_code == 409
    assert (
        "Please look at the results below before answering; nothing was saved yet." in blind.content.decode()
    )
    assert not Rating.objects.exists()
    seen = client.post(url, valid_answers(open_survey))
    assert seen.status_code == 303
    assert Rating.objects.get().time_on_task_s is not None


def test_a_slug_probe_of_an_invite_only_survey_shows_no_title(client, open_survey):
    Survey.objects.filter(pk=open_survey.pk).update(allow_open_link=False)
    response = client.get(reverse("surveys:open", args=[open_survey.slug]))
    assert response.status_code == 404
    assert open_survey.title not in response.content.decode()
    assert "This link is not valid" in response.content.decode()
    unknown = client.get(reverse("surveys:open", args=["no-such-survey"]))
    assert unknown.content.decode().replace("\n", "") == response.content.decode().replace("\n", "")


def test_a_slug_probe_of_a_closed_survey_shows_no_title(client, open_survey):
    Survey.objects.filter(pk=open_survey.pk).update(status=Survey.Status.CLOSED)
    response = client.get(reverse("surveys:open", args=[open_survey.slug]))
    assert response.status_code == 410
    html = response.content.decode()
    assert "This survey is closed" in html
    assert open_survey.title not in html
    assert not Participant.objects.exists()


def test_the_error_body_of_the_json_parser_is_json(client):
    response = client.post("/api/search/", "{", content_type="application/json")
    assert response.status_code == 400
    assert json.loads(response.content)["error"]["code"] == "parse_error"
