"""Issue 18, item 2: any text a participant or researcher can type is drawn as text. Labels with
mathtext syntax, backslashes, control characters, unicode and 500 characters go through every plot
and every report format, and each answers 200 with the label shown as typed."""

import json

import pytest
from django.urls import reverse

from search.models import WeightConfig
from surveys import plots
from surveys.models import SurveyQuery
from tests.surveys.report_factories import make_rated_survey

pytestmark = pytest.mark.django_db

HOSTILE = [
    "$\\foo$ my own query",
    "bag for $$ cheap",
    "$",
    "back\\slash \\ at the end\\",
    "snake_case_query and x^2",
    "$x_1^{2}$ \\frac{a}{b} $\\mathrm{bad",
    "Umlaute äöü, 漢字, emoji 👗👠, RTL שלום",
    "tab\there\x07bell",
    "long " + "w" * 495,
]


@pytest.fixture
def hostile_survey(settings):
    settings.REPORT_BOOTSTRAP_RESAMPLES = 200
    survey = make_rated_survey(n_configs=3, n_queries=len(HOSTILE), n_participants=6)
    for query, text in zip(survey.queries.order_by("position"), HOSTILE, strict=True):
        SurveyQuery.objects.filter(pk=query.pk).update(text=text)
    for config, name in zip(survey.configs.order_by("position"), ["$a$", "c$$d_", "e^\\f"], strict=True):
        WeightConfig.objects.filter(pk=config.weight_config_id).update(name=name)
    return survey


@pytest.mark.integration  # renders every plot and every report format
def test_every_plot_and_report_format_answers_200_with_hostile_labels(researcher_client, hostile_survey):
    slug = hostile_survey.slug
    page = researcher_client.get(reverse("surveys:report", args=[slug]))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<svg") == len(plots.PLOTS)
    # The heat map's tick labels are the queries as typed (escaped for SVG), not rendered TeX.
    assert "bag for $$ cheap" in html
    assert "$\\foo$ my own query" in html

    download = researcher_client.get(reverse("surveys:report-download", args=[slug]))
    assert download.status_code == 200
    assert "bag for $$ cheap" in download.content.decode()

    for name in plots.PLOTS:
        response = researcher_client.get(reverse("surveys:report-plot", args=[slug, name]))
        assert response.status_code == 200, name
        assert response.content[:8] == b"\x89PNG\r\n\x1a\n", name

    api = researcher_client.get(reverse("api-survey-report", args=[slug]))
    assert api.status_code == 200
    labels = json.loads(api.content)["statistics"]["per_query"]["labels"]
    assert "bag for $$ cheap" in labels


def test_plain_keeps_text_and_replaces_control_characters():
    assert plots.plain("bag for $$ cheap") == "bag for $$ cheap"
    assert plots.plain("tab\there\x07bell") == "tab here bell"
    long = plots.plain("w" * 500)
    assert len(long) == plots.LABEL_MAX and long.endswith("…")
