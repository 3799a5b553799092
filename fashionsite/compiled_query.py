"""Read queries compiled once per process (CompiledRows): the reads every search makes before
stage 1 (the default weight config, the active space) and those of a survey participant's task
page and submit.

Django compiles a queryset's SQL each time it is evaluated. For the default weight config and the
active space (with whether it has vectors) that Python took ~0.8 and ~1.5 ms of a cached text
search, against ~0.15 ms to run each query (docs/search-scoring.md, "Text queries"). CompiledRows
keeps the SQL and parameters of its queryset and turns each row into a model instance with
`Model.from_db`, as QuerySet iteration does; on pooled connections it runs as a prepared statement
(docs/deployment.md, "Survey load"). Nothing is cached but the SQL: every call reads the
database, so a changed row is seen at once, in every process.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connections, router
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, get_related_populators

# A placeholder for an integer id parameter (CompiledRows): a value no call passes.
ID_PLACEHOLDER = -7_300_001


class PreparedStatementCursor(ServerBindingCursor):
    """Server-side binding, and with `prepare` every statement is prepared on its first run:
    PostgreSQL then plans it once per connection instead of at every run (a pooled connection
    serves thousands of requests)."""

    prepare = False

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=self.prepare or prepare, binary=binary)


def _cursor(connection):
    """A cursor of Django's `connection` (logged and wrapped like `connection.cursor()`) binding
    parameters on the server; statements are prepared only on pooled connections (dbpool.use_pool
    lets psycopg prepare there): preparing costs a round trip, repaid by the runs that follow on the
    same connection."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = PreparedStatementCursor(connection.connection)
        cursor.prepare = connection.pool is not None
        return connection._prepare_cursor(cursor)


class CompiledRows:
    """A queryset with parameters, its SQL compiled once per process and database; each call runs
    it with that call's values, as a prepared statement on pooled connections. For the requests
    that make the same few reads thousands of times (a survey participant's task page and submit:
    docs/deployment.md, "Survey load").

    `build(**values)` returns the queryset; it is called once with `placeholders` (a value per
    parameter, of the type the calls pass, that occurs nowhere else in the query), and each
    placeholder must end up exactly once among the compiled SQL's parameters. Model querysets give
    model instances (select_related objects and annotations set as the ORM sets them);
    `values_list()` querysets give tuples. Nothing but the SQL is kept: every call reads the
    database. A `select_for_update()` queryset is read from the database that writes its model.
    """

    def __init__(self, build: Callable[..., QuerySet], **placeholders):
        self._build = build
        self._placeholders = placeholders
        self._compiled: dict[str, tuple] = {}
        self._routing: tuple | None = None

    def _compile(self, database: str) -> tuple:
        queryset = self._build(**self._placeholders).using(database)
        compiler = queryset.query.get_compiler(using=database)
        sql, params = compiler.as_sql()
        slots = {}
        for name, placeholder in self._placeholders.items():
            found = [index for index, value in enumerate(params) if value == placeholder]
            if len(found) != 1:
                raise ValueError(f"placeholder {name}={placeholder!r} is {len(found)} times in {sql}")
            slots[name] = found[0]
        converters = compiler.get_converters([column[0] for column in compiler.select[: compiler.col_count]])
        if queryset._iterable_class is not ModelIterable:
            return sql, tuple(params), slots, compiler, converters, None
        klass_info, select = compiler.klass_info, compiler.select
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        model = (
            klass_info["model"],
            start,
            end,
            [column[0].target.attname for column in select[start:end]],
            get_related_populators(klass_info, select, database),
            compiler.annotation_col_map,
        )
        return sql, tuple(params), slots, compiler, converters, model

    def _database(self) -> str:
        if self._routing is None:
            queryset = self._build(**self._placeholders)
            self._routing = (queryset.model, queryset.query.select_for_update)
        model, for_update = self._routing
        return router.db_for_write(model) if for_update else router.db_for_read(model)

    def all(self, **values) -> list:
        """The rows for these parameter values (model instances, or tuples for values_list())."""
        database = self._database()
        compiled = self._compiled.get(database)
        if compiled is None:
            compiled = self._compiled.setdefault(database, self._compile(database))
        sql, params, slots, compiler, converters, model = compiled
        params = list(params)
        for name, value in values.items():
            params[slots[name]] = value
        with _cursor(connections[database]) as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:
            rows = compiler.apply_converters(rows, converters)
        if model is None:
            return [tuple(row) for row in rows]
        model_class, start, end, attnames, populators, annotations = model
        instances = []
        for row in rows:
            instance = model_class.from_db(database, attnames, row[start:end])
            for populator in populators:
                populator.populate(row, instance)
            for name, position in annotations.items():
                setattr(instance, name, row[position])
            instances.append(instance)
        return instances

    def first(self, **values):
        """The first row for these values, or None (the queryset should limit itself to one row)."""
        return next(iter(self.all(**values)), None)
