"""Participant pages on a phone and from the keyboard (issue 16, items 7–10), in headless Chromium.

Phones are emulated (touch, mobile viewport) at 360 and 390 CSS px: no page may scroll sideways,
and radio buttons and the submit button take taps. Then the error summary, "Save and continue
later" mid-task (a draft, restored through the personal link in a fresh browser) and the number keys.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.surveys.fixtures
import re

import pytest

from surveys import services
from surveys.models import Question, Rating, TaskDraft
from tests.surveys.fixtures import catalogue, make_own_query_survey, make_survey, media_root  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FITS = "document.documentElement.scrollWidth"


def phone_context(browser, width):
    return browser.new_context(
        viewport={"width": width, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )


def tap_and_wait(page, locator):
    """Tap a submit button and wait for the page it leads to (a tap does not wait by itself)."""
    with page.expect_navigation():
        locator.tap()


def assert_fits(page, width, what):
    # In mobile emulation Chrome widens the layout viewport to fit wide content, so compare with
    # the phone's width, not only with innerWidth.
    sizes = page.evaluate(f"[{FITS}, window.innerWidth]")
    assert sizes == [width, width], f"{what} at {width} px is {sizes[0]} px wide (viewport {sizes[1]})"


@pytest.mark.parametrize("width", [360, 390])
def test_every_participant_page_fits_a_phone_and_takes_taps(live_server, browser, make_survey, width):
    survey = make_survey(queries=1, configs=2, results_per_task=12)
    context = phone_context(browser, width)
    page = context.new_page()
    base = live_server.url

    page.goto(f"{base}/surveys/s/{survey.slug}/")
    assert_fits(page, width, "landing page")
    tap_and_wait(page, page.get_by_role("button", name="Start"))
    assert "Please tick the box" in page.get_by_role("alert").inner_text()
    assert_fits(page, width, "landing page with its error")
    page.get_by_label(re.compile("I have read the information")).tap()
    tap_and_wait(page, page.get_by_role("button", name="Start"))
    page.wait_for_url(re.compile(r"/task/"))
    assert "Task 1 of 1" in page.content()
    assert page.locator("[data-testid=result-grid] li").count() == 12
    assert_fits(page, width, "task page")  # the personal link under the task breaks

    tap_and_wait(page, page.get_by_role("button", name="Save and continue", exact=True))
    assert page.get_by_test_id("form-error").is_visible()
    assert_fits(page, width, "task page with the error summary")

    yes = page.get_by_role("radio", name="Yes", exact=True)
    yes.tap()  # a tap on the radio button itself, nothing in front of it
    assert yes.is_checked()
    four = page.get_by_role("radio", name=re.compile(r"^4\b"))
    four.tap()
    assert four.is_checked()
    tap_and_wait(page, page.get_by_role("button", name="Save and continue", exact=True))
    page.wait_for_url(re.compile(r"/thanks/"))
    assert page.get_by_role("heading", name="Thank you!").is_visible()
    assert_fits(page, width, "thank-you page")
    assert Rating.objects.get().satisfaction == 4

    token = page.url.rstrip("/").split("/")[-2]
    page.goto(f"{base}/surveys/i/{token}/later/")
    assert page.get_by_test_id("resume-link").is_visible()
    assert_fits(page, width, "saved-for-later page")

    page.goto(f"{base}/surveys/i/{token}/task/00000000-0000-0000-0000-000000000000/")
    assert page.get_by_role("heading", name="This task does not exist").is_visible()
    assert_fits(page, width, "problem page with the personal link")

    services.close_survey(survey=survey)
    page.goto(f"{base}/surveys/i/{token}/")
    assert page.get_by_role("heading", name="This survey is closed").is_visible()
    assert_fits(page, width, "closed page")

    own = make_own_query_survey(slug=f"own-phone-{width}", own_query_tasks=1)
    page.goto(f"{base}/surveys/s/{own.slug}/")
    page.get_by_label(re.compile("I have read the information")).tap()
    tap_and_wait(page, page.get_by_role("button", name="Start"))
    page.wait_for_url(re.compile(r"/own-query/"))
    tap_and_wait(page, page.get_by_role("button", name="Show results"))
    assert "Type a description, upload a photo, or both." in page.content()
    assert_fits(page, width, "own-query page with its error")
    context.close()


def test_error_summary_takes_focus_and_leads_to_the_first_question(live_server, page, make_survey):
    survey = make_survey(queries=2, configs=2)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/surveys/s/{survey.slug}/")
    with page.expect_navigation():
        page.get_by_role("button", name="Start").click()
    assert page.evaluate("document.activeElement.dataset.testid") == "form-error"
    page.get_by_test_id("form-error").get_by_role("link").click()
    assert page.evaluate("document.activeElement.id") == "id_consent"
    page.keyboard.press("Space")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/task/"))
    page.get_by_role("radio", name="Partly", exact=True).check()
    page.get_by_role("button", name="Save and continue", exact=True).click()

    summary = page.get_by_test_id("form-error")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.dataset.testid") == "form-error"
    assert page.title().startswith("Error: ")
    links = summary.get_by_role("link")
    assert links.all_inner_texts() == ["Please choose a number from 1 to 5."]
    links.first.click()
    focused = page.evaluate("[document.activeElement.type, document.activeElement.value]")
    assert focused == ["radio", "1"]
    assert page.get_by_role("radio", name=re.compile(r"^1\b")).get_attribute("aria-invalid") == "true"
    assert page.get_by_role("radio", name="Partly", exact=True).is_checked()  # the answer given is kept
    assert Rating.objects.count() == 0


def test_save_later_mid_task_keeps_a_draft_restored_by_the_personal_link(
    live_server, browser, page, make_survey
):
    survey = make_survey(queries=2, configs=2)
    services.add_question(survey=survey, kind=Question.Kind.COMMENT, wording="Anything else?", required=False)
    page.goto(f"{live_server.url}/surveys/s/{survey.slug}/")
    page.get_by_label(re.compile("I have read the information")).check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/task/"))
    task_url = page.url
    page.get_by_role("radio", name="Partly", exact=True).check()
    page.get_by_label("Anything else?").fill("the red one is close")
    page.get_by_role("button", name="Save and continue later").click()

    assert page.get_by_role("heading", name="Your answers are saved").is_visible()
    resume = page.get_by_test_id("resume-link").inner_text()
    assert Rating.objects.count() == 0  # a draft, not a rating
    assert TaskDraft.objects.count() == 1

    other = browser.new_context()  # another browser: the personal link only
    later = other.new_page()
    later.goto(resume)
    later.wait_for_url(task_url)
    assert "Task 1 of 2" in later.content()
    assert "Your answers from last time are filled in" in later.content()
    assert later.get_by_role("radio", name="Partly", exact=True).is_checked()
    assert later.get_by_label("Anything else?").input_value() == "the red one is close"
    later.get_by_role("radio", name=re.compile(r"^2\b")).check()
    later.get_by_role("button", name="Save and continue", exact=True).click()
    later.wait_for_function("() => document.body.innerText.includes('Task 2 of 2')")
    rating = Rating.objects.get()
    assert (rating.match, rating.satisfaction, rating.comment) == ("partly", 2, "the red one is close")
    assert TaskDraft.objects.count() == 0
    other.close()


def test_number_keys_choose_the_rating_but_not_while_typing(live_server, page, make_survey):
    survey = make_survey(queries=1, configs=2)
    services.add_question(survey=survey, kind=Question.Kind.COMMENT, wording="Anything else?", required=False)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/surveys/s/{survey.slug}/")
    page.get_by_label(re.compile("I have read the information")).check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(r"/task/"))

    page.keyboard.press("4")  # nothing focused: the satisfaction question takes it
    assert page.get_by_role("radio", name=re.compile(r"^4\b")).is_checked()
    assert "Chose 4" in page.locator("[data-key-announce]").inner_text()
    assert page.get_by_role("radio", name=re.compile(r"^1\b")).get_attribute("aria-keyshortcuts") == "1"

    page.get_by_role("radio", name=re.compile(r"^4\b")).focus()
    page.keyboard.press("2")  # inside the question: choose and move focus there
    assert page.get_by_role("radio", name=re.compile(r"^2\b")).is_checked()
    assert page.evaluate("document.activeElement.value") == "2"

    page.get_by_label("Anything else?").focus()
    page.keyboard.type("5 stars")  # typing is typing
    assert page.get_by_label("Anything else?").input_value() == "5 stars"
    assert page.get_by_role("radio", name=re.compile(r"^2\b")).is_checked()
    page.keyboard.press("Control+3")
    assert page.get_by_role("radio", name=re.compile(r"^2\b")).is_checked()


def test_on_a_phone_the_questions_are_one_tap_away_from_the_top(live_server, browser, make_survey):
    survey = make_survey(queries=1, configs=2, results_per_task=12)
    context = phone_context(browser, 390)
    page = context.new_page()
    page.goto(f"{live_server.url}/surveys/s/{survey.slug}/")
    page.get_by_label(re.compile("I have read the information")).tap()
    tap_and_wait(page, page.get_by_role("button", name="Start"))
    page.wait_for_url(re.compile(r"/task/"))
    in_view = (
        "(el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    question = page.locator("fieldset.question").first
    bar = page.get_by_test_id("rate-bar")
    assert not question.evaluate(in_view)  # twelve results stand between the top and the questions
    assert bar.evaluate(in_view)
    bar.tap()
    page.wait_for_function("() => document.activeElement.id === 'questions'")
    assert question.locator("legend").evaluate(in_view)
    context.close()
