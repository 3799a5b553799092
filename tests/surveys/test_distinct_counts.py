"""Distinct values are distinct whatever the model's default ordering (issue #16, item 1)."""

import re

import pytest
from django.urls import reverse

from surveys import report, selectors
from tests.surveys.report_factories import rated_survey_with_attention_failures

pytestmark = pytest.mark.django_db


def test_sampling_form_lists_each_category_once(researcher_client, draft_survey):
    # The catalogue fixture has 40 products in two master categories (Apparel, Footwear).
    html = researcher_client.get(reverse("surveys:manage-detail", args=[draft_survey.slug])).content.decode()
    boxes = re.findall(r'name="categories" value="([^"]+)"', html)
    assert boxes == ["Apparel", "Footwear"]


def _fail_twice():
    # One participant fails the check on two tasks: still one participant.
    return rated_survey_with_attention_failures(failed_tasks=2)[0]


def test_participants_who_failed_attention_are_counted_once_in_the_report():
    survey = _fail_twice()
    data = report.build_report(survey, report.ReportFilters(exclude_failed_attention=True), n_resamples=50)
    assert (
        "1 participant who failed an attention check was left out, with all their ratings."
        in (data["statistics"]["explanations"])
    )


def test_participants_who_failed_attention_are_counted_once_on_the_progress_page(researcher_client):
    survey = _fail_twice()
    assert selectors.survey_progress(survey).participants_failed_attention == 1
    page = researcher_client.get(reverse("surveys:manage-progress", args=[survey.slug])).content.decode()
    assert 'data-testid="failed-attention">1<' in page
