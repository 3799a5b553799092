"""Fixtures shared by every test module: the real stack, no mocks of our own components.

- PostgreSQL + pgvector: the embedded server under $FASHIONSITE_DATA_DIR (var/test by default),
  started once per session by `pytest_configure` below (importing settings starts nothing);
  pytest-django creates the test database in it. The session stops it at exit unless another
  process still uses it.
- Redis: the embedded redis-server, same data dir, started the same way.
- `celery_worker`: a real `celery worker` process against the test database.
- `browser` / `page`: headless Debian Chromium driven by Playwright.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

# Cache the compiled and assertion-rewritten modules (__pycache__/, ignored by git) even where the
# environment sets PYTHONDONTWRITEBYTECODE (as the Makefile's export does for `make`): without the
# cache every test process compiles and rewrites some 350 test, plugin and app modules again, half
# of its collection time (cached files are read whatever the setting, so later runs gain).
sys.dont_write_bytecode = False

pytest_plugins = ["tests.fixtures", "tests.db_template"]

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_configure(config):
    """The test session is an entry point that needs the embedded servers: start (or reuse) them.
    Children (the Celery worker) find them through FASHIONSITE_DATA_DIR, as settings derive."""
    from django.conf import settings

    from fashionsite import embedded

    if not os.environ.get("DATABASE_URL"):
        embedded.ensure_postgres(settings.DATA_DIR, settings.DATABASES["default"]["NAME"])
    if not os.environ.get("REDIS_URL"):
        embedded.ensure_redis(settings.DATA_DIR)
    # Every fixture user gets a password; PBKDF2's many rounds cost most of a second each on a busy
    # 2-core machine. Tests check who may sign in, not the hash's strength (Django's own advice).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A commit need not wait for its WAL to reach the disk: a test database never outlives a crash
    # (migrations commit once each, transactional tests after every statement).
    options = settings.DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        separate_xdist_worker(settings, worker)


# Fixtures that hold a transaction open over a whole module (its tests run in savepoints of it).
MODULE_TRANSACTION_FIXTURES = frozenset(
    {"module_catalogue", "module_tiny_catalogue", "module_survey_catalogue", "module_protocol_catalogue"}
)


def pytest_collection_modifyitems(config, items):
    """A module that shares data through a module-long transaction must have no transactional test:
    pytest keeps a module's fixtures up until its last test, so such a test would run inside the
    open transaction (pytest-django runs transactional tests after the others, and the two groups of
    one module can meet)."""
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    for module, module_items in modules.items():
        if any(MODULE_TRANSACTION_FIXTURES & set(item.fixturenames) for item in module_items):
            transactional = [item.name for item in module_items if is_transactional(item)]
            if transactional:
                raise pytest.UsageError(
                    f"{module} shares a module-long transaction ({', '.join(sorted(MODULE_TRANSACTION_FIXTURES))}) "
                    f"but has transactional tests ({', '.join(transactional)}): move them to another module."
                )


def is_transactional(item) -> bool:
    """Whether pytest-django runs `item` as a transactional test (the rule of its test ordering)."""
    from pytest_django.plugin import validate_django_db

    marker = item.get_closest_marker("django_db")
    if marker:
        transaction, reset_sequences, *_ = validate_django_db(marker)
        if transaction or reset_sequences:
            return True
    return bool({"transactional_db", "live_server"} & set(item.fixturenames))


def separate_xdist_worker(settings, worker: str) -> None:
    """Under pytest-xdist (`make test-fast` runs two workers) each worker shares the servers but not
    their contents: pytest-django already gives it its own test database (test_<name>_gw0); here it
    also gets its own Redis database for the cache (tests empty the cache, which is a FLUSHDB, and
    count throttled requests in it) and its own media and weights folders (stored files are named
    by row ids, which repeat across the workers' databases)."""
    number = int(worker.removeprefix("gw"))
    redis_db = 2 + number  # the broker uses db 0, a lone session's cache db 1; Redis has 16
    if redis_db > 15:
        raise pytest.UsageError(f"xdist worker {worker}: at most 14 workers share the test Redis")
    settings.CACHES = {
        alias: {**conf, "LOCATION": redis_location_with_db(conf["LOCATION"], redis_db)}
        for alias, conf in settings.CACHES.items()
    }
    settings.MEDIA_ROOT = Path(settings.MEDIA_ROOT) / worker
    settings.TRAINING_WEIGHTS_DIR = Path(settings.TRAINING_WEIGHTS_DIR) / worker


def redis_location_with_db(location: str, db: int) -> str:
    """The same Redis server, database `db` (unix://path?db=N or redis://host:port/N)."""
    parts = urlsplit(location)
    if parts.scheme == "unix":  # urlunsplit would drop the empty host ("unix:/path")
        path, _, query = location.partition("?")
        return f"{path}?{urlencode({**dict(parse_qsl(query)), 'db': str(db)})}"
    return urlunsplit(parts._replace(path=f"/{db}"))


def fresh_broker_connections(app) -> None:
    """Close the pooled broker connections and refill the pool with new (lazy) ones: after
    force_close_all the pool is empty, and a blocking acquire (purge, ping) would wait forever."""
    app.pool.force_close_all(close_pool=False)
    app.pool.setup()


class WorkerProcess:
    """A `celery worker` subprocess; tests may kill and restart it."""

    def __init__(self, db_name: str, log_path: Path, queues: str = "embeddings,default,training"):
        self.db_name = db_name
        self.log_path = log_path
        self.queues = queues
        self.process: subprocess.Popen | None = None

    def env(self) -> dict:
        env = dict(os.environ)
        env["FASHIONSITE_DB_NAME"] = self.db_name
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self, timeout: float = 120) -> None:
        from fashionsite.celery import app, worker_command

        # Pooled broker connections die with a restarted Redis (tests restart it); control
        # commands such as ping do not reconnect by themselves, so start from fresh ones.
        fresh_broker_connections(app)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the worker owns it until stop()
        self.process = subprocess.Popen(
            worker_command(
                queues=self.queues,
                name=f"test-{os.getpid()}@%h",
                extra=("-P", "prefork", "--without-gossip", "--without-mingle"),
            ),
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_until_it_answers(app, timeout)
        except BaseException:
            self.stop()  # never leave a worker behind that holds the test database
            raise

    def _wait_until_it_answers(self, app, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early; see {self.log_path}")
            replies = app.control.ping(timeout=1.0) or []
            if any(f"test-{os.getpid()}@" in name for reply in replies for name in reply):
                return
            time.sleep(0.5)
        raise RuntimeError(f"celery worker did not answer within {timeout}s; see {self.log_path}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the worker and its pool children at once (the whole process group)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session", autouse=True)
def fresh_cache():
    """Start every test session with an empty cache. The test database is created anew, so ids
    repeat across sessions, but Redis keeps its data: a key naming a space or survey by id (query
    vectors, open-link join counts) would otherwise carry over from an earlier session."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="module", autouse=True)
def cheap_garbage_collection():
    """Before each test module: collect the garbage, then leave every object still alive (modules
    imported so far: Django, NumPy, PyTorch, SciPy ..., hundreds of thousands of objects) out of
    later collections. They live until the process ends, and every full collection walked all of
    them again (a sixth of a test process's CPU time); this collection walks only what was made
    since the last module."""
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def numba_typed_containers_cached():
    """Keep numba's compiled helpers of typed dicts and lists on disk. ranx (offline scoring) keeps
    qrels and runs in numba typed dicts; numba caches ranx's own functions (`cache=True`) but
    compiles the containers' lookup, iteration and string hashing anew in every process (5 CPU-s
    each time). `enable_caching` is what `cache=True` does: numba's on-disk cache, keyed by numba's
    source file stamp, the signature and the CPU, beside ranx's (or under NUMBA_CACHE_DIR)."""
    try:
        from numba.core.dispatcher import Dispatcher
        from numba.typed import typeddict, typedlist
    except ImportError:  # nothing to cache without numba
        return
    for module in (typeddict, typedlist):
        for helper in vars(module).values():
            if isinstance(helper, Dispatcher):
                helper.enable_caching()


@pytest.fixture(scope="session", autouse=True)
def static_files_found_once():
    """Walk the static folders once per test process, not once per test. WhiteNoise's middleware
    (WHITENOISE_USE_FINDERS) lists every app's static files and stats each one when it is made, and
    Django's test client makes its middleware chain anew for every client, so in every test that
    sends a request (a twentieth of the fast lane's CPU time). The static files do not change
    during a session: later middleware instances get the same files, served the same way."""
    from django.conf import settings
    from whitenoise.middleware import WhiteNoiseMiddleware

    walk = WhiteNoiseMiddleware.add_files_from_finders
    found: dict[tuple, dict] = {}

    def add_files_from_finders(self):
        key = (
            self.static_prefix,
            self.max_age,
            self.charset,
            self.allow_all_origins,
            self.index_file,
            self.add_headers_function,
            tuple(settings.INSTALLED_APPS),
            tuple(str(folder) for folder in settings.STATICFILES_DIRS),
            tuple(settings.STATICFILES_FINDERS),
        )
        if key not in found:
            own, self.files = self.files, {}
            walk(self)
            found[key], self.files = self.files, own
        self.files.update(found[key])

    WhiteNoiseMiddleware.add_files_from_finders = add_files_from_finders
    yield
    WhiteNoiseMiddleware.add_files_from_finders = walk


@pytest.fixture
def frozen_redis(tmp_path):
    """A unix socket that accepts connections and never answers: a frozen (SIGSTOPped) Redis."""
    import socket

    path = tmp_path / "frozen-redis.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    yield path
    listener.close()


@pytest.fixture
def cache_down(settings, frozen_redis):
    """Point the cache at a frozen Redis (the shared server keeps running for other tests)."""
    from fashionsite.resilience import cache_breaker

    location = f"unix://{frozen_redis}?db=1"
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": location}}
    cache_breaker.close()
    yield location
    cache_breaker.close()


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Every test starts with no API throttle counts (kept per address, and every test client comes
    from 127.0.0.1), so no test depends on the requests of another. The throttle cache shares the
    Redis database of the default cache, so this empties that too."""
    from django.core.cache import caches

    caches["throttle"].clear()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process bound to the test database. Use with transactional tests."""
    from django.db import connection

    from fashionsite.celery import app

    fresh_broker_connections(app)
    app.control.purge()
    worker = WorkerProcess(connection.settings_dict["NAME"], tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh (Debian chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A fresh browser page that records console errors in `page.console_errors`."""
    context = browser.new_context()
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()
