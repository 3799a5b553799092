"""Side-by-side preference surveys end to end: the balanced pair plan through consent, the page a
participant sees, storing an answer once, the preference report and the long-form export."""

import csv
import io
from collections import Counter

import pytest
from django.urls import reverse

from surveys import services
from surveys.models import Assignment, Rating, Survey
from surveys.sidebyside import report
from tests.surveys.test_participant_flow import consent, task_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def side_by_side(make_survey):
    def make(*, queries=4, configs=3):
        survey = make_survey(queries=queries, configs=configs, status="draft", results_per_task=4)
        services.update_survey(survey=survey, task_kind=Survey.TaskKind.SIDE_BY_SIDE)
        services.open_survey(survey=survey)
        survey.refresh_from_db()
        return survey

    return make


def test_pairs_are_balanced_per_query_and_sides_per_arm_through_consent(client_factory, side_by_side):
    survey = side_by_side(queries=4, configs=3)
    for _ in range(14):
        consent(client_factory(), survey)
    tasks = list(
        Assignment.objects.filter(participant__survey=survey).select_related("survey_config", "right_config")
    )
    assert len(tasks) == 14 * 4 and all(t.right_result_set_id for t in tasks)
    pairs = [("A", "B"), ("A", "C"), ("B", "C")]
    for query_id in {t.query_id for t in tasks}:
        counts = Counter(
            tuple(sorted((t.survey_config.code, t.right_config.code)))
            for t in tasks
            if t.query_id == query_id
        )
        shown = [counts.get(pair, 0) for pair in pairs]
        assert max(shown) - min(shown) <= 1, (query_id, counts)
    for a, b in pairs:
        ab = sum((t.survey_config.code, t.right_config.code) == (a, b) for t in tasks)
        ba = sum((t.survey_config.code, t.right_config.code) == (b, a) for t in tasks)
        assert abs(ab - ba) <= 1, (a, b, ab, ba)
    for arm in "ABC":
        left = sum(t.survey_config.code == arm for t in tasks)
        right = sum(t.right_config.code == arm for t in tasks)
        assert abs(left - right) <= 2, (arm, left, right)
    # Each result set is the arm's own frozen cell for that query.
    for t in tasks:
        assert (t.result_set.survey_config_id, t.right_result_set.survey_config_id) == (
            t.survey_config_id,
            t.right_config_id,
        )
        assert t.result_set.query_id == t.right_result_set.query_id == t.query_id


def test_participant_sees_two_neutral_sets_and_answers_once(client, side_by_side):
    survey = side_by_side(queries=2, configs=2)
    participant = consent(client, survey)
    first = participant.assignments.order_by("position").first()
    url = task_url(participant, first)
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Set A" in html and "Set B" in html and "Which set matches what you had in mind better?" in html
    left_ids = [item["catalog_id"] for item in first.result_set.items]
    right_ids = [item["catalog_id"] for item in first.right_result_set.items]
    set_a, set_b = html.split('data-testid="set-a"')[1].split('data-testid="set-b"')
    assert all(f'data-catalog-id="{cid}"' in set_a for cid in left_ids)
    assert all(f'data-catalog-id="{cid}"' in set_b.split("</section>")[0] for cid in right_ids)
    for config in survey.configs.select_related("weight_config"):
        assert config.weight_config.name not in html  # neutral labels only

    missing = client.post(url, {"reason": "no choice"})
    assert missing.status_code == 400
    assert "Please choose Set A, Set B, both equally or neither." in missing.content.decode()
    assert not Rating.objects.exists()

    saved = client.post(url, {"preference": "right", "reason": "closer colour"})
    assert saved.status_code == 303
    rating = Rating.objects.get()
    assert (rating.preference, rating.preference_reason) == ("right", "closer colour")
    again = client.post(url, {"preference": "left"}, follow=True)
    assert "already saved" in again.content.decode()
    assert Rating.objects.get().preference == "right"


def test_report_and_long_form_export(researcher_client, client_factory, side_by_side):
    survey = side_by_side(queries=3, configs=2)
    for index in range(6):
        client = client_factory()
        participant = consent(client, survey)
        for assignment in participant.assignments.order_by("position"):
            client.get(task_url(participant, assignment))
            # Arm B wins whenever shown, except one tie.
            winner_side = "left" if assignment.survey_config.code == "B" else "right"
            answer = "both" if (index, assignment.position) == (0, 0) else winner_side
            assert client.post(task_url(participant, assignment), {"preference": answer}).status_code == 303
    data = report.preference_report(survey, n_resamples=50)
    assert data["n"] == 18
    (pair,) = data["pairs"]
    assert (pair["arm_a"], pair["arm_b"], pair["wins"], pair["ties"], pair["losses"]) == ("A", "B", 0, 1, 17)
    assert pair["p_value"] < 0.001
    assert data["strengths"]["B"]["strength"] > data["strengths"]["A"]["strength"]

    page = researcher_client.get(reverse("surveys:preferences", args=[survey.slug])).content.decode()
    assert "18 answers" in page and "Bradley–Terry" in page and "p &lt; 0.001" in page

    download = researcher_client.get(reverse("surveys:preferences-csv", args=[survey.slug]))
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert len(rows) == 36  # one row per answer and side
    by_answer = {}
    for row in rows:
        by_answer.setdefault(row["answer_id"], {})[row["side"]] = row
    for sides in by_answer.values():
        assert {sides["left"]["arm"], sides["right"]["arm"]} == {"A", "B"}
        assert {sides["left"]["outcome"], sides["right"]["outcome"]} in ({"win", "loss"}, {"tie"})
        assert sides["left"]["shown_catalog_ids"] and sides["right"]["shown_catalog_ids"]


def test_side_by_side_refuses_own_queries_on_the_form(make_survey):
    from surveys.forms import SurveyForm

    survey = make_survey(queries=1, configs=2, status="draft")
    form = SurveyForm(
        data={
            "title": "x",
            "slug": "x-sbs",
            "consent_text": "ok",
            "results_per_task": 4,
            "target_ratings_per_cell": 2,
            "seed": 1,
            "own_query_tasks": 1,
            "task_kind": "side_by_side",
            "weight_configs": [c.weight_config_id for c in survey.configs.all()],
        }
    )
    assert not form.is_valid()
    assert "set own queries to 0" in str(form.errors["own_query_tasks"])


def test_the_rating_report_points_side_by_side_surveys_to_the_preference_report(
    researcher_client, side_by_side
):
    survey = side_by_side(queries=2, configs=2)
    page = researcher_client.get(reverse("surveys:report", args=[survey.slug])).content.decode()
    notice = page.split('data-testid="side-by-side-notice"')[1].split("</p>")[0]
    assert reverse("surveys:preferences", args=[survey.slug]) in notice
    detail = researcher_client.get(reverse("surveys:manage-detail", args=[survey.slug])).content.decode()
    assert reverse("surveys:preferences", args=[survey.slug]) in detail
