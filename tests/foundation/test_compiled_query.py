"""Queries compiled once per process with parameters (fashionsite/compiled_query.py, CompiledRows):
each placeholder must be found in the compiled SQL, and statements are prepared (planned once per
connection) only on pooled connections, where the connection outlives the request."""

import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper

from fashionsite.compiled_query import CompiledRows, _cursor
from fashionsite.dbpool import use_pool

pytestmark = pytest.mark.django_db

PREPARED = "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s"


def test_a_placeholder_missing_from_the_sql_is_refused_by_name():
    from django.contrib.auth.models import Group

    query = CompiledRows(lambda name, pk: Group.objects.filter(name=name), name="placeholder-name", pk=-41)
    with pytest.raises(ValueError, match=r"placeholder pk=-41 is 0 times"):
        query.all(name="x", pk=1)


def test_values_list_rows_come_back_as_tuples():
    from django.contrib.auth.models import Group

    Group.objects.create(name="compiled-rows")
    query = CompiledRows(
        lambda name: Group.objects.filter(name=name).values_list("name", "id"), name="placeholder-name"
    )
    group = Group.objects.get(name="compiled-rows")
    assert query.all(name="compiled-rows") == [("compiled-rows", group.pk)]
    assert query.all(name="no such group") == []


def _prepared(wrapper, marker: str) -> list[tuple]:
    with wrapper.cursor() as cursor:
        cursor.execute(PREPARED, [f"%{marker}%"])
        return cursor.fetchall()


def test_statements_are_prepared_and_planned_once_only_on_pooled_connections():
    sql = "SELECT %s::int + 1 AS prepared_marker"
    with _cursor(connection) as cursor:
        cursor.execute(sql, [1])
        assert cursor.fetchone() == (2,)
    assert _prepared(connection, "prepared_marker") == []

    settings = {**connection.settings_dict, "OPTIONS": dict(connection.settings_dict["OPTIONS"])}
    use_pool(settings, size=1, timeout=5)  # what the web server's settings do (DB_POOL_SIZE)
    pooled = DatabaseWrapper(settings, alias="compiled-query-pool-test")
    try:
        for value in (1, 2):
            with _cursor(pooled) as cursor:
                cursor.execute(sql, [value])
                assert cursor.fetchone() == (value + 1,)
        # Both runs used the one generic plan: PostgreSQL planned the statement once.
        assert _prepared(pooled, "prepared_marker") == [("SELECT $1::int + 1 AS prepared_marker", 2, 0)]
    finally:
        pooled.close()
        pooled.close_pool()


def test_other_server_bound_queries_are_never_prepared_on_pooled_connections():
    """Only CompiledRows asks to be prepared: a query run many times through a plain psycopg
    cursor (as stage 1 runs in embeddings.ann) keeps being planned for its own values."""
    import psycopg

    settings = {**connection.settings_dict, "OPTIONS": dict(connection.settings_dict["OPTIONS"])}
    use_pool(settings, size=1, timeout=5)
    pooled = DatabaseWrapper(settings, alias="compiled-query-pool-test-2")
    try:
        pooled.ensure_connection()
        with psycopg.Cursor(pooled.connection) as cursor:
            for value in range(12):
                cursor.execute("SELECT %s::int * 2 AS unprepared_marker", [value])
                assert cursor.fetchone() == (value * 2,)
        assert _prepared(pooled, "unprepared_marker") == []
    finally:
        pooled.close()
        pooled.close_pool()
