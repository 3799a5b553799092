"""Opening a survey runs its searches in the background with a progress page (#16, item 3)."""

import re

import pytest
from django.urls import reverse

from surveys import services
from surveys.models import OpeningJob, ResultSet, Survey
from tests.fixtures import wait_until


def open_through_the_page(client, survey, **extra):
    return client.post(reverse("surveys:manage-status", args=[survey.slug]), {"action": "open", **extra})


@pytest.mark.django_db
def test_opening_a_survey_with_searches_to_run_shows_a_progress_page(researcher_client, make_survey):
    survey = make_survey(queries=3, configs=2, status="draft")
    response = open_through_the_page(researcher_client, survey)
    job = OpeningJob.objects.get(survey=survey)
    assert response["Location"] == reverse("surveys:manage-opening", args=[survey.slug, job.pk])
    page = researcher_client.get(response["Location"]).content.decode()
    assert 'data-testid="opening-count">0 of 6<' in page
    assert '<progress id="opening-progress"' in page and '<meta http-equiv="refresh"' in page
    detail = researcher_client.get(reverse("surveys:manage-detail", args=[survey.slug])).content.decode()
    assert "Opening: results 0 of 6 computed" in detail and 'value="open"' not in detail
    # A second click while it runs does not queue a second job.
    open_through_the_page(researcher_client, survey)
    assert OpeningJob.objects.filter(survey=survey).count() == 1
    assert Survey.objects.get(pk=survey.pk).status == Survey.Status.DRAFT


@pytest.mark.django_db
def test_a_failed_opening_shows_its_reason_and_leaves_the_survey_a_draft(researcher_client, make_survey):
    survey = make_survey(queries=2, configs=2, status="draft")
    job = services.start_opening(survey=survey)
    survey.questions.all().delete()  # changed after it was queued
    services.run_opening(job=job)
    page = researcher_client.get(reverse("surveys:manage-opening", args=[survey.slug, job.pk]))
    html = page.content.decode()
    assert 'data-testid="opening-error"' in html
    assert "Add at least one question before opening." in html
    assert "Try again" in html and '<meta http-equiv="refresh"' not in html
    assert Survey.objects.get(pk=survey.pk).status == Survey.Status.DRAFT


@pytest.mark.django_db
def test_progress_counts_each_computed_cell(make_survey):
    survey = make_survey(queries=2, configs=3, status="draft")
    job = services.start_opening(survey=survey)
    seen = []
    services.compute_result_sets(survey=survey, on_cell=seen.append)
    assert seen == [1, 2, 3, 4, 5, 6]
    assert services.run_opening(job=job).status == OpeningJob.Status.DONE
    job.refresh_from_db()
    assert (job.cells_done, job.cells_total) == (6, 6)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_computes_the_results_and_the_survey_ends_open(
    researcher_client, make_survey, celery_worker
):
    survey = make_survey(queries=3, configs=2, status="draft")
    location = open_through_the_page(researcher_client, survey)["Location"]
    job = OpeningJob.objects.get(survey=survey)
    wait_until(lambda: OpeningJob.objects.get(pk=job.pk).status in ("done", "failed"), what="the opening job")
    job.refresh_from_db()
    assert (job.status, job.cells_done, job.cells_total, job.error) == ("done", 6, 6, "")
    done = researcher_client.get(location, follow=True)
    assert done.redirect_chain[-1][0] == survey.get_absolute_url()
    assert "The survey is open." in done.content.decode()
    assert Survey.objects.get(pk=survey.pk).status == Survey.Status.OPEN
    assert ResultSet.objects.filter(query__survey=survey).count() == 6


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_identical_arms_found_in_the_background_ask_for_confirmation(
    researcher_client, media_root, settings, celery_worker
):
    from embeddings.services import ensure_space
    from search.services import create_weight_config
    from tests.surveys.fixtures import make_catalogue

    space = ensure_space(
        name="open-tiny", model_name=settings.EMBEDDINGS_MODEL, pretrained="none", activate=True
    )
    make_catalogue(n=20, space=space)
    # A text-only query weighs only its text in both stages: these two arms cannot differ on it.
    arms = [
        create_weight_config(
            name=f"bg-{n}", stage1_text=0.5, stage1_image=0.5, stage2_text=t, stage2_image=1 - t
        )
        for n, t in ((1, 0.9), (2, 0.5))
    ]
    survey = services.create_survey(
        title="Text only", slug="text-only-bg", weight_configs=arms, exact=True, results_per_task=5
    )
    services.add_query(survey=survey, text="red summer dress")
    location = open_through_the_page(researcher_client, survey)["Location"]
    job = OpeningJob.objects.get(survey=survey)
    wait_until(lambda: OpeningJob.objects.get(pk=job.pk).status == "failed", what="the opening job to stop")
    arms = researcher_client.get(location, follow=True)
    assert arms.redirect_chain[-1][0] == reverse("surveys:manage-arms", args=[survey.slug])
    html = arms.content.decode()
    pairs = int(re.search(r"<strong>(\d+) of \1</strong>", html).group(1))
    assert "Open the survey anyway" in html
    # Every cell is computed now, so the confirmed opening is immediate.
    open_through_the_page(researcher_client, survey, confirm_identical=str(pairs))
    assert Survey.objects.get(pk=survey.pk).status == Survey.Status.OPEN
