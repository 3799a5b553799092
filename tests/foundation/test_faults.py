"""Fault injection against a real `manage.py up` (its own data directory, PostgreSQL, Redis,
gunicorn and Celery worker): every fault is recovered without a human, nothing acknowledged is
lost, nothing is stored twice. One stack serves the module; each test waits until it is ready
and leaves it ready (the SIGKILL test starts a new launcher on the same data)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

import pytest

from tests.fixtures import wait_until
from tests.foundation.stack import SURVEY_SETUP, Participants, Stack, alive

pytestmark = pytest.mark.worker

PRODUCTS = 300  # the bundled sample catalogue
QUICK_SWEEP = {
    "EMBEDDINGS_SWEEP_SECONDS": "2",
    "EMBEDDINGS_STALL_SECONDS": "4",
    "EMBEDDINGS_BATCH_SIZE": "16",
}


@pytest.fixture(scope="module")
def stack():
    # Not under pytest's temp root: pytest keeps that 0700, and the embedded PostgreSQL runs as
    # its own system user, which must be able to reach its data directory.
    root = Path(tempfile.mkdtemp(prefix="fashionsite-faults-"))
    root.chmod(0o755)
    stack = Stack(root / "data", env=QUICK_SWEEP).start()
    try:
        stack.wait_for("Press Ctrl-C")
        wait_until(
            lambda: (
                stack.sql("SELECT count(*) FROM embeddings_embeddingjob WHERE status = 'done'")[0][0] >= 1
            ),
            timeout=400,
            what="the sample catalogue was never embedded",
        )
        setup = stack.manage("shell", "-c", SURVEY_SETUP)
        assert "SLUG faults" in setup.stdout, setup.stdout + setup.stderr
        yield stack
    finally:
        stack.stop()
        stack.kill_everything()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def ready(stack):
    wait_until(stack.ready, timeout=120, what=f"the stack is not ready:\n{stack.text()[-3000:]}")
    return stack


def space_id(stack: Stack) -> int:
    return stack.sql("SELECT id FROM embeddings_embeddingspace WHERE is_active")[0][0]


def assert_job_completes_once(stack: Stack, job: int, *, what: str) -> None:
    """Wait for embedding job `job` to finish, then check every product has exactly one embedding."""
    wait_until(
        lambda: stack.sql("SELECT status FROM embeddings_embeddingjob WHERE id = %s", [job])[0][0] == "done",
        timeout=400,
        what=what,
    )
    rows, pairs = stack.sql(
        "SELECT count(*), count(DISTINCT product_id) FROM embeddings_productembedding WHERE space_id = %s",
        [space_id(stack)],
    )[0]
    assert rows == pairs == PRODUCTS


def test_a_killed_worker_is_restarted_and_its_job_completes_once(ready):
    stack = ready
    old_worker = stack.child_pid("worker")
    result = stack.manage("embed", "--all")
    assert result.returncode == 0, result.stderr
    job = stack.sql("SELECT max(id) FROM embeddings_embeddingjob")[0][0]

    def running_with_progress():
        status, done = stack.sql("SELECT status, done FROM embeddings_embeddingjob WHERE id = %s", [job])[0]
        return status == "running" and done > 0

    wait_until(running_with_progress, timeout=300, what="the job never started", interval=0.2)
    os.kill(old_worker, signal.SIGKILL)
    assert stack.sql("SELECT status FROM embeddings_embeddingjob WHERE id = %s", [job])[0][0] == "running"

    stack.wait_for("worker went down (exit code -9)", timeout=30)
    wait_until(
        lambda: stack.child_pid("worker") != old_worker, timeout=60, what="the worker was not restarted"
    )
    assert_job_completes_once(stack, job, what="the job did not complete after the worker restart")
    assert stack.process.poll() is None, "the launcher stopped"


def test_postgres_restart_loses_no_acknowledged_rating_nor_a_running_batch_and_the_site_is_back_within_10_s(
    ready,
):
    from fashionsite import embedded

    stack = ready
    before = stack.sql("SELECT count(*) FROM surveys_rating")[0][0]
    assert stack.manage("embed", "--all").returncode == 0  # a job runs through the outage
    job = stack.sql("SELECT max(id) FROM embeddings_embeddingjob")[0][0]
    with Participants(stack.base, "faults") as participants:
        wait_until(
            lambda: len(participants.acked) >= 3,
            timeout=120,
            what=f"no rating acknowledged: {participants.errors}",
        )
        stopped_at = time.monotonic()
        stack.stop_postgres()
        stack.wait_for("postgres went down", timeout=30)
        back = wait_until(
            lambda: embedded.postgres_ready(stack.data_dir) and time.monotonic(),
            timeout=120,
            what="PostgreSQL not restarted",
        )
        wait_until(lambda: _search_ok(stack) and stack.ready(), timeout=60, what="site not answering")
        answered_after = time.monotonic() - back
        recovered_after = time.monotonic() - stopped_at
        acked_before = len(participants.acked)
        wait_until(
            lambda: len(participants.acked) > acked_before,
            timeout=60,
            what="no rating accepted after the restart",
        )
    # The launcher restarts it after its first backoff (1 s); PostgreSQL's own start time is the
    # rest, so the bound is on what is ours: the site is ready soon after the server is.
    assert re.search(r"postgres went down \(not answering\) after \d+ s; restarting it in 1 s", stack.text())
    assert answered_after <= 10, f"ready {answered_after:.1f} s after PostgreSQL was back"
    assert recovered_after <= 30, f"ready {recovered_after:.1f} s after PostgreSQL was stopped"
    stored = {
        str(row[0])
        for row in stack.sql(
            "SELECT a.public_id FROM surveys_rating r JOIN surveys_assignment a ON a.id = r.assignment_id"
        )
    }
    assert participants.acked <= stored, f"acknowledged but not stored: {participants.acked - stored}"
    # Nothing twice; a rating may be stored without its reply reaching the client (the connection
    # dropped with the server), never the other way round.
    ratings, assignments = stack.sql("SELECT count(*), count(DISTINCT assignment_id) FROM surveys_rating")[0]
    assert ratings == assignments
    assert ratings - before >= len(participants.acked)
    assert stack.process.poll() is None, "the launcher stopped"
    stack.wait_for("the database answers again", timeout=60)
    # The batch that met the outage was retried (or re-sent by the sweep): the job completes once.
    assert_job_completes_once(
        stack, job, what="the embedding job that ran through the restart did not complete"
    )


def _search_ok(stack: Stack) -> bool:
    try:
        response = stack.search("blue shirt", timeout=10)
    except Exception:  # noqa: BLE001 - still down
        return False
    return response.status_code == 200 and len(response.json()["results"]) == 10


def test_a_killed_redis_is_restarted_and_ratings_and_search_keep_working(ready):
    stack = ready
    redis_pid = stack.server_pid("redis")
    with Participants(stack.base, "faults") as participants:
        wait_until(
            lambda: len(participants.acked) >= 2,
            timeout=120,
            what=f"no rating acknowledged: {participants.errors}",
        )
        killed_at = time.monotonic()
        os.kill(redis_pid, signal.SIGKILL)
        assert _search_ok(stack), "search failed while Redis was down"
        # Noticed (one ping, no retries), restarted after 1 s, used again by the web within the
        # breaker's 1 s: ready in ~3 s. It took 10.4-12.2 s (redis-py's retries, a 5 s breaker).
        wait_until(stack.ready, timeout=60, what="not ready again after the Redis kill", interval=0.2)
        recovered_after = time.monotonic() - killed_at
        assert stack.server_pid("redis") not in (None, redis_pid), "Redis was not restarted"
        assert "redis went down" in stack.text()
        acked = len(participants.acked)
        wait_until(
            lambda: len(participants.acked) > acked + 2,
            timeout=60,
            what=f"ratings stopped: {participants.errors[-3:]}",
        )
    assert _search_ok(stack)
    stored = {
        str(row[0])
        for row in stack.sql(
            "SELECT a.public_id FROM surveys_rating r JOIN surveys_assignment a ON a.id = r.assignment_id"
        )
    }
    assert participants.acked <= stored
    assert recovered_after <= 10, f"ready again {recovered_after:.1f} s after the Redis kill"


@pytest.mark.parametrize("broker", ["down", "frozen"])
def test_a_product_saved_while_the_broker_is_away_is_embedded_when_it_is_back(
    ready, tmp_path, broker, request
):
    stack = ready
    socket_path = (
        request.getfixturevalue("frozen_redis") if broker == "frozen" else tmp_path / "no-redis.sock"
    )
    save = (
        "import time; from catalogue.models import Product; from catalogue.services import save_product; "
        "p = Product.objects.order_by('pk').first(); t = time.monotonic(); "
        f"save_product(product=p, fields={{'title': 'saved while the broker was {broker}'}}, image=None); "
        "print('SAVED', p.pk, Product.objects.get(pk=p.pk).revision, time.monotonic() - t)"
    )
    result = stack.manage("shell", "-c", save, env={"REDIS_URL": f"unix://{socket_path}"})
    assert result.returncode == 0 and "SAVED" in result.stdout, result.stdout + result.stderr
    product, revision, took = result.stdout.split("SAVED")[1].split()[:3]
    # A frozen broker used to hold the save for 16.7 s (publish retries without a timeout).
    assert float(took) < 10, f"the save took {float(took):.1f} s with the broker {broker}"
    # The record of the pending work is the product's new revision (its embeddings are older).
    wait_until(
        lambda: (
            stack.sql(
                "SELECT product_revision FROM embeddings_productembedding WHERE product_id = %s AND space_id = %s",
                [int(product), space_id(stack)],
            )[0][0]
            == int(revision)
        ),
        timeout=120,
        what=f"the product saved while the broker was {broker} was never embedded",
    )


def test_slow_request_bodies_do_not_take_the_site_offline(ready):
    stack = ready
    clients = []
    try:
        for _ in range(32):
            sock = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
            sock.sendall(
                b"POST /api/search/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n{"
            )
            clients.append(sock)
        for second in range(3):
            for sock in clients:
                sock.sendall(b" ")  # 1 byte/s each
            started = time.monotonic()
            probe = stack.get("/healthz", timeout=10)
            assert probe.status_code == 200 and probe.text == "ok\n"
            assert _search_ok(stack), f"a search failed with 32 slow uploads open (second {second})"
            assert time.monotonic() - started < 10
            time.sleep(1)
    finally:
        for sock in clients:
            sock.close()


def test_status_and_stop_from_another_terminal(ready):
    stack = ready
    status = stack.manage("up", "--status")
    assert status.returncode == 0, status.stdout + status.stderr
    for name in ("web", "worker", "postgres", "redis"):
        assert f"  {name}" in status.stdout
    assert "readiness" in status.stdout and ": ready" in status.stdout
    headers = stack.get("/healthz").headers
    assert "server" not in headers, f"the web server names itself: {headers.get('server')}"
    assert len(headers["x-request-id"]) == 16


def test_after_the_launcher_is_killed_the_next_start_leaves_no_orphans(stack):
    wait_until(stack.ready, timeout=120, what="not ready")
    # The embedded servers are shared (the next launcher reuses them): not the launcher's orphans.
    old_tree = stack.tree() - {stack.server_pid("redis"), stack.server_pid("postgres")}
    assert len(old_tree) >= 3
    os.kill(stack.process.pid, signal.SIGKILL)
    stack.process.wait()
    stack.start()
    stack.wait_for("Press Ctrl-C")
    wait_until(stack.ready, timeout=120, what="the new launcher is not ready")
    left = [pid for pid in old_tree if alive(pid)]
    assert not left, f"processes of the killed launcher still run: {left}"
    second = Stack(stack.data_dir, env=QUICK_SWEEP)
    refused_while_up = second.manage("up", "--port", str(second.port), timeout=120)
    assert refused_while_up.returncode != 0 and "already running" in refused_while_up.stderr


def test_stop_from_another_terminal_stops_every_process(stack):
    wait_until(stack.ready, timeout=120, what="not ready")
    tree = stack.tree()
    stopped = stack.manage("up", "--stop", timeout=300)
    assert stopped.returncode == 0 and "fashionsite stopped." in stopped.stdout, (
        stopped.stdout + stopped.stderr
    )
    stack.process.wait(timeout=60)
    assert "fashionsite stopped." in stack.text()
    wait_until(lambda: not any(alive(pid) for pid in tree), timeout=30, what="children left after up --stop")
    status = stack.manage("up", "--status")
    assert status.returncode == 1 and "not running" in status.stdout
    stack.start()  # leave the module's stack running for whatever runs next
