"""`python manage.py up`: the whole stack in one command (what `make run` calls), supervised.

It takes the data directory's launcher lock (a second `up` on the same data is refused), stops
whatever an earlier launcher killed with SIGKILL left running (pid files), starts or reuses the
embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are unset and passes their URLs on,
migrates, imports the bundled sample catalogue on first start, queues its embeddings, and runs
one Celery worker and gunicorn (uvicorn workers) as children. fashionsite/supervisor.py restarts
any of them, and the embedded servers, when they go down. Ctrl-C or SIGTERM (or `up --stop`
from another terminal) stops them in order; `up --status` says what runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from fashionsite import embedded
from fashionsite.celery import worker_command
from fashionsite.supervisor import Program, Supervisor, process_matches, running_children
from fashionsite.web import web_command

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop(signal.Signals(signum).name)


def _lock_holder(path: Path) -> int | None:
    """The pid of the launcher holding the lock at `path`, or None when nobody holds it."""
    if not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class Command(BaseCommand):
    help = (
        "Run fashionsite: migrate, import the sample catalogue on first start, queue its embeddings, "
        "start and supervise a Celery worker and the web server; Ctrl-C, SIGTERM or `up --stop` stops "
        "everything it started; `up --status` shows what runs."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("FASHIONSITE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("FASHIONSITE_PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=2, help="web worker processes (default 2)")
        parser.add_argument(
            "--no-sample", action="store_true", help="do not import the bundled sample catalogue"
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--status", action="store_true", help="show what runs and whether it is ready")
        action.add_argument("--stop", action="store_true", help="stop a running launcher (or its leftovers)")

    def handle(self, *args, host, port, web_workers, no_sample, status, stop, **options):
        self.data_dir = settings.DATA_DIR
        self.run_dir = self.data_dir / "run"
        self.lock_path = self.data_dir / ".up.lock"
        if status:
            sys.exit(self._status())
        if stop:
            return self._stop()
        with self._launcher_lock():
            previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
            self.supervisor = Supervisor(self.run_dir, cwd=settings.BASE_DIR, env={}, say=self._say)
            try:
                self.supervisor.stop_orphans()
                self._start_servers()
                space = self._prepare(no_sample)
                logs = self.data_dir / "logs"
                self.supervisor.info.update(url=f"http://{host}:{port}", data_dir=str(self.data_dir))
                self._add_child("worker", self._worker_argv(), logs)
                self._add_child("web", web_command(host, port, web_workers), logs)
                self._wait_until_ready(f"http://{host}:{port}")
                self._say_where_to_go(host, port, logs, space)
                self._watch(space)
            except _Stop as stop_signal:
                self.stdout.write(f"\n{stop_signal}: stopping the web server and the worker ...")
            finally:
                with _signals_ignored():
                    # 30 s each: gunicorn's graceful timeout; a batch cut short is redelivered (acks_late).
                    self.supervisor.stop_all(timeout=30)
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        self.stdout.write("fashionsite stopped.")

    def _say(self, message: str) -> None:
        self.stdout.write(f"{time.strftime('%H:%M:%S')} {message}")

    # ----------------------------------------------------------------------- start-up

    @contextlib.contextmanager
    def _launcher_lock(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise CommandError(
                    f"fashionsite is already running on the data directory {self.data_dir} "
                    f"(launcher pid {holder}). See `manage.py up --status`, stop it with Ctrl-C or "
                    "`manage.py up --stop`, or give this one its own data with FASHIONSITE_DATA_DIR=... "
                    "and another port (FASHIONSITE_PORT=... or --port)."
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            try:
                yield
            finally:
                handle.truncate(0)

    def _start_servers(self) -> None:
        """Start (or reuse) the embedded servers; supervise them; pass their URLs to children."""
        db_name = settings.DATABASES["default"]["NAME"]
        embedded_pg, embedded_redis = not os.environ.get("DATABASE_URL"), not os.environ.get("REDIS_URL")
        embedded.start_for_process(self.data_dir, db_name)
        if embedded_pg:
            self.supervisor.add(
                Program(
                    "postgres",
                    is_up=lambda: embedded.postgres_ready(self.data_dir),
                    start=lambda: embedded.ensure_postgres(self.data_dir, db_name, register=False),
                    started_at=time.time(),
                )
            )
        if embedded_redis:
            self.supervisor.add(
                Program(
                    "redis",
                    is_up=lambda: embedded.redis_ready(self.data_dir),
                    start=lambda: embedded.ensure_redis(self.data_dir, register=False),
                    started_at=time.time(),
                )
            )
        metrics_dir = self.run_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        self.supervisor.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }

    def _prepare(self, no_sample: bool):
        from catalogue import importing
        from catalogue.models import Product
        from embeddings.encoders import WeightsUnavailable
        from embeddings.services import ensure_space_from_settings

        self.stdout.write(f"Data directory: {self.data_dir}")
        if (
            settings.EMBEDDINGS_PRETRAINED == "none"
            and settings.EMBEDDINGS_MODEL == settings.DEMO_EMBEDDINGS_MODEL
        ):
            self.stdout.write(
                f"EMBEDDINGS_MODEL is unset: using the offline demo model {settings.EMBEDDINGS_MODEL} with "
                "random weights (results are not meaningful; set EMBEDDINGS_MODEL / EMBEDDINGS_PRETRAINED "
                "for real ones)."
            )
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        try:
            space = ensure_space_from_settings()
        except WeightsUnavailable as error:
            raise CommandError(str(error)) from error
        if not no_sample and not Product.objects.exists():
            source = settings.FASHIONSITE_SAMPLE_CATALOG
            self.stdout.write(f"First start: importing the sample catalogue from {source} ...")
            result = importing.import_catalogue(source)
            without_image = Product.objects.filter(image="").count()
            self.stdout.write(import_summary(result, without_image=without_image))
        self._queue_missing(space)
        return space

    def _queue_missing(self, space) -> None:
        from embeddings.models import EmbeddingJob
        from embeddings.services import resume_job, start_embedding_job

        unfinished = EmbeddingJob.objects.filter(space=space, status__in=["queued", "running"])
        for job in unfinished:
            # Their messages may have been lost with a Redis that was not shut down cleanly.
            resume_job(job)
        if not unfinished.exists():
            job = start_embedding_job(space, kind="missing")
            if job.total:
                self.stdout.write(
                    f"Queued embedding job {job.pk}: {job.total} products in space {space.name}"
                )

    def _add_child(self, name: str, argv: list[str], logs: Path) -> None:
        program = self.supervisor.add(Program(name, argv=argv, log_path=logs / f"{name}.log"))
        self.supervisor.launch(program)

    def _worker_argv(self) -> list[str]:
        return worker_command(
            queues="embeddings,default,training",
            name=f"up-{os.getpid()}@%h",
            concurrency=int(os.environ.get("CELERY_CONCURRENCY", "1")),
            beat=True,
        )

    def _wait_until_ready(self, base: str, timeout: float = 300) -> None:
        """Wait for /readyz (web workers have loaded the model, the worker has said hello)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self.supervisor.poll()
            try:
                with urllib.request.urlopen(f"{base}/readyz?format=json", timeout=10) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as error:
                last = error.read().decode(errors="replace")[:300]
            except OSError as error:
                last = str(error)
            time.sleep(0.5)
        self._say(f"not ready after {timeout:.0f} s (last answer: {last}); carrying on, see the logs")

    def _say_where_to_go(self, host: str, port: int, logs: Path, space) -> None:
        from django.contrib.auth import get_user_model

        base = f"http://{host}:{port}"
        manage = f"{sys.executable} manage.py"
        first_user = (
            "" if get_user_model().objects.exists() else f"   (no user yet: {manage} createsuperuser)"
        )
        lines = [
            "",
            f"fashionsite is running at {base}/",
            f"  search            {base}/",
            f"  sign in           {base}/accounts/login/{first_user}",
            f"  admin             {base}/admin/",
            f"  catalogue upload  {base}/catalogue/",
            f"  embeddings        {base}/embeddings/",
            f"  surveys           {base}/surveys/manage/",
            f"  API docs          {base}/api/docs/",
            f"  health, metrics   {base}/readyz  {base}/metrics",
            f"  logs              {logs}/web.log, {logs}/worker.log",
            f"  status, stop      {manage} up --status   {manage} up --stop",
            f"  embedding space   {space.name} ({space.model_name}, "
            f"{'random weights' if space.random_weights else space.pretrained or 'hub weights'})",
            "Press Ctrl-C to stop everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))

    # ----------------------------------------------------------------------- running

    def _watch(self, space) -> None:
        """Supervise; print embedding progress in steps of 10%. Returns only by an exception."""
        from django.utils import timezone

        since = timezone.now()
        shown: dict[int, tuple[int, str]] = {}
        database_down = False
        next_progress = 0.0
        while True:
            self.supervisor.poll()
            if time.monotonic() >= next_progress:
                next_progress = time.monotonic() + 2
                try:
                    self._show_progress(space, since, shown)
                    if database_down:
                        self._say("the database answers again")
                    database_down = False
                except DatabaseError as error:
                    if not database_down:
                        self._say(f"the database is unavailable ({str(error).strip()[:200]}); waiting for it")
                    database_down = True
                    connection.close()
            time.sleep(0.5)

    def _show_progress(self, space, since, shown: dict) -> None:
        from django.db.models import Q

        from embeddings.models import EmbeddingJob

        jobs = EmbeddingJob.objects.filter(space=space).filter(
            Q(created_at__gte=since) | Q(status__in=["queued", "running"]) | Q(pk__in=list(shown))
        )
        for job in jobs.order_by("pk"):
            step = 10 if job.total == 0 else int(10 * job.processed / job.total)
            if shown.get(job.pk) != (step, job.status):
                shown[job.pk] = (step, job.status)
                self.stdout.write(
                    f"embedding job {job.pk} [{'#' * step}{'.' * (10 - step)}] "
                    f"{job.processed}/{job.total} products ({job.failed} failed): {job.status}"
                )

    # ----------------------------------------------------------------------- status and stop

    def _status(self) -> int:
        """Print what runs; 0 when the launcher runs and the site is ready, 1 otherwise."""
        launcher = _lock_holder(self.lock_path)
        try:
            state = json.loads((self.run_dir / "state.json").read_text())
        except (OSError, ValueError):
            state = {}
        if launcher is None:
            self.stdout.write(f"fashionsite is not running on {self.data_dir}.")
            leftovers = self._leftovers()
            if leftovers:
                self.stdout.write(f"  left running: {', '.join(leftovers)} (stop them: manage.py up --stop)")
            return 1
        self.stdout.write(f"fashionsite is running on {self.data_dir} (launcher pid {launcher})")
        servers = embedded.server_pids(self.data_dir)
        now = time.time()
        for name, entry in state.get("programs", {}).items():
            if entry.get("child"):
                pid = entry.get("pid")
                up = pid is not None and process_matches(pid, entry.get("started_at", 0))
            else:
                pid = servers.get(name)
                up = pid is not None
            since = f"up {now - entry['started_at']:.0f} s" if up and entry.get("started_at") else "DOWN"
            restarts = f"restarts {entry.get('restarts', 0)}"
            last = f" (last: {entry['last_exit']})" if entry.get("last_exit") else ""
            self.stdout.write(f"  {name:<9} pid {pid or '-':<8} {since:<12} {restarts}{last}")
        url = state.get("url")
        if not url:
            return 1
        try:
            with urllib.request.urlopen(f"{url}/readyz?format=json", timeout=10) as response:  # noqa: S310
                checks, ready = json.loads(response.read()), True
        except urllib.error.HTTPError as error:
            checks, ready = json.loads(error.read() or b"{}"), False
        except (OSError, ValueError) as error:
            checks, ready = {"web": str(error)}, False
        self.stdout.write(f"  readiness {url}/readyz: {'ready' if ready else 'NOT READY'}")
        for check, result in checks.items():
            self.stdout.write(f"    {check}: {result}")
        return 0 if ready else 1

    def _leftovers(self) -> list[str]:
        left = [f"{pidfile.stem} (pid {pid})" for pidfile, pid in running_children(self.run_dir)]
        left += [f"{name} (pid {pid})" for name, pid in embedded.server_pids(self.data_dir).items()]
        return left

    def _stop(self) -> None:
        launcher = _lock_holder(self.lock_path)
        if launcher is not None and launcher > 0:
            self.stdout.write(f"stopping the launcher (pid {launcher}) ...")
            with contextlib.suppress(ProcessLookupError):
                os.kill(launcher, signal.SIGTERM)
            deadline = time.monotonic() + 240
            while _lock_holder(self.lock_path) is not None:
                if time.monotonic() > deadline:
                    raise CommandError(f"the launcher (pid {launcher}) did not stop within 240 s")
                time.sleep(0.5)
            self.stdout.write("fashionsite stopped.")
            return
        supervisor = Supervisor(self.run_dir, cwd=settings.BASE_DIR, env={}, say=self.stdout.write)
        stopped = supervisor.stop_orphans() + embedded.stop_unused_servers(self.data_dir)
        self.stdout.write(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running.")


@contextlib.contextmanager
def _signals_ignored():
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def import_summary(result, *, without_image: int) -> str:
    """The first start's one-line account of the sample import."""
    line = f"  {result.created} products created, {result.updated} updated, {result.unchanged} unchanged"
    if without_image:
        line += f"; {without_image} product{'' if without_image == 1 else 's'} without an image (searched by text only)"
    return line
