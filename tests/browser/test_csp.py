"""The Content-Security-Policy in Chromium: the main pages, as a visitor, a participant and a
researcher, raise no CSP violation (no inline script, nothing from another origin)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.search.conftest import tiny_catalogue  # noqa: F401 - pytest fixture
from tests.surveys.fixtures import open_text_query_survey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def survey(tiny_catalogue):  # noqa: F811 - the imported fixture
    return open_text_query_survey(slug="csp")


def visit(page, url: str) -> list[str]:
    response = page.goto(url)
    assert response.status < 400, (url, response.status)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__cspViolations")
    console = [text for text in page.console_errors if "Content Security Policy" in text]
    return [f"{url}: {line}" for line in violations + console]


def test_main_pages_raise_no_csp_violation(live_server, browser, page, survey, django_user_model):
    page.context.add_init_script(COLLECT_VIOLATIONS)
    base = live_server.url
    found = []
    for path in ["/", "/?q=red+shirt", "/api/docs/", "/admin/login/", f"/surveys/s/{survey.slug}/"]:
        found += visit(page, base + path)
    # A participant: consent, then the first task.
    page.goto(f"{base}/surveys/s/{survey.slug}/")
    page.get_by_role("checkbox").check()
    page.get_by_role("button").first.click()
    page.wait_for_url("**/task/**")
    found += visit(page, page.url)
    # A researcher: the survey pages, the preview (its own script) and the catalogue upload page.
    user = django_user_model.objects.create_user("csp-researcher", password="pw-123456", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["conduct_survey", "manage_catalog", "view_weightconfig"])
    )
    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])
    query, arm = survey.queries.first(), survey.configs.first()
    for path in [
        "/surveys/manage/",
        f"/surveys/manage/{survey.slug}/",
        f"/surveys/manage/{survey.slug}/preview/?query={query.pk}&config={arm.pk}",
        "/catalogue/upload/",
        "/?q=red+shirt",
    ]:
        found += visit(page, base + path)
    # The preview's form never submits (preview.js, not an inline handler): Enter in it stays on the page.
    preview = f"{base}/surveys/manage/{survey.slug}/preview/?query={query.pk}&config={arm.pk}"
    page.goto(preview)
    page.get_by_role("radio").first.press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.url == preview
    assert not found, "\n".join(found)
    # Other console errors are not this test's business (the admin pages ask for /favicon.ico).
    assert not [text for text in page.console_errors if "Refused" in text], page.console_errors
