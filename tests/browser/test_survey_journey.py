"""The whole participant journey in headless Chromium: consent, rate every task, resume later, thank-you.

One task is answered with the keyboard alone (Tab / Space / Enter), and the resume happens in a
fresh browser context (no cookies), through the personal link only.
"""

import re

import pytest

from surveys.models import Rating
from tests.surveys.fixtures import catalogue, make_survey, media_root  # noqa: F401 - pytest fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tab_until(page, predicate_js: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return {predicate_js}; }})()"):
            return
    raise AssertionError(f"keyboard focus never reached: {predicate_js}")


def answer_with_keyboard(page) -> None:
    """Choose 'Partly' and 4 using only Tab, arrow keys and Space, then submit with Enter."""
    tab_until(page, "el.type === 'radio' && el.value === 'yes'")
    page.keyboard.press("ArrowRight")  # radios in a group: arrows move and select
    assert page.evaluate("document.activeElement.value") == "partly"
    tab_until(page, "el.type === 'radio' && /^[1-5]$/.test(el.value)")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.value") == "4"
    tab_until(page, "el.tagName === 'BUTTON' && el.name === 'next'")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    page.keyboard.press("Enter")


def answer_with_mouse(page, match="Yes", satisfaction="3") -> None:
    page.get_by_role("radio", name=match, exact=True).check()
    page.get_by_role("radio", name=re.compile(rf"^{satisfaction}\b")).check()


def test_participant_journey(live_server, browser, page, make_survey):  # noqa: F811 - the imported fixture
    survey = make_survey(queries=4, configs=2)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{live_server.url}/surveys/s/{survey.slug}/")
    page.get_by_role("button", name="Start").click()
    assert "Please tick the box" in page.get_by_role("alert").inner_text()
    assert not survey.participants.exists()

    # Consent with the keyboard alone.
    tab_until(page, "el.id === 'id_consent'")
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/task/"))
    assert "Task 1 of 4" in page.content()
    assert page.locator("[data-testid=result-grid] li").count() == survey.results_per_task
    for config in survey.configs.select_related("weight_config"):
        assert config.weight_config.name not in page.content()

    answer_with_keyboard(page)
    page.wait_for_function("() => document.body.innerText.includes('Task 2 of 4')")  # no eval() under the CSP

    # Submitting without answers re-shows the form with the error.
    page.get_by_role("button", name="Save and continue", exact=True).click()
    assert page.get_by_test_id("form-error").is_visible()
    answer_with_mouse(page)
    page.get_by_role("button", name="Save and continue later").click()
    resume = page.get_by_test_id("resume-link").inner_text()
    assert Rating.objects.count() == 2

    # Later, in another browser (no cookies): the personal link resumes at task 3.
    other = browser.new_context()
    later = other.new_page()
    later.goto(resume)
    later.wait_for_url(re.compile(r"/task/"))
    assert "Task 3 of 4" in later.content()
    for _ in range(2):
        answer_with_mouse(later, match="No", satisfaction="5")
        later.get_by_role("button", name="Save and continue", exact=True).click()
        later.wait_for_load_state()
    assert later.get_by_role("heading", name="Thank you!").is_visible()
    other.close()

    ratings = Rating.objects.filter(assignment__participant__survey=survey)
    assert ratings.count() == 4
    assert sorted(ratings.values_list("satisfaction", flat=True)) == [3, 4, 5, 5]
    assert survey.participants.get().finished_at is not None
    # The one 400 is the deliberately empty submit (the form is re-shown with status 400).
    assert [e for e in page.console_errors if "status of 400" not in e] == []
    assert len(page.console_errors) == 1
