"""Issue 13, finding 8: what a participant saw never changes after the fact. Result sets cite the
search run's stored rows and keep their own copy of each image, so deleting a product after the
ratings leaves the participant page, the export and the report byte-for-byte unchanged."""

import json
import re

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.urls import reverse

from catalogue.models import Product
from catalogue.services import delete_product
from search.models import SearchResult
from surveys import services
from surveys.models import Question, ResultSet
from tests.surveys.fixtures import rate_every_task

pytestmark = pytest.mark.django_db


def rate_all_but_one(survey):
    """Four participants rate every task (relevance marks included); a fifth consents and waits."""
    rate_every_task(survey)
    return services.give_consent(participant=services.join_open_link(survey=survey))


def snapshot(client, survey, waiting) -> dict:
    export = b"".join(
        client.get(reverse("surveys:manage-export", args=[survey.slug, "csv"])).streaming_content
    )
    report = json.loads(client.get(reverse("api-survey-report", args=[survey.slug])).content)
    report.pop("generated_at")
    task = waiting.assignments.order_by("position").first()
    page = client.get(reverse("surveys:task", args=[waiting.token, task.public_id])).content.decode()
    cards = re.findall(r'<li class="card" data-catalog-id="([^"]+)">\s*(<img src="[^"]+")?', page)
    return {"export": export, "report": json.dumps(report, sort_keys=True), "cards": cards}


def test_deleting_a_shown_product_changes_nothing_that_was_shown_or_computed(
    make_survey, researcher_client, django_capture_on_commit_callbacks
):
    survey = make_survey(queries=3, configs=2, status="draft")
    services.add_question(
        survey=survey, kind=Question.Kind.RELEVANCE, wording="Which are relevant?", required=False
    )
    services.open_survey(survey=survey)
    waiting = rate_all_but_one(survey)
    before = snapshot(researcher_client, survey, waiting)
    assert before["cards"] and all(image for _, image in before["cards"])

    result_set = ResultSet.objects.filter(query__survey=survey).first()
    first = result_set.items[0]
    product = Product.objects.get(pk=first["product_id"])
    original_image = product.image.name
    # Delete the product of the first cell and every product on the waiting participant's page.
    doomed = {product.pk} | set(
        Product.objects.filter(catalog_id__in=[c for c, _ in before["cards"]]).values_list("pk", flat=True)
    )
    with django_capture_on_commit_callbacks(execute=True):  # the catalogue deletes files after commit
        for pk in doomed:
            delete_product(product=Product.objects.get(pk=pk))

    assert not default_storage.exists(original_image)  # the catalogue removed its file ...
    assert default_storage.exists(first["image"])  # ... the survey kept its copy
    assert SearchResult.objects.filter(pk=first["result_id"], product=None).exists()
    cache.clear()  # the report is computed again from what is stored, not served from its cache
    after = snapshot(researcher_client, survey, waiting)
    assert after["cards"] == before["cards"]
    assert after["export"].splitlines() == before["export"].splitlines()
    assert after["report"] == before["report"]


def test_result_sets_cite_the_runs_stored_rows(open_survey):
    for result_set in ResultSet.objects.filter(query__survey=open_survey):
        rows = {row.pk: row for row in SearchResult.objects.filter(run=result_set.search_run)}
        assert len(result_set.items) == open_survey.results_per_task
        for item in result_set.items:
            row = rows[item["result_id"]]
            assert (item["catalog_id"], item["title"], item["stage1_score"], item["stage2_score"]) == (
                row.catalog_id,
                row.title,
                row.stage1_score,
                row.stage2_score,
            )
            assert item["image"].startswith("surveys/shown/")
        assert [item["rank"] for item in result_set.items] == sorted(
            item["rank"] for item in result_set.items
        )
        assert result_set.search_run.pinned
