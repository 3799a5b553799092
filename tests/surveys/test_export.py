"""Export round trip (CSV, JSON, Parquet), the codebook, and formula-injection escaping."""

import io
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.urls import reverse

from surveys import exports, services
from surveys.models import Question, Rating, Survey
from tests.surveys.fixtures import build_survey, rate_every_task, survey_data_per_module

pytestmark = pytest.mark.django_db
media_root, catalogue, open_survey = survey_data_per_module()

COMMENTS = [
    '=HYPERLINK("http://x")',
    "+1 great",
    "-oops",
    "@SUM(A1)",
    "plain, with comma",
    "naïve “quotes”\nnew line",
]


@pytest.fixture(scope="module")
def module_rated_survey(module_survey_data):
    """The rated survey every export test reads, made once in the module's transaction."""
    survey = build_survey(queries=3, configs=2)
    services.add_question(survey=survey, kind=Question.Kind.COMMENT, wording="Anything else?", required=False)
    rate_every_task(survey, comments=COMMENTS)
    return survey


@pytest.fixture
def rated_survey(module_rated_survey, db, media_root):
    return Survey.objects.get(pk=module_rated_survey.pk)


def download(client, survey, fmt) -> bytes:
    response = client.get(reverse("surveys:manage-export", args=[survey.slug, fmt]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def expected(survey) -> dict[int, Rating]:
    return {
        rating.pk: rating
        for rating in Rating.objects.filter(assignment__participant__survey=survey).select_related(
            "assignment__participant", "assignment__survey_config__weight_config", "assignment__result_set"
        )
    }


def test_csv_round_trip_gives_the_stored_ratings(researcher_client, rated_survey):
    frame = pd.read_csv(
        io.BytesIO(download(researcher_client, rated_survey, "csv")), dtype=str, keep_default_na=False
    )
    stored = expected(rated_survey)
    assert len(frame) == len(stored) == 12
    assert list(frame.columns) == [name for name, _, _ in exports.columns(rated_survey)]
    for row in frame.to_dict("records"):
        rating = stored[int(row["rating_id"])]
        assignment = rating.assignment
        assert row["participant_id"] == str(assignment.participant.public_id)
        assert row["config_name"] == assignment.survey_config.weight_config.name
        assert row["match"] == rating.match
        assert int(row["satisfaction"]) == rating.satisfaction
        assert float(row["time_on_task_s"]) == pytest.approx(rating.time_on_task_s)
        assert row["submitted_at"] == rating.submitted_at.isoformat()
        shown = json.loads(row["shown_product_ids"])
        assert len(shown) == len(assignment.result_set.product_ids)
        comment = rating.comment
        assert row["comment"] == ("'" + comment if comment[0] in "=+-@" else comment)


def test_parquet_round_trip_gives_the_stored_ratings(researcher_client, rated_survey):
    table = pq.read_table(io.BytesIO(download(researcher_client, rated_survey, "parquet")))
    stored = expected(rated_survey)
    assert table.num_rows == len(stored)
    for row in table.to_pylist():
        rating = stored[row["rating_id"]]
        assert row["participant_id"] == str(rating.assignment.participant.public_id)
        assert row["match"] == rating.match
        assert row["satisfaction"] == rating.satisfaction
        assert row["comment"] == rating.comment  # Parquet keeps the text exactly: no spreadsheet here
        assert row["submitted_at"] == rating.submitted_at
        assert row["time_on_task_s"] == rating.time_on_task_s
        assert row["shown_at"] == rating.started_at
        assert row["attention_passed"] is rating.attention_passed  # None: the survey asked none


def test_json_export_and_codebook_describe_the_same_columns(researcher_client, rated_survey):
    rows = json.loads(download(researcher_client, rated_survey, "json"))
    assert len(rows) == 12
    codebook = pd.read_csv(io.BytesIO(download(researcher_client, rated_survey, "codebook")))
    assert list(codebook["column"]) == list(rows[0].keys())
    assert codebook["description"].str.len().min() > 5


def test_formula_injection_is_escaped_in_csv(researcher_client, rated_survey):
    text = download(researcher_client, rated_survey, "csv").decode()
    assert "'=HYPERLINK" in text and "'+1 great" in text and "'-oops" in text and "'@SUM(A1)" in text
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert not frame["comment"].str.match(r"^[=+\-@]").any()


def test_escape_formula_leaves_numbers_and_plain_text():
    assert exports.escape_formula("=1+1") == "'=1+1"
    assert exports.escape_formula("hello") == "hello"
    assert exports.escape_formula(-3) == -3


def test_unknown_format_is_404(researcher_client, rated_survey):
    response = researcher_client.get(reverse("surveys:manage-export", args=[rated_survey.slug, "xlsx"]))
    assert response.status_code == 404
