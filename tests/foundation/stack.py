"""A real `manage.py up` on a data directory of its own, for fault tests and the soak benchmark.

Everything here drives real processes (the launcher, gunicorn, Celery, PostgreSQL, Redis) over
loopback; nothing of ours is mocked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from benchmarks.participant_http import TASK, join_open_link, task_answers
from tests.fixtures import wait_until

REPO = Path(__file__).resolve().parent.parent.parent

SURVEY_SETUP = """
from search.services import create_weight_config
from surveys import services
configs = [create_weight_config(name=f"fault-{t}", stage2_text=t, stage2_image=round(1 - t, 2)) for t in (0.9, 0.1)]
survey = services.create_survey(title="Faults", slug="faults", weight_configs=configs, results_per_task=6,
                                exact=True, target_ratings_per_cell=100000, seed=1)
services.sample_catalogue_queries(survey=survey, count=4, categories=[])
services.open_survey(survey=survey)
print("SLUG", survey.slug)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Stack:
    """One launcher process; its output is collected by a thread into `self.output`."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, env: dict | None = None, web_workers: int = 1
    ):
        self.data_dir = data_dir
        self.web_workers = web_workers
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.process: subprocess.Popen | None = None
        self.output: list[str] = []

    def env(self) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "REDIS_URL", "FASHIONSITE_DB_NAME", "PROMETHEUS_MULTIPROC_DIR")
        }
        env.update(FASHIONSITE_DATA_DIR=str(self.data_dir), PYTHONUNBUFFERED="1", SURVEY_JOINS_PER_HOUR="0")
        env.update(self.extra_env)
        return env

    def manage(
        self, *args: str, timeout: float = 300, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env={**self.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str) -> Stack:
        self.output = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "up",
                "--port",
                str(self.port),
                "--web-workers",
                str(self.web_workers),
                *args,
            ],
            cwd=REPO,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._collect, args=(self.process,), daemon=True).start()
        return self

    def _collect(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.output.append(line)

    def text(self) -> str:
        return "".join(self.output)

    def wait_for(self, marker: str, timeout: float = 400) -> None:
        try:
            wait_until(
                lambda: marker in self.text() or self.process.poll() is not None, timeout=timeout, what=""
            )
        except AssertionError:
            spy = Path(sys.executable).with_name("py-spy")
            stacks = ""
            if spy.exists() and self.process.poll() is None:
                stacks = subprocess.run(
                    [str(spy), "dump", "--pid", str(self.process.pid)], capture_output=True, text=True
                ).stdout
            raise AssertionError(
                f"no {marker!r} within {timeout:.0f} s; the launcher printed:\n{self.text()[-4000:]}\n{stacks}"
            ) from None
        time.sleep(0.2)  # the collector thread's last lines
        assert marker in self.text(), f"no {marker!r} from the launcher; it printed:\n{self.text()}"

    def state(self) -> dict:
        return json.loads((self.data_dir / "run" / "state.json").read_text())

    def child_pid(self, name: str) -> int:
        return self.state()["programs"][name]["pid"]

    def server_pid(self, name: str) -> int | None:
        from fashionsite import embedded

        return embedded.server_pids(self.data_dir).get(name)

    def stop_postgres(self) -> None:
        """What an operator's `pg_ctl stop -m fast` does; fails loudly if the server did not stop."""
        from fashionsite import embedded

        embedded.stop_postgres_now(self.data_dir)
        assert not embedded.postgres_ready(self.data_dir)

    def tree(self) -> set[int]:
        """The launcher's processes: its children and theirs."""
        try:
            return {child.pid for child in psutil.Process(self.process.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()

    def stop(self) -> str:
        if self.process is None or self.process.poll() is not None:
            return self.text()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        return self.text()

    def kill_everything(self) -> None:
        """Last-resort cleanup for a failed test: the launcher, its children and its servers."""
        from fashionsite import embedded

        for pid in [*self.tree(), *([self.process.pid] if self.process else [])]:
            with _quiet():
                os.kill(pid, signal.SIGKILL)
        self.manage("up", "--stop", timeout=120)
        for pid in embedded.server_pids(self.data_dir).values():
            with _quiet():
                os.kill(pid, signal.SIGKILL)

    # ----------------------------------------------------------------- HTTP

    def get(self, path: str, timeout: float = 30):
        import httpx

        return httpx.get(self.base + path, timeout=timeout)

    def search(self, text: str, timeout: float = 30):
        import httpx

        return httpx.post(self.base + "/api/search/", json={"text": text}, timeout=timeout)

    def ready(self) -> bool:
        try:
            return self.get("/readyz?format=json", timeout=10).status_code == 200
        except Exception:  # noqa: BLE001 - not answering yet
            return False

    def database_url(self) -> dict:
        from fashionsite import embedded

        return embedded.postgres_connection(self.data_dir, "fashionsite")

    def sql(self, query: str, params=()) -> list[tuple]:
        import psycopg

        db = self.database_url()
        with psycopg.connect(host=db["HOST"], port=db["PORT"], user="postgres", dbname=db["NAME"]) as conn:
            return conn.execute(query, params).fetchall()


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], (ProcessLookupError, PermissionError))


class Participants:
    """Simulated participants in threads, submitting ratings until stopped; `acked` holds the
    assignment ids the server acknowledged (303)."""

    def __init__(self, base: str, slug: str, threads: int = 2):
        self.base, self.slug = base, slug
        self.acked: set[str] = set()
        self.errors: list[tuple[float, str]] = []
        self.submits: list[tuple[float, float]] = []  # (time, ms)
        self.lock = threading.Lock()
        self.running = True
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(threads)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        for thread in self.threads:
            thread.join(timeout=60)

    def _loop(self) -> None:
        import httpx

        while self.running:
            with httpx.Client(base_url=self.base, timeout=30, follow_redirects=False) as client:
                try:
                    self._participate(client)
                except Exception as error:  # noqa: BLE001 - outages are expected; recorded
                    with self.lock:
                        self.errors.append((time.time(), repr(error)[:200]))
                    time.sleep(0.5)

    def _participate(self, client) -> None:
        location = join_open_link(client, self.slug)
        while self.running and TASK.search(location):
            task = client.get(location)
            answers = task_answers(task.text, lambda values: values[-1])
            started = time.perf_counter()
            response = client.post(location, data=answers)
            if response.status_code != 303:
                raise RuntimeError(f"submit answered {response.status_code}")
            with self.lock:
                self.acked.add(location.rstrip("/").rsplit("/", 1)[-1])
                self.submits.append((time.time(), (time.perf_counter() - started) * 1000))
            location = response.headers.get("location", "")
