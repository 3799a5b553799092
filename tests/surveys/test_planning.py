"""Issue 13, finding 6 and the preregistration: a planner that simulates the survey's own design and
analysis (stored with the survey), and a preregistration frozen when the survey opens that the
report follows (preregistered vs exploratory)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from surveys import services
from surveys.models import StudyPlan
from surveys.stats import planner
from tests.surveys.report_factories import make_rated_survey

pytestmark = pytest.mark.django_db


def test_power_grows_with_queries_and_stays_near_alpha_without_an_effect():
    null = planner.simulate_power(effect=0.0, n_arms=2, n_queries=20, n_participants=20, replications=200)
    assert null <= 0.08
    small = planner.simulate_power(effect=0.5, n_arms=2, n_queries=8, n_participants=20, replications=100)
    large = planner.simulate_power(effect=0.5, n_arms=2, n_queries=30, n_participants=20, replications=100)
    assert small < large
    assert large >= 0.8


def test_plan_recommends_the_cheapest_design_with_enough_power():
    result = planner.plan(effect=1.0, n_arms=2, queries=(6, 20), participants=(10,), replications=60)
    assert [row["queries"] for row in result["rows"]] == [6, 20]
    assert result["recommended"] is not None and result["recommended"]["power"] >= 0.8
    assert all(
        row["ratings"] >= result["recommended"]["ratings"] for row in result["rows"] if row["power"] >= 0.8
    )


def test_planner_page_stores_the_plan_with_the_survey(researcher_client, draft_survey):
    url = reverse("surveys:manage-plan", args=[draft_survey.slug])
    bad = researcher_client.post(url, {"action": "plan", "effect": "0.3", "alpha": "0.05", "queries": "ten",
                                       "participants": "10"})  # fmt: skip
    assert bad.status_code == 400
    assert "List whole numbers of queries" in bad.content.decode()
    response = researcher_client.post(url, {"action": "plan", "effect": "1.5", "alpha": "0.05", "queries": "6 12",
                                            "participants": "8"})  # fmt: skip
    assert response.status_code == 302
    stored = StudyPlan.objects.get(survey=draft_survey).power_plan
    assert stored["n_arms"] == 2 and stored["effect"] == 1.5
    assert [(row["queries"], row["participants"]) for row in stored["rows"]] == [(6, 8), (12, 8)]
    page = researcher_client.get(url).content.decode()
    assert 'data-testid="power"' in page and "published defaults" in page


def test_preregistration_is_frozen_when_the_survey_opens(researcher_client, draft_survey):
    url = reverse("surveys:manage-plan", args=[draft_survey.slug])
    form = {"action": "preregister", "primary_metric": "satisfaction", "primary_test": "wilcoxon", "alpha": "0.05",
            "planned_queries": "2", "planned_participants": "30", "notes": "B beats A"}  # fmt: skip
    assert researcher_client.post(url, form).status_code == 302
    plan = StudyPlan.objects.get(survey=draft_survey)
    assert plan.preregistered and plan.frozen_at is None and plan.notes == "B beats A"
    services.open_survey(survey=draft_survey)
    plan.refresh_from_db()
    assert plan.frozen_at is not None
    refused = researcher_client.post(url, form | {"notes": "changed my mind"})
    assert refused.status_code == 400
    assert "frozen when the survey opened" in refused.content.decode()
    plan.refresh_from_db()
    assert plan.notes == "B beats A"
    with pytest.raises(services.SurveyError, match="frozen"):
        services.preregister(survey=draft_survey, notes="changed my mind")


def test_report_marks_preregistered_and_exploratory(researcher_client, settings):
    settings.REPORT_BOOTSTRAP_RESAMPLES = 200
    survey = make_rated_survey(n_queries=8, n_participants=6)
    url = reverse("api-survey-report", args=[survey.slug])
    unplanned = researcher_client.get(url).json()["statistics"]
    assert unplanned["preregistration"]["preregistered"] is False
    assert {c["analysis_status"] for c in unplanned["comparisons"]} == {"exploratory"}

    StudyPlan.objects.create(survey=survey, preregistered=True, frozen_at=timezone.now(), completed_only=True)
    planned = researcher_client.get(url, {"completed": "1"}).json()["statistics"]
    assert planned["preregistration"]["preregistered"] is True
    assert {c["analysis_status"] for c in planned["comparisons"]} == {"preregistered"}
    assert {c["analysis_status"] for c in planned["models"]["mixed"]["contrasts"]} == {"exploratory"}
    deviating = researcher_client.get(url).json()["statistics"]  # without the preregistered filter
    assert {c["analysis_status"] for c in deviating["comparisons"]} == {"exploratory"}
    assert "completed-participants filter differs" in deviating["preregistration"]["note"]
    page = researcher_client.get(
        reverse("surveys:report", args=[survey.slug]), {"completed": "1"}
    ).content.decode()
    assert "The primary analysis follows the preregistration" in page
