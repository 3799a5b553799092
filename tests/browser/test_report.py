"""The weight-comparison report in headless Chromium: page, plots and download render without console errors."""

import numpy as np
import pytest

from tests.fixtures import logged_in, staff_user
from tests.surveys.report_factories import make_rated_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def better_b(config, query, participant, rng):
    value = int(np.clip(np.rint(2.6 + 1.0 * config + rng.normal(0, 0.7)), 1, 5))
    return value, ("yes" if value >= 4 else "partly" if value == 3 else "no")


def sign_in(page, live_server, django_user_model):
    client = logged_in(staff_user("browser-researcher", "surveys.conduct_survey"))
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_report_page_and_plots_render_without_console_errors(page, live_server, django_user_model, settings):
    settings.REPORT_BOOTSTRAP_RESAMPLES = 200  # three full reports below (page, PNG, filtered page)
    survey = make_rated_survey(n_configs=3, n_queries=12, n_participants=9, rate=better_b, relevance=True)
    sign_in(page, live_server, django_user_model)
    response = page.goto(f"{live_server.url}/surveys/manage/{survey.slug}/report/")
    assert response.status == 200
    summary = page.get_by_test_id("summary")
    assert "was rated" in summary.inner_text()
    for name in ("means", "distribution", "match", "differences", "heatmap"):
        figure = page.get_by_test_id(f"plot-{name}")
        svg = figure.locator("svg")
        assert svg.count() == 1, name
        box = svg.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 80, name
    # Axis labels are real text in the SVG, readable in the page.
    assert (
        page.get_by_text(
            "Mean satisfaction (1–5), 95% two-way (participant × query) bootstrap interval"
        ).count()
        == 1
    )
    # The PNG link downloads an image.
    png = page.request.get(f"{live_server.url}/surveys/manage/{survey.slug}/report/plot/heatmap.png")
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    # Filters round-trip through the form.
    page.get_by_label("Completed participants only").check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_load_state()
    assert "completed=1" in page.url
    assert page.console_errors == []


def test_downloaded_report_renders_offline(page, live_server, django_user_model, tmp_path):
    survey = make_rated_survey(n_queries=8, n_participants=6, rate=better_b)
    sign_in(page, live_server, django_user_model)
    download = page.request.get(f"{live_server.url}/surveys/manage/{survey.slug}/report/download/")
    assert download.status == 200
    path = tmp_path / "report.html"
    path.write_bytes(download.body())
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    assert page.locator("svg").count() == 6
    assert "was rated" in page.get_by_test_id("summary").inner_text()
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    assert page.console_errors == []


def test_thin_report_explains_in_the_browser(page, live_server, django_user_model):
    survey = make_rated_survey(n_participants=0)
    sign_in(page, live_server, django_user_model)
    page.goto(f"{live_server.url}/surveys/manage/{survey.slug}/report/")
    assert "No ratings yet" in page.get_by_test_id("explanation").first.inner_text()
    assert page.console_errors == []
