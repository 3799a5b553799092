"""`manage.py up` (what `make run` calls) on a data directory of its own: its own PostgreSQL and
Redis are started, the sample catalogue is imported and embedded by the real worker, the site
answers, a second launcher on the same data is refused, and SIGTERM leaves no process behind."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.worker

SAMPLE_ROWS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(process: subprocess.Popen, marker: str, timeout: float) -> str:
    """The launcher's output up to the line containing `marker` (fails on exit or timeout)."""
    seen = []
    chooser = selectors.DefaultSelector()
    chooser.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not chooser.select(timeout=1):
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"no {marker!r} from the launcher; it printed:\n{''.join(seen)}")


def http_json(url: str, payload: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def launcher(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "FASHIONSITE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("FASHIONSITE_DB_NAME", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port), "--web-workers", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def server_pids(data_dir: Path) -> set[int]:
    """The embedded PostgreSQL postmaster and redis-server of this data directory."""
    pids = set()
    postmaster = data_dir / "postgres" / "postmaster.pid"
    if postmaster.exists():
        pids.add(int(postmaster.read_text().split()[0]))
    redis_pid = data_dir / "redis" / "redis.pid"
    if redis_pid.exists():
        pids.add(int(redis_pid.read_text().strip()))
    return pids


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_up_runs_the_whole_stack_and_sigterm_stops_every_process(tmp_path):
    data_dir = tmp_path / "data"
    port = free_port()
    process = launcher(data_dir, port)
    try:
        output = read_until(process, "Press Ctrl-C", timeout=300)
        assert f"{SAMPLE_ROWS} products created" in output
        assert f"http://127.0.0.1:{port}/" in output
        assert "createsuperuser" in output

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as response:  # noqa: S310
            page = response.read().decode()
        assert response.status == 200
        assert "random weights" in page

        status, products = http_json(f"http://127.0.0.1:{port}/api/products/")
        assert status == 200
        assert products["count"] == SAMPLE_ROWS

        # The real worker embeds the sample catalogue; then searches return a full page.
        deadline = time.monotonic() + 240
        while True:
            status, body = http_json(f"http://127.0.0.1:{port}/api/search/", {"text": "blue shirt"})
            if status == 200 and len(body["results"]) == 10:
                break
            assert time.monotonic() < deadline, f"search never returned results: {status} {body}"
            time.sleep(2)

        second = launcher(data_dir, free_port())
        second_output, _ = second.communicate(timeout=120)
        assert second.returncode != 0
        assert "already running" in second_output

        children = {child.pid for child in psutil.Process(process.pid).children(recursive=True)}
        servers = server_pids(data_dir)
        assert len(children) >= 3, "expected gunicorn (master + worker) and the celery worker"
        assert len(servers) == 2 and all(alive(pid) for pid in servers)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        raise

    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=120)
    assert process.returncode == 0, rest
    assert "fashionsite stopped." in rest
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in children | servers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in children | servers if alive(pid)]
    assert not left, f"processes left running after SIGTERM: {left}"
