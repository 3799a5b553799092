"""The web server's PostgreSQL connection pool (fashionsite/dbpool.py), against a real gunicorn with
uvicorn workers (fashionsite/web.py) on the test database: requests reuse a few open connections,
and a request after PostgreSQL ended every connection (what a restart does) is answered, not a 500.
Only the web server pools: settings without DB_POOL_SIZE open a connection per use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.db import connection

from tests.fixtures import wait_until
from tests.foundation.stack import free_port

REPO = Path(__file__).resolve().parent.parent.parent
NO_SURVEY = "/surveys/s/no-such-survey/"  # a page that asks the database, then says "not valid"
NOT_VALID = "There is no survey at this address"
CONFIG_POOL_SIZE = 16  # the gunicorn config's default per web worker
POOL_SIZE = 4  # set for the test that fills the pool
WEB_APPLICATION_NAME = "fashionsite-pool-test-web"

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def start_web(tmp_path):
    """Start one web worker, as `manage.py up` runs it, bound to the test database; DB_POOL_SIZE
    `pool_size`, or the gunicorn config's default. Returns its base URL."""
    from fashionsite.web import web_command

    processes = []

    def start(pool_size: int | None = None) -> str:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "DB_POOL_SIZE"}
        if pool_size is not None:
            env["DB_POOL_SIZE"] = str(pool_size)
        # libpq names the web server's connections, so the test counts only those (a Celery worker of
        # the same test session may be connected to the same database).
        env.update(
            FASHIONSITE_DB_NAME=connection.settings_dict["NAME"],
            WARM_MODELS="0",
            PYTHONUNBUFFERED="1",
            PGAPPNAME=WEB_APPLICATION_NAME,
        )
        log_path = tmp_path / "web.log"
        with open(log_path, "ab") as log:
            processes.append(
                subprocess.Popen(
                    web_command("127.0.0.1", port, 1),
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            )
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(base), timeout=120, what=f"the web server (log: {log_path})")
        return base

    yield start
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def server_backends() -> set[int]:
    """PostgreSQL backends of the web server under test (by its application_name)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND application_name = %s",
            [WEB_APPLICATION_NAME],
        )
        return {row[0] for row in cursor.fetchall()}


def assert_not_valid_page(base: str) -> None:
    response = httpx.get(f"{base}{NO_SURVEY}", timeout=30)
    assert response.status_code == 404, response.text[:500]
    assert NOT_VALID in response.text


def test_requests_reuse_a_few_open_connections(start_web):
    web = start_web()
    for _ in range(10):
        assert_not_valid_page(web)
    serving = server_backends()
    assert 1 <= len(serving) <= CONFIG_POOL_SIZE
    for _ in range(20):
        assert_not_valid_page(web)
    # The same backends answered: no connection was opened (or closed) per request.
    assert server_backends() == serving


def test_a_request_after_postgresql_ended_every_pooled_connection_is_answered(start_web):
    web = start_web(POOL_SIZE)

    def full_pool() -> set[int] | None:
        with ThreadPoolExecutor(12) as pool:
            list(pool.map(lambda _: assert_not_valid_page(web), range(24)))
        found = server_backends()
        return found if len(found) == POOL_SIZE else None

    # A full pool: met one after another with a pause after each failed check, its dead
    # connections would outlast a request's wait for a connection.
    dead = wait_until(full_pool, timeout=60, what=f"{POOL_SIZE} pooled connections")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [sorted(dead)])
    wait_until(lambda: not (server_backends() & dead), timeout=30, what="the backends ended")

    assert_not_valid_page(web)
    for _ in range(10):
        assert_not_valid_page(web)
    assert not (server_backends() & dead)


def test_only_the_web_server_pools_connections():
    """The Celery worker forks its pool processes and management commands are short-lived: both
    open a connection per use unless DB_POOL_SIZE is set for them."""
    env = {k: v for k, v in os.environ.items() if k != "DB_POOL_SIZE"}
    show = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'].get('pool'))"
    code = f"import django; django.setup(); {show}"
    plain = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert plain.stdout.strip() == "None", plain.stderr
    pooled = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**env, "DB_POOL_SIZE": "3"},
        capture_output=True,
        text=True,
    )
    assert "'max_size': 3" in pooled.stdout, pooled.stderr
