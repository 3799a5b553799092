"""The side-by-side task in headless Chromium: on a phone the two sets stack (Set A above Set B,
each under its heading); on a wide screen they stand next to each other; answering moves on."""

import re

import pytest

from surveys import services
from surveys.models import Rating, Survey
from tests.surveys.fixtures import catalogue, make_survey, media_root  # noqa: F401 - pytest fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def boxes(page):
    a = page.locator("[data-testid=set-a]").bounding_box()
    b = page.locator("[data-testid=set-b]").bounding_box()
    return a, b


def test_sets_stack_on_a_phone_and_sit_side_by_side_on_a_wide_screen(live_server, page, make_survey):  # noqa: F811
    survey = make_survey(queries=2, configs=2, status="draft", results_per_task=4)
    services.update_survey(survey=survey, task_kind=Survey.TaskKind.SIDE_BY_SIDE)
    services.open_survey(survey=survey)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/surveys/s/{survey.slug}/")
    page.get_by_label(re.compile("I have read the information")).check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/task/"))
    assert page.get_by_role("heading", name=re.compile("^Set A")).is_visible()
    a, b = boxes(page)
    assert a["y"] + a["height"] <= b["y"]  # A above B
    assert abs(a["x"] - b["x"]) < 2 and a["width"] <= 390

    page.set_viewport_size({"width": 1280, "height": 900})
    a, b = boxes(page)
    assert a["x"] + a["width"] <= b["x"] and abs(a["y"] - b["y"]) < 2  # next to each other

    page.get_by_role("radio", name="Set B (right)").check()
    page.get_by_label("Why? (optional)").fill("the colours match")
    page.get_by_role("button", name="Save and continue", exact=True).click()
    page.wait_for_url(re.compile(r"/task/"))
    assert "Task 2 of 2" in page.content()
    rating = Rating.objects.get()
    assert (rating.preference, rating.preference_reason) == ("right", "the colours match")


@pytest.mark.parametrize("width", [360, 390])
def test_side_by_side_fits_a_phone_and_leads_to_the_question_after_a_bad_submit(
    live_server,
    browser,
    make_survey,  # noqa: F811
    width,
):
    survey = make_survey(queries=1, configs=2, status="draft", results_per_task=12)
    services.update_survey(survey=survey, task_kind=Survey.TaskKind.SIDE_BY_SIDE)
    services.open_survey(survey=survey)
    context = browser.new_context(
        viewport={"width": width, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/surveys/s/{survey.slug}/")
    page.get_by_label(re.compile("I have read the information")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Start").tap()
    page.wait_for_url(re.compile(r"/task/"))
    fits = "[document.documentElement.scrollWidth, window.innerWidth]"
    assert page.evaluate(fits) == [width, width]
    # Submitted without a choice: the error summary comes first, focused, linking to the question.
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue", exact=True).tap()
    summary = page.locator("[data-error-summary]")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    assert summary.get_by_role("link").first.get_attribute("href") == "#id_preference_0"
    assert page.title().startswith("Error:")
    assert page.evaluate(fits) == [width, width]
    assert not Rating.objects.exists()
    context.close()
