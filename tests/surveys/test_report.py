"""The weight-comparison report: page, JSON API, HTML download, PNG plots, filters, thin data."""

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from surveys import report, stats
from tests.surveys.report_factories import make_rated_survey, rated_survey_with_attention_failures

pytestmark = pytest.mark.django_db


def better_b(config, query, participant, rng):
    value = int(np.clip(np.rint(2.6 + 1.0 * config + rng.normal(0, 0.7)), 1, 5))
    return value, ("yes" if value >= 4 else "partly" if value == 3 else "no")


def report_urls(survey):
    return [
        reverse("surveys:report", args=[survey.slug]),
        reverse("surveys:report-download", args=[survey.slug]),
        reverse("surveys:report-plot", args=[survey.slug, "means"]),
    ]


# --------------------------------------------------------------------------- access


def test_report_pages_are_for_researchers_only(client, django_user_model):
    survey = make_rated_survey()
    for url in report_urls(survey):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    staff = django_user_model.objects.create_user("staff-only", password="pw-123456", is_staff=True)
    client.force_login(staff)
    for url in report_urls(survey):
        assert client.get(url).status_code == 403, url


def test_report_json_needs_a_researcher_token(client, django_user_model, researcher):
    survey = make_rated_survey(n_queries=8, n_participants=6, rate=better_b)
    url = reverse("api-survey-report", args=[survey.slug])
    assert client.get(url).status_code in (401, 403)
    staff = django_user_model.objects.create_user("staff-token", password="pw-123456", is_staff=True)
    staff_token = Token.objects.create(user=staff)
    assert client.get(url, HTTP_AUTHORIZATION=f"Token {staff_token.key}").status_code == 403
    token = Token.objects.create(user=researcher)
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    body = response.json()
    assert body["survey"]["slug"] == survey.slug
    assert [c["code"] for c in body["configs"]] == ["A", "B"]
    assert body["statistics"]["n_ratings"] == 48
    (comparison,) = body["statistics"]["comparisons"]
    assert comparison["design"] == "paired by query"
    assert body["statistics"]["summary"]


def test_bad_filters_are_a_clear_400(client, researcher):
    survey = make_rated_survey()
    token = Token.objects.create(user=researcher)
    url = reverse("api-survey-report", args=[survey.slug])
    response = client.get(url, {"date_from": "yesterday"}, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 400
    assert "date_from" in json.dumps(response.json())
    client.force_login(researcher)
    page = client.get(
        reverse("surveys:report", args=[survey.slug]), {"date_from": "2026-02-01", "date_to": "2026-01-01"}
    )
    assert page.status_code == 400
    assert "end date is before the start date" in page.content.decode()


# --------------------------------------------------------------------------- numbers


def test_report_numbers_equal_stats_on_the_stored_ratings(researcher_client):
    survey = make_rated_survey(n_configs=3, n_queries=9, n_participants=9, rate=better_b, seed=3)
    data = report.build_report(survey, seed=5, n_resamples=300)
    statistics = data["statistics"]
    frame = report.ratings_frame(survey)
    assert len(frame) == 81
    # Every rating appears once with its configuration code and participant/query ids.
    from surveys.models import Rating

    stored = Rating.objects.filter(assignment__participant__survey=survey)
    by_code = pd.Series(
        [r.assignment.survey_config.code for r in stored.select_related("assignment__survey_config")]
    )
    assert dict(frame["config"].value_counts()) == dict(by_code.value_counts())
    direct = stats.analyse(frame, configs=["A", "B", "C"], seed=5, n_resamples=300)
    assert statistics["per_config"] == direct["per_config"]
    # The report adds only whether each comparison was preregistered (here: nothing was).
    assert [c.pop("analysis_status") for c in statistics["comparisons"]] == ["exploratory"] * 3
    assert statistics["comparisons"] == direct["comparisons"]
    means = frame.groupby("config")["satisfaction"].mean()
    for code in "ABC":
        assert statistics["per_config"][code]["mean"] == pytest.approx(means[code])
    assert statistics["comparisons"][1]["significant"] is True  # A vs C: two points apart
    assert data["statistics"]["labels"]["A"].endswith("v1")
    assert len(statistics["per_query"]["labels"]) == 9


def test_filters_narrow_the_ratings():
    base = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    survey = make_rated_survey(
        n_queries=6,
        n_participants=4,
        finished=lambda p: p < 2,
        submitted_at=lambda p, q: base + dt.timedelta(days=p),
    )
    assert len(report.ratings_frame(survey)) == 24
    completed = report.ratings_frame(survey, report.ReportFilters(completed_only=True))
    assert len(completed) == 12
    days = report.ReportFilters(date_from=dt.date(2026, 3, 2), date_to=dt.date(2026, 3, 3))
    assert len(report.ratings_frame(survey, days)) == 12
    assert set(report.ratings_frame(survey, days)["participant"].nunique() for _ in [0]) == {2}
    data = report.build_report(survey, report.ReportFilters(exclude_failed_attention=True), n_resamples=100)
    assert any("no attention-check" in line for line in data["statistics"]["explanations"])
    assert not data["attention_checks"]


def test_attention_filter_leaves_out_every_rating_of_participants_who_failed(researcher_client):
    # One failed check on one task is enough to leave out all of the participant's ratings.
    survey, failed = rated_survey_with_attention_failures(failed_tasks=1)
    everyone = report.ratings_frame(survey)
    kept = report.ratings_frame(survey, report.ReportFilters(exclude_failed_attention=True))
    assert len(everyone) == 24 and len(kept) == 18
    assert failed.pk not in set(kept["participant"])
    page = researcher_client.get(reverse("surveys:report", args=[survey.slug]), {"attention": "1"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "1 participant who failed an attention check was left out" in html
    assert (
        'name="attention" value="1" checked' in html
        and "disabled" not in html.split('name="attention"')[1][:80]
    )
    assert page.context["report"]["statistics"]["n_ratings"] == 18


def test_relevance_marks_give_precision_and_ndcg():
    survey = make_rated_survey(n_queries=6, n_participants=4, relevance=True)
    frame = report.ratings_frame(survey)
    assert all(len(marks) == 5 for marks in frame["relevance"])
    data = report.build_report(survey, n_resamples=100)
    relevance = data["statistics"]["relevance"]
    assert relevance["available"]
    # The same figures from the survey's judgements export scored by ranx directly: each rating's
    # shown list against its query's pooled (majority) qrels, averaged per arm.
    from ranx import Qrels, Run, evaluate

    from surveys.offline import judgements

    qrels = judgements.aggregate(judgements.survey_judgements(survey), "majority")
    runs = judgements.arm_runs(survey)
    for code in ("A", "B"):
        label = next(label for label in runs if label.startswith(f"{code}:"))
        rows = frame[frame["config"] == code]
        keys = [f"{i}" for i in range(len(rows))]
        ranx_qrels = Qrels(
            {k: {str(p): g for p, g in qrels[q].items()} for k, q in zip(keys, rows["query"], strict=True)}
        )
        ranx_run = Run(
            {
                k: {str(p): float(10 - r) for r, (p, _s) in enumerate(runs[label][q])}
                for k, q in zip(keys, rows["query"], strict=True)
            }
        )
        expected = evaluate(ranx_qrels, ranx_run, ["precision@5", "ndcg@5"], make_comparable=True)
        assert relevance["configs"][code]["precision@5"]["mean"] == pytest.approx(
            expected["precision@5"], abs=1e-9
        )
        assert relevance["configs"][code]["ndcg@5"]["mean"] == pytest.approx(expected["ndcg@5"], abs=1e-9)


# --------------------------------------------------------------------------- pages


def test_report_page_shows_summary_tables_and_inline_plots(researcher_client):
    survey = make_rated_survey(n_queries=8, n_participants=6, rate=better_b)
    response = researcher_client.get(reverse("surveys:report", args=[survey.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "B: " in html and "was rated" in html and "Holm" in html
    assert html.count("<svg") == 6
    # axis label drawn as text
    assert "Mean satisfaction (1–5), 95% two-way (participant × query) bootstrap interval" in html
    assert "Wilcoxon signed-rank" in html
    assert "Krippendorff" in html


@pytest.mark.integration  # renders every plot of the report as a PNG
def test_png_download_is_a_png(researcher_client, settings):
    settings.REPORT_BOOTSTRAP_RESAMPLES = (
        200  # each PNG builds the whole report; the figures do not matter here
    )
    survey = make_rated_survey()
    for name in ("means", "distribution", "match", "differences", "heatmap", "queries"):
        response = researcher_client.get(reverse("surveys:report-plot", args=[survey.slug, name]))
        assert response.status_code == 200, name
        assert response["Content-Type"] == "image/png"
        assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        researcher_client.get(reverse("surveys:report-plot", args=[survey.slug, "nope"])).status_code == 404
    )


def test_html_download_is_self_contained(researcher_client):
    survey = make_rated_survey(n_queries=8, n_participants=6, rate=better_b)
    response = researcher_client.get(reverse("surveys:report-download", args=[survey.slug]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    html = response.content.decode()
    assert html.count("<svg") == 6
    assert "<style>" in html
    # No external references: nothing to fetch (no src/href to another resource, no @import, no url()).
    assert not re.search(r"""\ssrc=["']""", html)
    assert not re.search(r"""<link\b""", html)
    assert "@import" not in html
    # Only in-document references (#id) and inline data: URIs (the heat map's raster).
    assert not re.search(r"""href=["'](?!#|data:)""", html)


# --------------------------------------------------------------------------- thin data


def test_survey_without_ratings_explains_itself(researcher_client):
    survey = make_rated_survey(n_participants=0)
    response = researcher_client.get(reverse("surveys:report", args=[survey.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "No ratings yet" in html
    assert "not enough ratings to draw it yet" in html
    assert response.context["report"]["statistics"]["comparisons"][0]["p_value"] is None


def test_one_rater_and_all_ties_are_explained(researcher_client):
    survey = make_rated_survey(n_participants=1, rate=lambda c, q, p, rng: (3, "partly"))
    response = researcher_client.get(reverse("surveys:report", args=[survey.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Only one rater" in html
    assert "same value" in html


def test_one_configuration_is_explained(researcher_client):
    survey = make_rated_survey(n_configs=1, n_participants=3)
    response = researcher_client.get(reverse("surveys:report", args=[survey.slug]))
    assert response.status_code == 200
    assert "Only one configuration" in response.content.decode()
    assert response.context["report"]["statistics"]["comparisons"] == []


def test_models_of_a_large_survey_are_fitted_in_the_background_and_then_shown(researcher_client, settings):
    settings.REPORT_MODEL_INLINE_MAX_RATINGS = 20  # this survey's 48 ratings count as large
    settings.REPORT_BOOTSTRAP_RESAMPLES = 200
    survey = make_rated_survey(n_queries=8, n_participants=6, rate=better_b)
    url = reverse("api-survey-report", args=[survey.slug])
    pending = researcher_client.get(url).json()["statistics"]["models"]["mixed"]
    assert pending["available"] is False and pending["pending"] is True
    assert "being fitted in the background" in pending["explanation"]

    from surveys.tasks import fit_report_models

    assert fit_report_models(survey.pk, report.ReportFilters().as_dict()) == "fitted"  # what the worker runs
    fitted = researcher_client.get(url).json()["statistics"]["models"]["mixed"]
    assert fitted["available"] is True
    assert {(c["a"], c["b"]) for c in fitted["contrasts"]} == {("A", "B")}
    assert fitted["contrasts"][0]["estimate"] < 0  # B is rated higher
