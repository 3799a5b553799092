"""The Django admin for weight configurations versions a config that a survey or a run cites,
edits an unused one in place, and keeps superseded versions read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from search.models import WeightConfig
from surveys.services import create_survey

pytestmark = pytest.mark.django_db


def change_form(config: WeightConfig, **changes) -> dict:
    fields = (
        "description", "stage1_text", "stage1_image", "k1", "stage2_text", "stage2_image",
        "product_image_share", "product_title_share", "k", "ef_search",
    )  # fmt: skip
    data = {name: getattr(config, name) for name in fields if hasattr(config, name)}
    if config.exact:
        data["exact"] = "on"
    data.update(changes)
    return {name: "" if value is None else value for name, value in data.items()}


def test_editing_a_config_a_survey_compares_makes_a_new_version(admin_client, weight_config):
    config, other = weight_config(), weight_config()
    survey = create_survey(title="Admin fit", slug="admin-fit", weight_configs=[config, other])
    url = reverse("admin:search_weightconfig_change", args=[config.pk])
    response = admin_client.post(url, change_form(config, stage2_text=0.7, stage2_image=0.3), follow=True)
    assert response.status_code == 200
    assert "your changes are version 2" in response.content.decode()
    config.refresh_from_db()
    new = WeightConfig.objects.get(name=config.name, version=2)
    assert (new.stage2_text, new.is_current) == (0.7, True)
    assert (config.stage2_text, config.is_current, config.superseded_by) == (0.9, False, new)
    assert survey.configs.get(weight_config=config)  # the survey keeps citing what it compared

    # The superseded version is history: view only, and a forged post is refused.
    page = admin_client.get(url).content.decode()
    assert 'name="stage2_text"' not in page
    forged = admin_client.post(url, change_form(config, stage2_text=0.1, stage2_image=0.9))
    assert forged.status_code == 403
    config.refresh_from_db()
    assert config.stage2_text == 0.9


def test_an_unused_config_is_edited_in_place_and_cannot_be_renamed(admin_client, weight_config):
    config = weight_config()
    url = reverse("admin:search_weightconfig_change", args=[config.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="name"' not in page  # the name is the config's identity
    response = admin_client.post(url, change_form(config, k=7, name="renamed"))
    assert response.status_code == 302
    config.refresh_from_db()
    assert (config.k, config.version, config.name) == (7, 1, config.name)
    assert WeightConfig.objects.filter(name=config.name).count() == 1


def test_adding_a_config_through_the_admin_validates_the_weights(admin_client):
    url = reverse("admin:search_weightconfig_add")
    template = WeightConfig(name="new", stage1_text=0.5, stage1_image=0.5, stage2_text=0.9, stage2_image=0.1)
    bad = admin_client.post(url, change_form(template, name="bad-weights", stage2_text=-1))
    assert bad.status_code == 200 and "Weights cannot be negative." in bad.content.decode()
    assert not WeightConfig.objects.filter(name="bad-weights").exists()
    good = admin_client.post(url, change_form(template, name="admin-made"))
    assert good.status_code == 302
    assert WeightConfig.objects.get(name="admin-made").version == 1
