"""`python manage.py up`: the whole stack in one command (what `make run` calls).

Settings import has already started (or reused) the embedded PostgreSQL and Redis when
DATABASE_URL / REDIS_URL are unset. This command then takes the data directory's launcher lock
(a second `up` on the same data fails with a message instead of sharing the servers), migrates,
imports the bundled sample catalogue on first start, queues its embeddings, and runs one Celery
worker and gunicorn as child processes. Ctrl-C or SIGTERM stops them in order (web, then the
worker, which finishes its batch), and the last user of the embedded servers stops those too
(fashionsite/embedded.py), so nothing is left running.

Offline default: with EMBEDDINGS_MODEL unset, the demo uses open_clip's ViT-B-32 with random
weights (no weights can be downloaded here); every page says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from fashionsite.celery import worker_command

# The offline demo's model: a real open_clip architecture, randomly initialised.
DEMO_MODEL = "ViT-B-32"
DEMO_PRETRAINED = "none"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop(signal.Signals(signum).name)


class Command(BaseCommand):
    help = (
        "Run fashionsite: migrate, import the sample catalogue on first start, queue its embeddings, "
        "start a Celery worker and the web server; Ctrl-C or SIGTERM stops everything it started."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("FASHIONSITE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("FASHIONSITE_PORT", "8000")))
        parser.add_argument(
            "--web-workers", type=int, default=2, help="gunicorn worker processes (default 2)"
        )
        parser.add_argument(
            "--no-sample", action="store_true", help="do not import the bundled sample catalogue"
        )

    def handle(self, *args, host, port, web_workers, no_sample, **options):
        self.children: list[tuple[str, subprocess.Popen]] = []
        logs = settings.DATA_DIR / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with self._launcher_lock():
            previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
            try:
                self._use_demo_model_if_unset()
                space = self._prepare(no_sample)
                self._start_worker(logs)
                self._start_web(host, port, web_workers, logs)
                self._wait_for_web(host, port)
                self._say_where_to_go(host, port, logs, space)
                self._watch(space)
            except _Stop as stop:
                self.stdout.write(f"\n{stop}: stopping the web server and the worker ...")
            finally:
                with _signals_ignored():
                    self._stop_children()
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        self.stdout.write("fashionsite stopped.")

    # ----------------------------------------------------------------------- start-up

    @contextlib.contextmanager
    def _launcher_lock(self):
        path = settings.DATA_DIR / ".up.lock"
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise CommandError(
                    f"fashionsite is already running on the data directory {settings.DATA_DIR} "
                    f"(launcher pid {holder}). Stop it with Ctrl-C first, or give this one its own "
                    "data with FASHIONSITE_DATA_DIR=... and another --port."
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            try:
                yield
            finally:
                handle.truncate(0)

    def _use_demo_model_if_unset(self) -> None:
        if os.environ.get("EMBEDDINGS_MODEL"):
            return
        # Children read the environment; this process's settings are updated to match.
        os.environ["EMBEDDINGS_MODEL"] = settings.EMBEDDINGS_MODEL = DEMO_MODEL
        os.environ["EMBEDDINGS_PRETRAINED"] = settings.EMBEDDINGS_PRETRAINED = DEMO_PRETRAINED
        self.stdout.write(
            f"EMBEDDINGS_MODEL is unset: using the offline demo model {DEMO_MODEL} with random weights "
            "(results are not meaningful; set EMBEDDINGS_MODEL / EMBEDDINGS_PRETRAINED for real ones)."
        )

    def _prepare(self, no_sample: bool):
        from catalogue import importing
        from catalogue.models import Product
        from embeddings.encoders import WeightsUnavailable
        from embeddings.services import ensure_space_from_settings

        self.stdout.write(f"Data directory: {settings.DATA_DIR}")
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
            self.stdout.write(
                f"  {result.created} products created, {result.updated} updated, {result.unchanged} unchanged"
            )
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

    def _spawn(self, name: str, args: list[str], log_path: Path) -> None:
        log = open(log_path, "ab")  # noqa: SIM115 - the child owns it until it exits
        process = subprocess.Popen(
            args,
            cwd=settings.BASE_DIR,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own session: Ctrl-C reaches this launcher only, which stops children in order.
            start_new_session=True,
        )
        log.close()
        self.children.append((name, process))

    def _start_worker(self, logs: Path) -> None:
        self._spawn(
            "worker",
            worker_command(
                queues="embeddings,default",
                name=f"up-{os.getpid()}@%h",
                concurrency=int(os.environ.get("CELERY_CONCURRENCY", "1")),
                beat=True,
            ),
            logs / "worker.log",
        )

    def _start_web(self, host: str, port: int, workers: int, logs: Path) -> None:
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "fashionsite.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(workers),
                "--threads",
                "4",
                "--timeout",
                "120",
                "--access-logfile",
                "-",
            ],
            logs / "web.log",
        )

    def _wait_for_web(self, host: str, port: int, timeout: float = 60) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
                return
            time.sleep(0.2)
        raise CommandError(f"the web server did not listen on {host}:{port} within {timeout:.0f} s")

    def _say_where_to_go(self, host: str, port: int, logs: Path, space) -> None:
        base = f"http://{host}:{port}"
        manage = f"{sys.executable} manage.py"
        lines = [
            "",
            f"fashionsite is running at {base}/",
            f"  search            {base}/",
            f"  admin             {base}/admin/   (create a user: {manage} createsuperuser)",
            f"  catalogue upload  {base}/catalogue/",
            f"  embeddings        {base}/embeddings/",
            f"  surveys           {base}/surveys/manage/",
            f"  API docs          {base}/api/docs/",
            f"  logs              {logs}/web.log, {logs}/worker.log",
            f"  embedding space   {space.name} ({space.model_name}, "
            f"{'random weights' if space.random_weights else space.pretrained or 'hub weights'})",
            "Press Ctrl-C to stop everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))

    # ----------------------------------------------------------------------- running

    def _watch(self, space) -> None:
        """Print embedding progress in steps of 10% while jobs run; returns only by an exception."""
        from django.db.models import Q
        from django.utils import timezone

        from embeddings.models import EmbeddingJob

        since = timezone.now()
        shown: dict[int, tuple[int, str]] = {}
        while True:
            self._check_children()
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
            time.sleep(2)

    def _check_children(self) -> None:
        for name, process in self.children:
            code = process.poll()
            if code is not None:
                raise CommandError(
                    f"the {name} process exited with code {code}; see {settings.DATA_DIR / 'logs' / name}.log"
                )

    def _stop_children(self) -> None:
        # Web first (no new requests), then the worker (warm shutdown: it finishes its batch).
        for name, process in reversed(self.children):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"the {name} process did not stop in 60 s; killing it")
            # Whatever it started (gunicorn workers, the celery pool) goes with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def _signals_ignored():
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
