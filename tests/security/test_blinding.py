"""Blinding and least privilege: nobody but staff learns configuration names or weights; a survey's
runs are for researchers; weight-config writes need the model permission; names and weights are bounded."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from search.models import DEFAULT_WEIGHT_CONFIG, SearchRun
from search.services import default_weight_config
from surveys.forms import SurveyForm
from surveys.models import Survey
from tests.surveys.fixtures import survey_data_per_module
from tests.surveys.test_participant_flow import consent, task_url

pytestmark = pytest.mark.django_db
media_root, catalogue, open_survey = survey_data_per_module()

NEW = {"name": "api-made", "stage1_text": 0.5, "stage1_image": 0.5, "stage2_text": 1, "stage2_image": 0}


@pytest.fixture
def api(api_client):
    return api_client


@pytest.fixture
def researcher_api(django_user_model):
    user = django_user_model.objects.create_user("in-group", password="pw-res-123456", is_staff=True)
    user.groups.add(Group.objects.get(name="Researchers"))
    client = APIClient()
    client.force_authenticate(django_user_model.objects.get(pk=user.pk))
    return client


def arm_secrets(survey) -> list[str]:
    """What would unblind an arm: each config's name and its distinctive weights as the API writes them."""
    secrets = []
    for arm in survey.configs.select_related("weight_config"):
        config = arm.weight_config
        secrets += [
            config.name,
            f'"stage2_text": {config.stage2_text}',
            f'"stage2_text":{config.stage2_text}',
        ]
    return secrets


def test_an_anonymous_participant_learns_no_arm_from_any_url(client, api, open_survey):
    participant = consent(client, open_survey)
    pages = [f"/surveys/s/{open_survey.slug}/", f"/surveys/i/{participant.token}/"]
    pages += [task_url(participant, assignment) for assignment in participant.assignments.all()]
    runs = SearchRun.objects.filter(source=SearchRun.Source.SURVEY)
    assert runs.count() >= 2
    api_urls = ["/api/weight-configs/", "/api/schema/", "/api/surveys/", f"/api/surveys/{open_survey.slug}/"]
    api_urls += [f"/api/weight-configs/{arm.weight_config_id}/" for arm in open_survey.configs.all()]
    api_urls += [f"/api/search-runs/{run.uuid}/" for run in runs]
    seen = {url: client.get(url).content.decode() for url in pages}
    seen |= {url: api.get(url).content.decode() for url in api_urls}
    for url, body in seen.items():
        for secret in arm_secrets(open_survey):
            assert secret not in body, (url, secret)
    assert all(api.get(f"/api/search-runs/{run.uuid}/").status_code == 404 for run in runs)
    assert api.get("/api/weight-configs/").json()["error"]["message"] == (
        "Weight configurations are visible to staff and researchers only."
    )


def test_a_researcher_reads_the_survey_runs_and_their_configs(researcher_api, open_survey):
    run = SearchRun.objects.filter(source=SearchRun.Source.SURVEY).select_related("config").first()
    response = researcher_api.get(f"/api/search-runs/{run.uuid}/")
    assert response.status_code == 200
    assert response.json()["config"]["name"] == run.config.name


def test_staff_without_the_researcher_permission_cannot_read_survey_runs(api, staff, open_survey):
    api.force_authenticate(staff)
    run = SearchRun.objects.filter(source=SearchRun.Source.SURVEY).first()
    assert api.get(f"/api/search-runs/{run.uuid}/").status_code == 404


def test_the_public_search_shows_the_run_id_not_the_config(client, tiny_catalogue, staff):
    default = default_weight_config()
    page = client.get("/", {"q": "red shirt"})
    html = page.content.decode()
    run = page.context["run"]
    assert str(run.uuid)[:8] in html
    assert DEFAULT_WEIGHT_CONFIG not in html and str(default) not in html
    api = APIClient()
    assert api.post("/api/search/", {"text": "red shirt"}, format="json").json()["config"] is None
    client.force_login(staff)
    assert str(default) in client.get("/", {"q": "red shirt"}).content.decode()


def test_a_staff_user_without_the_permission_gets_403_on_writes(api, staff, weight_config):
    config = weight_config()
    api.force_authenticate(staff)
    refused = api.post("/api/weight-configs/", NEW, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "Creating or editing weight configurations needs the search.add_weightconfig permission."
    )
    edit = api.patch(f"/api/weight-configs/{config.pk}/", {"stage2_text": 0.2}, format="json")
    assert edit.status_code == 403
    assert "search.change_weightconfig" in edit.json()["error"]["message"]


def test_the_researchers_group_may_create_configs(researcher_api):
    created = researcher_api.post("/api/weight-configs/", NEW, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "api-made"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bell\x07name", "printable characters only"),
        ("tab\tname", "printable characters only"),
        ("x" * 81, "at most 80 characters"),
    ],
)
def test_config_names_are_printable_and_short(researcher_api, name, message):
    response = researcher_api.post("/api/weight-configs/", {**NEW, "name": name}, format="json")
    assert response.status_code == 400
    assert message in str(response.json()["error"]["fields"]["name"])


def test_config_names_are_trimmed(researcher_api):
    response = researcher_api.post("/api/weight-configs/", {**NEW, "name": "  padded  "}, format="json")
    assert response.status_code == 201
    assert response.json()["name"] == "padded"


@pytest.mark.parametrize("value", [1e308, 1001])
def test_huge_weights_are_refused_at_write(researcher_api, value):
    response = researcher_api.post("/api/weight-configs/", {**NEW, "stage2_text": value}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["stage2_text"] == ["Weights must be at most 1000."]


def test_a_survey_can_require_that_no_arm_is_the_public_default(catalogue, weight_configs):
    default = default_weight_config()
    data = {
        "title": "Blind",
        "consent_text": "I agree.",
        "slug": "blind",
        "results_per_task": 6,
        "target_ratings_per_cell": 5,
        "seed": 1,
        "space": "",
        "own_query_tasks": 0,
        "allow_open_link": "on",
        "arms_hidden_from_public_search": "on",
        "weight_configs": [default.pk, weight_configs[0].pk],
    }
    form = SurveyForm(data)
    assert not form.is_valid()
    assert f"but {default} is the public search's default configuration" in form.errors["weight_configs"][0]
    form = SurveyForm({**data, "weight_configs": [weight_configs[0].pk, weight_configs[1].pk]})
    assert form.is_valid(), form.errors


def test_opening_refuses_a_default_arm_when_the_survey_hides_its_arms(researcher_client, make_survey):
    survey = make_survey(status="draft")
    arm = survey.configs.first()
    arm.weight_config = default_weight_config()
    arm.save()
    Survey.objects.filter(pk=survey.pk).update(arms_hidden_from_public_search=True)
    response = researcher_client.post(
        f"/surveys/manage/{survey.slug}/status/", {"action": "open"}, follow=True
    )
    assert "is the public search&#x27;s default configuration" in response.content.decode()
    assert Survey.objects.get(pk=survey.pk).status == Survey.Status.DRAFT


def test_a_stored_config_with_huge_weights_is_refused_at_read(api, staff, weight_config, tiny_catalogue):
    """A row from before the bound (or edited in SQL) gives a 400 naming it, not a server error."""
    from search.models import WeightConfig

    config = weight_config()
    WeightConfig.objects.filter(pk=config.pk).update(stage2_text=1e308)
    api.force_authenticate(staff)
    response = api.post("/api/search/", {"text": "shirt", "config": config.pk}, format="json")
    assert response.status_code == 400
    assert "has weights out of range (stage2_text)" in response.json()["error"]["message"]
