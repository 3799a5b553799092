"""The search page on a phone (issue 16, item 15): filters fold behind "Filters (n)", results start
within the first screen, and the query photo can be removed (×) without leaving the page."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_search_journey import catalogue  # noqa: F401 - pytest fixture
from tests.fixtures import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_on_a_phone_filters_fold_and_results_start_on_the_first_screen(browser, live_server, catalogue):  # noqa: F811
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    page.goto(live_server.url + "/?q=shirt&gender=Women&season=Summer")
    toggle = page.get_by_test_id("filters-toggle")
    assert toggle.inner_text() == "Filters (2)"
    assert not page.get_by_label("Gender").is_visible()  # folded
    first = page.get_by_test_id("result").first
    top = first.evaluate("(el) => el.getBoundingClientRect().top")
    assert top < 844, f"the first result starts {top} px down, below the first screen"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    toggle.tap()
    expect(page.get_by_label("Gender")).to_be_visible()
    assert page.get_by_label("Gender").input_value() == "Women"
    context.close()


def test_on_a_wide_screen_filters_stay_open(page, live_server, catalogue):  # noqa: F811
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(live_server.url + "/?q=shirt")
    assert page.get_by_label("Gender").is_visible()


def test_the_query_photo_is_removed_with_the_cross(page, live_server, catalogue):  # noqa: F811
    page.goto(live_server.url + "/")
    page.get_by_label("Or search with a photo").set_input_files(
        {"name": "query.png", "mimeType": "image/png", "buffer": png_bytes(30, 40, (10, 120, 200))}
    )
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_test_id("result").first.wait_for()
    assert "image=" in page.url
    results_url = page.url
    remove = page.get_by_role("button", name="Remove the photo")
    expect(page.locator("[data-preview]")).to_be_visible()
    remove.click()
    assert page.url == results_url  # still on the page
    expect(page.locator("[data-preview]")).to_be_hidden()
    expect(remove).to_be_hidden()
    assert page.locator('input[type=hidden][name="image"]').count() == 0

    page.get_by_label("Describe what you are looking for").fill("red shirt")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(lambda url: "q=red" in url)
    assert "image=" not in page.url
    page.get_by_test_id("result").first.wait_for()
    assert page.console_errors == []
