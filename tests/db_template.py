"""The test database, copied from a migrated template (a pytest plugin: tests/conftest.py loads it).

Migrating an empty database costs every test process 2.5 CPU-s before its first database test
(both `make test-fast` workers at once). The first session after a change migrates its database as
pytest-django does and keeps a copy, a template database named by a fingerprint of what migrating
depends on (every migration file, the project's app code, Django's version); later sessions and the
other xdist workers create theirs with CREATE DATABASE ... TEMPLATE, and Django's migrate then finds
nothing to apply. A changed file changes the fingerprint: the stale template is dropped and a new
one made. pytest-django's `--reuse-db` and `--nomigrations` do not apply here.
"""

from __future__ import annotations

import fcntl
import hashlib
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

TEMPLATE_INFIX = "_template_"


def migrations_fingerprint() -> str:
    """A digest of every migration file Django would apply, the project's own modules (data
    migrations may import them) and Django's version."""
    import django
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    digest = hashlib.sha256(django.get_version().encode())
    loader = MigrationLoader(None, ignore_no_migrations=True)
    files = {
        Path(sys.modules[migration.__module__].__file__) for migration in loader.disk_migrations.values()
    }
    base = Path(settings.BASE_DIR)
    for app in settings.INSTALLED_APPS:
        package = base / app.split(".")[0]
        if package.is_dir():
            files.update(package.rglob("*.py"))
    for path in sorted(files):
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@contextmanager
def _locked(path: Path):
    """One test process at a time makes or copies the template (the xdist workers start together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server(statements: list[str] | None = None, query: str | None = None, params=()) -> list:
    """Run statements on the server's maintenance database (CREATE/DROP DATABASE cannot run in the
    test database or in a transaction); returns the rows of `query`."""
    import psycopg
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        for statement in statements or []:
            conn.execute(statement)
        return conn.execute(query, params).fetchall() if query else []


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """pytest-django's test database setup, from the template when there is one (see the module)."""
    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _get_databases_for_setup

    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    verbosity = request.config.option.verbose
    test_name = connections["default"].creation._get_test_db_name()
    prefix = f"test_{settings.DATABASES['default']['NAME']}{TEMPLATE_INFIX}"
    with django_db_blocker.unblock():
        template = prefix + migrations_fingerprint()
        with _locked(Path(settings.DATA_DIR) / ".test-template.lock"):
            if _server(query="SELECT 1 FROM pg_database WHERE datname = %s", params=[template]):
                _server([f"DROP DATABASE IF EXISTS {_quoted(test_name)}"])
                _server([f"CREATE DATABASE {_quoted(test_name)} TEMPLATE {_quoted(template)}"])
                db_cfg = setup_databases(
                    verbosity=verbosity,
                    interactive=False,
                    keepdb=True,  # the copy is migrated: Django's migrate applies nothing
                    aliases=aliases,
                    serialized_aliases=serialized_aliases,
                )
            else:
                db_cfg = setup_databases(
                    verbosity=verbosity,
                    interactive=False,
                    aliases=aliases,
                    serialized_aliases=serialized_aliases,
                )
                connections.close_all()  # a database with sessions cannot be a template's source
                stale = _server(
                    query="SELECT datname FROM pg_database WHERE datname LIKE %s", params=[prefix + "%"]
                )
                _server([f"DROP DATABASE IF EXISTS {_quoted(name)}" for (name,) in stale])
                _server([f"CREATE DATABASE {_quoted(template)} TEMPLATE {_quoted(test_name)}"])
    yield
    with django_db_blocker.unblock():
        try:
            teardown_databases(db_cfg, verbosity=verbosity)
            _server([f"DROP DATABASE IF EXISTS {_quoted(test_name)}"])
        except Exception as exc:  # noqa: BLE001 - as pytest-django: a warning, not a failed session
            request.node.warn(pytest.PytestWarning(f"Error when trying to teardown test databases: {exc!r}"))
