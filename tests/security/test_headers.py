"""Headers of every HTML page: a Content-Security-Policy that allows no inline script (and no page
needs one); HTTPS mode passes `manage.py check --deploy`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from catalogue.models import Product
from tests.conftest import REPO
from tests.foundation.test_settings import server_urls
from tests.surveys.test_participant_flow import consent, task_url

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
SKIP = re.compile(
    r"/(media|static)/|/api/(?!docs/$)|logout|delete|export|download|\.(png|csv|json)$|/status\.json"
)


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def crawl(client, starts: list[str], limit: int = 60) -> dict[str, object]:
    """GET pages breadth-first from `starts`, following same-site links; {path: response} of HTML pages."""
    seen, pages, queue = set(starts), {}, deque(starts)
    while queue and len(pages) < limit:
        path = queue.popleft()
        response = client.get(path)
        if not response.get("Content-Type", "").startswith("text/html"):
            continue
        pages[path] = response
        parser = Links()
        parser.feed(response.content.decode())
        for href in parser.hrefs:
            target = urlsplit(urljoin(path, href))
            if target.netloc not in ("", "testserver") or target.scheme not in ("", "http"):
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if link not in seen and not SKIP.search(link):
                seen.add(link)
                queue.append(link)
    return pages


def assert_strict_csp(pages: dict) -> None:
    assert pages
    for path, response in pages.items():
        policy = response.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy, path
        script_src = policy.split("script-src", 1)[1].split(";", 1)[0]
        assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src, path
        assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), (path, INLINE_SCRIPT.search(html).group(0))
        assert not EVENT_HANDLER.search(html), (path, EVENT_HANDLER.search(html).group(0))


@pytest.mark.integration  # walks every page
@pytest.mark.django_db
def test_every_page_an_anonymous_visitor_and_a_participant_reach_has_the_csp(client, open_survey):
    participant = consent(client, open_survey)
    starts = ["/", "/admin/login/", "/api/docs/", "/no-such-page/", f"/surveys/s/{open_survey.slug}/"]
    product = Product.objects.order_by("pk").first()
    task = participant.assignments.order_by("position").first()
    starts += [task_url(participant, task), f"/products/{product.catalog_id}/"]
    pages = crawl(client, starts)
    assert {"/", "/admin/login/", "/api/docs/", "/no-such-page/"} <= set(pages)
    assert any("/task/" in path for path in pages)
    assert_strict_csp(pages)


@pytest.mark.integration  # walks every page
@pytest.mark.django_db
def test_every_page_staff_reach_has_the_csp(client, open_survey, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="pw-root-123456")
    client.force_login(admin)
    query, arm = open_survey.queries.first(), open_survey.configs.first()
    starts = [
        "/surveys/manage/",
        f"/surveys/manage/{open_survey.slug}/preview/?query={query.pk}&config={arm.pk}",
        f"/surveys/manage/{open_survey.slug}/report/",
        "/catalogue/",
        "/catalogue/upload/",
        "/embeddings/",
        "/admin/",
    ]
    pages = crawl(client, starts, limit=80)
    assert any("/preview/" in path for path in pages) and "/admin/" in pages
    assert_strict_csp(pages)


@pytest.mark.integration  # a manage.py subprocess
def test_https_mode_passes_check_deploy():
    unset = ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")  # the latter is for the test process only
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        server_urls(),
        SECURE_HTTPS="true",
        SECRET_KEY="k" * 20 + "A-very-long-and-random-secret-key-for-the-deploy-check-0123456789",
        ALLOWED_HOSTS="fashion.example.org",
        DJANGO_SETTINGS_MODULE="fashionsite.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_https_mode_sends_hsts_and_secure_cookies(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.CSRF_COOKIE_SECURE = True
    response = client.get("/surveys/s/nothing-here/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    page = client.get("/", secure=True)
    assert page.cookies["csrftoken"]["secure"] is True
