"""A survey participant over HTTP, as the pages lead them (no JavaScript): the open-link sign-up and
a task form's answers. One copy for the load benchmark (benchmarks/survey_load.py) and the fault
tests' participants (tests/foundation/stack.py); both drive an httpx.Client."""

from __future__ import annotations

import re
from collections.abc import Callable

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TASK = re.compile(r"/surveys/i/[^/]+/task/[0-9a-f-]+/")
RADIO = re.compile(r'type="radio" name="(q\d+)" value="([^"]+)"')


def join_open_link(client, slug: str) -> str:
    """Consent through survey `slug`'s open link; returns where the invitation sends the new
    participant (their first task, which TASK matches). RuntimeError when consent is refused."""
    page = client.get(f"/surveys/s/{slug}/")
    token = CSRF.search(page.text).group(1)
    response = client.post(f"/surveys/s/{slug}/", data={"csrfmiddlewaretoken": token, "consent": "on"})
    if response.status_code != 302:
        raise RuntimeError(f"consent answered {response.status_code}")
    return client.get(response.headers["location"]).headers.get("location", "")


def task_answers(task_html: str, choose: Callable[[list[str]], str]) -> dict[str, str]:
    """The task form's POST data: its CSRF token and, for each radio question, `choose(values)`."""
    choices: dict[str, list[str]] = {}
    for name, value in RADIO.findall(task_html):
        choices.setdefault(name, []).append(value)
    answers = {name: choose(values) for name, values in choices.items()}
    return {"csrfmiddlewaretoken": CSRF.search(task_html).group(1), **answers}
