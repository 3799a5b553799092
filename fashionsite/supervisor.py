"""The process supervisor behind `manage.py up`: start children, restart them, find orphans.

Why not honcho, supervisord or circus: honcho stops everything when one process exits (no
restarts); supervisord and circus are daemons of their own with a config file and a control
socket (circus also needs ZeroMQ), so `make run` would start a second supervisor to supervise.
What `up` needs fits in this module:

- each child runs in a session (process group) of its own, so its whole tree (gunicorn workers,
  the Celery pool) is signalled at once, and with a parent-death signal (SIGTERM), so a launcher
  killed with SIGKILL takes its children with it;
- a child that exits while the launcher is not stopping is restarted after a backoff (1 s,
  doubling to 30 s, back to 1 s once it ran for a minute), with one log line per restart;
- each child's pid and start time are kept in `<data dir>/run/<name>.pid`: the next launcher
  stops whatever of them still runs (a leftover of a launcher that could not clean up);
- `<data dir>/run/state.json` says which processes run, for `manage.py up --status`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PR_SET_PDEATHSIG = 1
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def open_log(path: Path):
    """Open a log for appending, readable by owner and group only (logs name IP addresses)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.fchmod(fd, 0o640)
    return os.fdopen(fd, "ab")


def process_matches(pid: int, create_time: float) -> bool:
    """Whether `pid` is alive and is the process that was started at `create_time` (no pid reuse)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and abs(process.create_time() - create_time) < 1
    except psutil.Error:
        return False


def running_children(run_dir: Path) -> Iterator[tuple[Path, int]]:
    """(pid file, pid) of each child in `run_dir`'s pid files that is still running; unreadable
    pid files count as none."""
    for pidfile in sorted(run_dir.glob("*.pid")):
        with contextlib.suppress(OSError, ValueError, KeyError):
            entry = json.loads(pidfile.read_text())
            if process_matches(entry["pid"], entry["create_time"]):
                yield pidfile, entry["pid"]


def stop_group(pid: int, *, timeout: float = 60) -> None:
    """SIGTERM a process group, wait for its leader, then SIGKILL what is left of the group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


@dataclass
class Program:
    """A supervised thing: a child process (`argv`), or a server watched through `is_up`/`start`."""

    name: str
    argv: list[str] | None = None
    log_path: Path | None = None
    is_up: Callable[[], bool] | None = None
    start: Callable[[], None] | None = None
    process: subprocess.Popen | None = None
    pid: int | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = 1.0
    restart_at: float | None = None
    last_exit: str = ""
    extra: dict = field(default_factory=dict)


class Supervisor:
    def __init__(self, run_dir: Path, *, cwd: Path, env: dict, say: Callable[[str], None]):
        self.run_dir = run_dir
        self.cwd = cwd
        self.env = env
        self.say = say
        self.programs: list[Program] = []
        self.stopping = False
        self.info: dict = {}
        run_dir.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ orphans

    def stop_orphans(self) -> list[str]:
        """Stop children of an earlier launcher that are still running (found by their pid files)."""
        stopped = []
        for pidfile, pid in running_children(self.run_dir):
            self.say(
                f"found {pidfile.stem} (pid {pid}) left running by a launcher that did not stop cleanly; stopping it"
            )
            stop_group(pid, timeout=30)
            stopped.append(pidfile.stem)
        for pidfile in self.run_dir.glob("*.pid"):
            pidfile.unlink(missing_ok=True)
        return stopped

    # ------------------------------------------------------------------ running

    def add(self, program: Program) -> Program:
        self.programs.append(program)
        return program

    def launch(self, program: Program) -> None:
        if program.argv is None:
            program.start()
            program.started_at = time.time()
            self.write_state()
            return
        with open_log(program.log_path) as log:
            program.process = subprocess.Popen(
                program.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the launcher only; it stops children in order
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )
        program.pid = program.process.pid
        program.started_at = psutil.Process(program.pid).create_time()
        (self.run_dir / f"{program.name}.pid").write_text(
            json.dumps({"pid": program.pid, "create_time": program.started_at})
        )
        self.write_state()

    def exited(self, program: Program) -> str | None:
        """Why the program is down ("exit code 1", "not answering"), or None while it runs."""
        if program.argv is None:
            try:
                return None if program.is_up() else "not answering"
            except Exception as error:  # noqa: BLE001 - a failing probe is a down server, not a dead launcher
                return f"not answering ({type(error).__name__})"
        code = program.process.poll() if program.process else None
        return None if code is None else f"exit code {code}"

    def poll(self) -> None:
        """Restart programs that went down, after their backoff. Call it every second or so."""
        now = time.time()
        for program in self.programs:
            if program.restart_at is not None:
                if now >= program.restart_at:
                    program.restart_at = None
                    program.restarts += 1
                    try:
                        self.launch(program)
                    except Exception as error:  # noqa: BLE001 - a failed start is retried later
                        self._schedule(program, f"start failed: {error}", now)
                continue
            reason = self.exited(program)
            if reason is not None and not self.stopping:
                self._schedule(program, reason, now)

    def _schedule(self, program: Program, reason: str, now: float) -> None:
        ran_for = now - program.started_at if program.started_at else 0
        if ran_for > STABLE_AFTER:
            program.backoff = 1.0
        program.last_exit = reason
        program.restart_at = now + program.backoff
        self.say(
            f"{program.name} went down ({reason}) after {ran_for:.0f} s; restarting it in "
            f"{program.backoff:.0f} s (restart #{program.restarts + 1})"
        )
        program.backoff = min(program.backoff * 2, MAX_BACKOFF)
        self.write_state()

    def stop_all(self, *, timeout: float = 60) -> None:
        """Stop the child processes, last started first (web before worker)."""
        self.stopping = True
        for program in reversed(self.programs):
            if program.process is None:
                continue
            if program.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(program.process.pid, signal.SIGTERM)
            try:
                program.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.say(f"the {program.name} process did not stop in {timeout:.0f} s; killing it")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(program.process.pid, signal.SIGKILL)
            program.process.wait()
            (self.run_dir / f"{program.name}.pid").unlink(missing_ok=True)
        self.state_path().unlink(missing_ok=True)

    # ------------------------------------------------------------------ state

    def state_path(self) -> Path:
        return self.run_dir / "state.json"

    def write_state(self) -> None:
        programs = {
            program.name: {
                "pid": program.pid,
                "started_at": program.started_at,
                "restarts": program.restarts,
                "last_exit": program.last_exit,
                "child": program.argv is not None,
            }
            for program in self.programs
        }
        state = {**self.info, "launcher": os.getpid(), "programs": programs}
        temporary = self.state_path().with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1))
        temporary.replace(self.state_path())
