import pytest
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_runs_on_postgresql_with_pgvector():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    assert row is not None, "the vector extension is not installed"
    assert int(version.split(".")[0]) >= 16


def test_tests_use_their_own_data_dir():
    assert settings.DATA_DIR.name == "test" or "test" in str(settings.DATA_DIR)
