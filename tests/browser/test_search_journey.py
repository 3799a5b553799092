"""Search journey in headless Chromium: text, image upload, more like this; with and without JavaScript."""

import pytest
from playwright.sync_api import expect

from tests.fixtures import png_bytes
from tests.search.conftest import make_known_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalogue(transactional_db, settings):
    from embeddings.services import ensure_space

    space = ensure_space(
        name="browser", model_name=settings.EMBEDDINGS_MODEL, pretrained="none", activate=True
    )
    return make_known_catalogue(n=60, space=space)


def _journey(page, base_url, *, javascript: bool):
    page.goto(base_url + "/")
    page.get_by_label("Describe what you are looking for").fill("red summer shirt")
    page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_test_id("result")
    results.first.wait_for()
    assert results.count() == 10
    assert page.get_by_role("heading", name="Results").is_visible()

    page.goto(base_url + "/")
    page.get_by_label("Or search with a photo").set_input_files(
        {"name": "query.png", "mimeType": "image/png", "buffer": png_bytes(30, 40, (10, 120, 200))}
    )
    preview = page.locator("[data-preview]")
    # The preview is an enhancement, drawn once the browser has read the file: wait for it.
    if javascript:
        expect(preview).to_be_visible()
    else:
        expect(preview).to_be_hidden()
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_test_id("result").first.wait_for()
    assert page.get_by_test_id("result").count() == 10
    assert "image=" in page.url

    first = page.get_by_test_id("result").first
    source_id = first.get_attribute("data-catalog-id")
    first.get_by_role("link", name="More like this").click()
    page.get_by_role("heading", name="More like").wait_for()
    shown = [item.get_attribute("data-catalog-id") for item in page.get_by_test_id("result").all()]
    assert len(shown) == 10 and source_id not in shown

    first = page.get_by_test_id("result").first
    first.locator("summary", has_text="Explain").click()
    assert first.get_by_text("Stage 1 score").is_visible()


def test_search_journey_with_javascript(page, live_server, catalogue):
    _journey(page, live_server.url, javascript=True)
    assert page.console_errors == []


def test_search_journey_without_javascript(browser, live_server, catalogue):
    context = browser.new_context(java_script_enabled=False)
    try:
        _journey(context.new_page(), live_server.url, javascript=False)
    finally:
        context.close()


def test_search_page_fits_a_phone(browser, live_server, catalogue):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/?q=shirt")
        page.get_by_test_id("result").first.wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        assert all(img.get_attribute("alt") is not None for img in page.locator("img").all())
    finally:
        context.close()
