"""While the active space has random weights, the pages that show results say so: search, product,
report (page and HTML download), the embeddings dashboard, and a survey participant's task page and
its preview (for the space the task's results came from); with trained weights none does."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.models import EmbeddingSpace
from embeddings.services import compute_batch_vectors, ensure_space, set_active_space, upsert_vectors
from surveys import services as surveys
from tests.factories import make_products
from tests.fixtures import logged_in, staff_user
from tests.surveys.fixtures import make_weight_configs

BANNER = 'data-testid="random-weights"'


@pytest.mark.django_db
def test_every_result_page_says_the_weights_are_random(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    space = ensure_space(name="notice-tiny", model_name="fashionsite-tiny", pretrained="none", activate=True)
    products = make_products(8)
    rows, _ = compute_batch_vectors(space, products)
    upsert_vectors(space, rows)
    survey = surveys.create_survey(
        title="Notice survey",
        slug="notice-survey",
        weight_configs=make_weight_configs(2),
        results_per_task=4,
        exact=True,
    )
    surveys.sample_catalogue_queries(survey=survey, count=2, categories=[])
    surveys.open_survey(survey=survey)

    researcher = logged_in(staff_user("notice-researcher", "surveys.conduct_survey"))
    admin = logged_in(staff_user("notice-admin", "catalogue.manage_catalog"))
    participant = surveys.give_consent(participant=surveys.join_open_link(survey=survey))
    task = participant.assignments.order_by("position").first()
    task_url = reverse("surveys:task", args=[participant.token, task.public_id])
    preview_url = reverse("surveys:manage-preview", args=[survey.slug])
    preview_query = {"query": task.query_id, "config": task.survey_config_id}
    pages = {
        "survey task": Client().get(task_url),
        "survey preview": researcher.get(preview_url, preview_query),
        "search": client.get("/", {"q": "red shirt"}),
        "product": client.get(reverse("search:product", args=[products[0].catalog_id])),
        "report": researcher.get(reverse("surveys:report", args=[survey.slug])),
        "report download": researcher.get(reverse("surveys:report-download", args=[survey.slug])),
        "dashboard": admin.get(reverse("embeddings:dashboard")),
    }
    assert 'data-testid="result"' in pages["search"].content.decode()
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.content.decode()
        assert BANNER in html and "random weights" in html, f"{name} does not say the weights are random"

    trained = EmbeddingSpace.objects.create(
        name="notice-trained", model_name="ViT-B-32", pretrained="laion2b_s34b_b79k", dimension=512
    )
    set_active_space(trained)
    for response in (
        client.get("/"),
        admin.get(reverse("embeddings:dashboard")),
        researcher.get(reverse("surveys:report-download", args=[survey.slug])),
    ):
        assert BANNER not in response.content.decode()
    # The task's results still come from the random space: its page keeps saying so.
    assert BANNER in Client().get(task_url).content.decode()
