"""Researchers and catalogue admins in headless Chromium (#16): the site's own sign-in with group
membership only, role-aware navigation and the 403 page, the sampling form, the report cache, and
opening a survey in the background with a progress page."""

import re

import pytest
from django.contrib.auth.models import Group, Permission

from surveys.models import Survey
from tests.surveys.fixtures import catalogue, make_survey, media_root  # noqa: F401 - pytest fixtures
from tests.surveys.report_factories import make_rated_survey
from tests.surveys.test_report_cache import add_one_rating

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-browser-res-42"


def group_only_researcher(django_user_model):
    """In the Researchers group only (not staff), as a site admin would set it up in /admin/."""
    group, _ = Group.objects.get_or_create(name="Researchers")
    group.permissions.add(
        Permission.objects.get(codename="conduct_survey", content_type__app_label="surveys")
    )
    user = django_user_model.objects.create_user("browser-res", password=PASSWORD)
    user.groups.add(group)
    return user


def sign_in(page, live_server, next_path: str = "") -> None:
    page.goto(f"{live_server.url}/accounts/login/{'?next=' + next_path if next_path else ''}")
    page.get_by_label("Username").fill("browser-res")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_a_group_only_researcher_signs_in_and_reaches_surveys_but_not_the_catalogue(
    live_server, page, django_user_model
):
    group_only_researcher(django_user_model)
    page.goto(f"{live_server.url}/surveys/manage/")
    assert "/accounts/login/" in page.url  # anonymous: sent to the site's sign-in page
    page.get_by_label("Username").fill("browser-res")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/surveys/manage/$"))
    nav = page.get_by_test_id("site-nav")
    assert nav.get_by_role("link", name="Surveys").count() == 1
    assert nav.get_by_role("link", name="Catalogue").count() == 0
    response = page.goto(f"{live_server.url}/catalogue/")
    assert response.status == 403
    assert (
        page.get_by_test_id("forbidden-reason").inner_text() == "This page needs the Catalogue admins group."
    )
    page.get_by_test_id("way-back").click()
    page.wait_for_url(f"{live_server.url}/")
    # The browser reports the 403 itself; nothing else may fail.
    assert [error for error in page.console_errors if "status of 403" not in error] == []


def test_the_header_menu_folds_on_a_phone(live_server, page, django_user_model):
    group_only_researcher(django_user_model)
    sign_in(page, live_server)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/surveys/manage/")
    surveys_link = page.get_by_test_id("site-nav").get_by_role("link", name="Surveys")
    assert not surveys_link.is_visible()
    page.get_by_text("Menu", exact=True).click()
    assert surveys_link.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_sampling_form_shows_each_category_once(live_server, page, django_user_model, make_survey):  # noqa: F811
    survey = make_survey(queries=2, configs=2, status="draft")
    group_only_researcher(django_user_model)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/surveys/manage/{survey.slug}/")
    boxes = page.locator("input[name=categories]")
    assert [boxes.nth(i).get_attribute("value") for i in range(boxes.count())] == ["Apparel", "Footwear"]


def test_the_report_cache_serves_the_second_load_and_a_new_rating_recomputes(
    live_server, page, django_user_model, settings
):
    settings.REPORT_BOOTSTRAP_RESAMPLES = 100
    survey = make_rated_survey(n_queries=6, n_participants=4)
    group_only_researcher(django_user_model)
    sign_in(page, live_server)
    url = f"{live_server.url}/surveys/manage/{survey.slug}/report/"
    page.goto(url)
    first = page.get_by_test_id("report-computed").inner_text()
    assert "(just now)" in first
    page.reload()
    second = page.get_by_test_id("report-computed").inner_text()
    assert "(kept from then" in second and second.split(" UTC")[0] == first.split(" UTC")[0]
    add_one_rating(survey)
    page.reload()
    assert "(just now)" in page.get_by_test_id("report-computed").inner_text()
    assert "25 ratings by 5 participants" in page.get_by_test_id("report").inner_text()


@pytest.mark.worker
def test_opening_a_survey_shows_progress_and_ends_open(
    live_server,
    page,
    django_user_model,
    make_survey,  # noqa: F811
    celery_worker,
):
    survey = make_survey(queries=3, configs=2, status="draft")
    group_only_researcher(django_user_model)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/surveys/manage/{survey.slug}/")
    page.get_by_role("button", name="Open the survey").click()
    page.wait_for_load_state()
    if "/opening/" in page.url:  # the worker may finish before the first page is drawn
        assert re.fullmatch(r"\d of 6", page.get_by_test_id("opening-count").inner_text())
        assert page.locator("progress#opening-progress").count() == 1
    page.wait_for_url(f"{live_server.url}/surveys/manage/{survey.slug}/", timeout=240_000)
    assert "The survey is open." in page.content()
    assert Survey.objects.get(pk=survey.pk).status == Survey.Status.OPEN
    assert page.console_errors == []


def test_the_questions_editor_shows_the_fields_of_each_kind_and_moves_questions(
    live_server,
    page,
    django_user_model,
    make_survey,  # noqa: F811
):
    survey = make_survey(queries=1, configs=2, status="draft")
    first, second = list(survey.questions.order_by("order", "id"))[:2]
    group_only_researcher(django_user_model)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/surveys/manage/{survey.slug}/questions/")
    new = page.locator("[data-question]").last
    untouched = new.locator("select[name$='-kind']").input_value()
    new.locator("select[name$='-kind']").select_option("comment")
    assert not new.locator("[data-field=expected_value]").is_visible()
    assert not new.locator("[data-field=low_label]").is_visible()
    new.locator("select[name$='-kind']").select_option("attention")
    assert new.locator("[data-field=expected_value]").is_visible()
    new.locator("select[name$='-kind']").select_option(untouched)  # leave the blank question unsaved
    # Move the second question up, save: the order is stored.
    page.locator("[data-question]").nth(1).get_by_role("button", name="Move up").click()
    page.get_by_role("button", name="Save questions").click()
    page.wait_for_url(f"{live_server.url}/surveys/manage/{survey.slug}/")
    ordered = list(survey.questions.order_by("order", "id").values_list("pk", flat=True))
    assert ordered[:2] == [second.pk, first.pk]
    assert page.console_errors == []
