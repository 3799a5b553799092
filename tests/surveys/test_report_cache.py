"""The report is cached per survey and filter set and recomputed after a new rating (#16, item 4)."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from tests.surveys.report_factories import make_rated_survey

pytestmark = pytest.mark.django_db


def add_one_rating(survey, satisfaction: int = 5):
    """A new participant rates one cell (as a participant page would store it)."""
    from surveys.models import Assignment, Participant, Rating

    model = Assignment.objects.filter(participant__survey=survey).order_by("id").first()
    now = timezone.now()
    participant = Participant.objects.create(survey=survey, consent_at=now, started_at=now)
    assignment = Assignment.objects.create(
        participant=participant,
        query=model.query,
        survey_config=model.survey_config,
        result_set=model.result_set,
        search_run_id=model.search_run_id,
        position=0,
        shown_at=now,
    )
    return Rating.objects.create(
        assignment=assignment,
        satisfaction=satisfaction,
        match="yes",
        relevance={},
        answers={},
        started_at=now,
    )


def computed(html: str) -> str:
    return re.search(r'data-testid="report-computed">([^<]+)<', html).group(1)


@pytest.fixture
def rated(settings):
    settings.REPORT_BOOTSTRAP_RESAMPLES = 100
    cache.clear()
    return make_rated_survey(n_queries=6, n_participants=4)


def test_the_second_load_is_served_from_the_cache_and_a_new_rating_recomputes(researcher_client, rated):
    url = reverse("surveys:report", args=[rated.slug])
    first = researcher_client.get(url).content.decode()
    assert "(just now)" in computed(first) and "24 ratings by 4 participants" in first
    second = researcher_client.get(url).content.decode()
    assert "(kept from then" in computed(second)
    assert computed(second).split(" UTC")[0] == computed(first).split(" UTC")[0]
    add_one_rating(rated)
    third = researcher_client.get(url).content.decode()
    assert "(just now)" in computed(third) and "25 ratings by 5 participants" in third


def test_each_filter_set_has_its_own_cached_report(researcher_client, rated):
    url = reverse("surveys:report", args=[rated.slug])
    researcher_client.get(url)
    filtered = researcher_client.get(url, {"completed": "1"}).content.decode()
    assert "(just now)" in computed(filtered)
    assert "(kept from then" in computed(researcher_client.get(url, {"completed": "1"}).content.decode())


def test_a_cache_hit_runs_no_statistics(researcher_client, rated):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("surveys:report", args=[rated.slug])
    with CaptureQueriesContext(connection) as miss:
        researcher_client.get(url)
    with CaptureQueriesContext(connection) as hit:
        assert "(kept from then" in computed(researcher_client.get(url).content.decode())
    # A hit reads the stamp (a few small queries) and the page's own rows; it never reads the
    # ratings frame the statistics are computed from.
    assert len(hit) < len(miss) - 5
    assert not any("time_on_task_s" in query["sql"] for query in hit.captured_queries)
    assert any("time_on_task_s" in query["sql"] for query in miss.captured_queries)
    # The report and its plots share one stamp: it is computed once per load, not once for each.
    stamps = [
        query for query in hit.captured_queries if 'MAX("surveys_retrievalevaluation"."id")' in query["sql"]
    ]
    assert len(stamps) == 1


def test_the_json_report_says_whether_it_came_from_the_cache(researcher_client, rated):
    url = reverse("api-survey-report", args=[rated.slug])
    first, second = researcher_client.get(url).json(), researcher_client.get(url).json()
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["generated_at"] == second["generated_at"]
    add_one_rating(rated)
    third = researcher_client.get(url).json()
    assert third["cached"] is False and third["statistics"]["n_ratings"] == 25
