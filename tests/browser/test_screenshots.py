"""Every page at phone (390×844) and desktop (1366×900) size: screenshots for review (see
tests/browser/screenshots.py for where they go), and on a phone no page scrolls sideways — tables
scroll inside themselves (issue 16, items 7, 13 and 15)."""

# ruff: noqa: F811 - pytest fixtures imported from tests.surveys.fixtures
import re

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from catalogue import uploads
from catalogue.models import CatalogUpload
from surveys import services
from tests.browser.screenshots import DESKTOP, PHONE, shoot
from tests.catalogue import zips
from tests.fixtures import logged_in
from tests.surveys.fixtures import catalogue, make_own_query_survey, make_survey, media_root  # noqa: F401
from tests.surveys.report_factories import make_rated_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(settings, tmp_path, make_survey):
    """One of everything a page shows: a rated survey (report, progress), an open survey to take
    part in, an own-query survey, an analysed catalogue upload, and a superuser's session."""
    settings.REPORT_BOOTSTRAP_RESAMPLES = 200
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "incoming")
    (tmp_path / "incoming").mkdir()
    settings.DATA_DIR = tmp_path / "data"
    rated = make_rated_survey(n_configs=3, n_queries=6, n_participants=6)
    survey = make_survey(queries=2, configs=2, results_per_task=12)
    admin = User.objects.create_superuser("screens", password="pw-screens-1")
    client = logged_in(admin)
    archive = SimpleUploadedFile("catalogue.zip", zips.kaggle_zip(4), content_type="application/zip")
    assert client.post("/catalogue/upload/", {"file": archive}).status_code == 302
    upload = uploads.analyse_upload(upload_id=CatalogUpload.objects.latest("pk").pk)
    own = make_own_query_survey(slug="own-screens", own_query_tasks=1)
    return {
        "rated": rated,
        "survey": survey,
        "own": own,
        "upload": upload,
        "session": client.cookies["sessionid"].value,
    }


def fits(page, width):
    return page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_every_page_at_phone_and_desktop_size(live_server, browser, site, size):
    viewport = PHONE if size == "phone" else DESKTOP
    mobile = {"is_mobile": True, "has_touch": True} if size == "phone" else {}
    context = browser.new_context(viewport=viewport, **mobile)
    page = context.new_page()
    base = live_server.url
    too_wide = []

    def visit(name, url=None):
        if url:
            response = page.goto(base + url)
            assert response.status < 500, f"{url}: {response.status}"
        if size == "phone" and not fits(page, viewport["width"]):
            too_wide.append(f"{name} ({page.evaluate('document.documentElement.scrollWidth')} px)")
        shoot(page, name, size)

    # Participants.
    survey = site["survey"]
    visit("participant-landing", f"/surveys/s/{survey.slug}/")
    with page.expect_navigation():
        page.get_by_role("button", name="Start").click()
    visit("participant-landing-error")
    page.get_by_label(re.compile("I have read the information")).check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/task/"))
    visit("participant-task")
    if size == "phone":
        page.get_by_test_id("rate-bar").click()
    else:
        page.locator("#questions").scroll_into_view_if_needed()
    visit("participant-task-questions")
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue", exact=True).click()
    visit("participant-task-error-summary")
    page.get_by_role("radio", name="Partly", exact=True).check()
    page.get_by_role("button", name="Save and continue later").click()
    page.wait_for_url(re.compile(r"/later/"))
    visit("participant-saved-for-later")
    token = page.get_by_test_id("resume-link").inner_text().rstrip("/").rsplit("/", 1)[-1]
    visit("participant-task-draft-restored", f"/surveys/i/{token}/")
    visit("participant-problem", f"/surveys/i/{token}/task/00000000-0000-0000-0000-000000000000/")
    page.goto(f"{base}/surveys/i/{token}/")
    for _ in range(2):
        page.get_by_role("radio", name="Yes", exact=True).check()
        page.get_by_role("radio", name=re.compile(r"^4\b")).check()
        with page.expect_navigation():
            page.get_by_role("button", name="Save and continue", exact=True).click()
    assert page.get_by_role("heading", name="Thank you!").is_visible()
    visit("participant-thanks")
    own = site["own"]
    page.goto(f"{base}/surveys/s/{own.slug}/")
    page.get_by_label(re.compile("I have read the information")).check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/own-query/"))
    visit("participant-own-query")
    visit("participant-unknown-link", "/surveys/i/not-a-token/")

    # Shoppers.
    visit("search", "/")
    visit("search-results", "/?q=shirt&master_category=Apparel")
    catalog_id = page.get_by_test_id("result").first.get_attribute("data-catalog-id")
    visit("search-product", f"/products/{catalog_id}/")

    # Staff: catalogue, uploads, embeddings, researchers, report.
    context.add_cookies([{"name": "sessionid", "value": site["session"], "url": base}])
    rated = site["rated"]
    for name, url in [
        ("catalogue", "/catalogue/"),
        ("catalogue-upload-new", "/catalogue/upload/"),
        ("catalogue-upload-preview", f"/catalogue/upload/{site['upload'].pk}/"),
        ("embeddings-dashboard", "/embeddings/"),
        ("embeddings-training", "/embeddings/training/"),
        ("researcher-surveys", "/surveys/manage/"),
        ("researcher-new-survey", "/surveys/manage/new/"),
        ("researcher-survey", f"/surveys/manage/{survey.slug}/"),
        ("researcher-questions", f"/surveys/manage/{survey.slug}/questions/"),
        (
            "researcher-preview",
            f"/surveys/manage/{survey.slug}/preview/"
            f"?query={survey.queries.first().pk}&config={survey.configs.first().pk}",
        ),
        ("researcher-arms", f"/surveys/manage/{survey.slug}/arms/"),
        ("researcher-plan", f"/surveys/manage/{survey.slug}/plan/"),
        ("researcher-progress", f"/surveys/manage/{rated.slug}/progress/"),
        ("researcher-report", f"/surveys/manage/{rated.slug}/report/"),
    ]:
        visit(name, url)
    services.close_survey(survey=survey)
    visit("participant-closed", f"/surveys/i/{token}/")
    context.close()
    assert too_wide == [], f"pages wider than the phone: {too_wide}"
