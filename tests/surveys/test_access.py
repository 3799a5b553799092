"""Researcher-only pages, exports and API: participants and anonymous users get nothing."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.surveys.fixtures import survey_data_per_module

pytestmark = pytest.mark.django_db
media_root, catalogue, open_survey = survey_data_per_module()


def manage_urls(survey):
    return [
        reverse("surveys:manage-list"),
        reverse("surveys:manage-detail", args=[survey.slug]),
        reverse("surveys:manage-progress", args=[survey.slug]),
        reverse("surveys:manage-export", args=[survey.slug, "csv"]),
        reverse("surveys:manage-questions", args=[survey.slug]),
    ]


def test_anonymous_users_are_sent_to_login(client, open_survey):
    for url in manage_urls(open_survey):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_signed_in_users_without_the_permission_get_403(client, open_survey, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="pw-123456", is_staff=True)
    plain = django_user_model.objects.create_user("plain", password="pw-123456")
    for user in (staff, plain):
        client.force_login(user)
        for url in manage_urls(open_survey):
            assert client.get(url).status_code == 403, url


def test_participants_cannot_reach_manage_pages(client, open_survey):
    client.post(reverse("surveys:open", args=[open_survey.slug]), {"consent": "on"})
    for url in manage_urls(open_survey):
        assert client.get(url).status_code == 302


def test_researchers_can(researcher_client, open_survey):
    for url in manage_urls(open_survey):
        assert researcher_client.get(url).status_code == 200, url


def test_api_needs_a_researcher_token(client, open_survey, researcher, django_user_model):
    url = reverse("api-survey-export", args=[open_survey.slug, "csv"])
    assert client.get(url).status_code in (401, 403)
    other = django_user_model.objects.create_user("other", password="pw-123456", is_staff=True)
    other_token = Token.objects.create(user=other)
    denied = client.get(url, HTTP_AUTHORIZATION=f"Token {other_token.key}")
    assert denied.status_code == 403
    assert denied.json()["error"]["status"] == 403
    token = Token.objects.create(user=researcher)
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"survey,rating_id,participant_id")
    listing = client.get(reverse("api-survey-list"), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert listing.status_code == 200
    assert listing.json()["results"][0]["slug"] == open_survey.slug
    progress = client.get(
        reverse("api-survey-progress", args=[open_survey.slug]), HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert progress.status_code == 200 and len(progress.json()["cells"]) == 6


def test_researchers_group_migration_grants_the_permission():
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group

    # Transactional tests elsewhere truncate seeded rows, so run the migration's function again.
    migration = importlib.import_module("surveys.migrations.0002_researchers_group")
    migration.create_researchers_group(apps, None)
    migration.create_researchers_group(apps, None)  # idempotent
    group = Group.objects.get(name="Researchers")
    assert group.permissions.filter(codename="conduct_survey", content_type__app_label="surveys").exists()
