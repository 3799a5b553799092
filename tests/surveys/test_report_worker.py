"""The report's mixed model of a large survey is fitted by the real Celery worker and then shown."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from surveys import report
from tests.fixtures import wait_until
from tests.surveys.report_factories import make_rated_survey


def better_b(config, query, participant, rng):
    value = int(min(5, max(1, round(2.6 + 1.0 * config + rng.normal(0, 0.7)))))
    return value, ("yes" if value >= 4 else "partly" if value == 3 else "no")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_fits_the_models_of_a_large_survey(researcher_client, settings, celery_worker):
    settings.REPORT_MODEL_INLINE_MAX_RATINGS = 20  # this survey's 48 ratings count as large
    settings.REPORT_BOOTSTRAP_RESAMPLES = 200
    survey = make_rated_survey(n_queries=8, n_participants=6, rate=better_b)
    url = reverse("api-survey-report", args=[survey.slug])
    assert researcher_client.get(url).json()["statistics"]["models"]["mixed"]["pending"] is True
    frame = report.ratings_frame(survey)
    key = report._models_key(survey, frame, ["A", "B"])
    wait_until(lambda: cache.get(key) is not None, what="the worker's model fit in the cache")
    mixed = researcher_client.get(url).json()["statistics"]["models"]["mixed"]
    assert mixed["available"] is True
    assert mixed["contrasts"][0]["estimate"] < 0  # B is rated higher than A
