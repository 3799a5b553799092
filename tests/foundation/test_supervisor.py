"""The launcher's supervisor with real processes: restarts with backoff, orphans found by their
pid files, logs only the owner and group can read."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from fashionsite.supervisor import Program, Supervisor, process_matches
from tests.fixtures import wait_until
from tests.foundation.stack import alive

pytestmark = pytest.mark.integration  # real child processes, restarts with backoff


def supervisor(tmp_path, lines):
    return Supervisor(tmp_path / "run", cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, say=lines.append)


def test_a_child_that_exits_is_restarted_with_a_log_line_and_growing_backoff(tmp_path):
    lines: list[str] = []
    sup = supervisor(tmp_path, lines)
    crasher = sup.add(Program("crasher", argv=["sh", "-c", "exit 3"], log_path=tmp_path / "logs" / "c.log"))
    sup.launch(crasher)

    def restarted_twice():
        sup.poll()
        return crasher.restarts >= 2

    wait_until(restarted_twice, timeout=30, what=f"not restarted: {lines}", interval=0.1)
    assert "crasher went down (exit code 3)" in lines[0]
    assert "restarting it in 1 s (restart #1)" in lines[0]
    assert "restarting it in 2 s (restart #2)" in lines[1]
    sup.stop_all()


def test_logs_are_readable_by_owner_and_group_only(tmp_path):
    sup = supervisor(tmp_path, [])
    program = sup.add(
        Program("echo", argv=["sh", "-c", "echo hello"], log_path=tmp_path / "logs" / "echo.log")
    )
    sup.launch(program)
    program.process.wait(timeout=10)
    mode = stat.S_IMODE((tmp_path / "logs" / "echo.log").stat().st_mode)
    assert mode == 0o640
    assert (tmp_path / "logs" / "echo.log").read_text() == "hello\n"


def test_a_child_left_by_a_killed_launcher_is_found_by_its_pid_file_and_stopped(tmp_path):
    # A launcher that died without cleaning up: its child runs on, detached, with a pid file.
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    from psutil import Process

    (run_dir / "web.pid").write_text(
        json.dumps({"pid": orphan.pid, "create_time": Process(orphan.pid).create_time()})
    )
    # A stale pid file naming a pid that now belongs to somebody else must not kill it.
    (run_dir / "worker.pid").write_text(json.dumps({"pid": 1, "create_time": 12345.0}))
    lines: list[str] = []
    stopped = Supervisor(run_dir, cwd=tmp_path, env={}, say=lines.append).stop_orphans()
    orphan.wait(timeout=30)
    assert stopped == ["web"]
    assert f"found web (pid {orphan.pid}) left running" in lines[0]
    assert not alive(orphan.pid) and alive(1)
    assert not process_matches(1, 12345.0)
    assert list(run_dir.glob("*.pid")) == []
