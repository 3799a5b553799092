"""Read queries compiled once per process, for the reads every search makes before stage 1.

Django compiles a queryset's SQL each time it is evaluated. For the default weight config and the
active space (with whether it has vectors) that Python took ~0.8 and ~1.5 ms of a cached text
search, against ~0.15 ms to run each query (docs/search-scoring.md, "Text queries"). A
CompiledQuery keeps the SQL and parameters of its queryset's `.first()` and turns the row into a
model instance with `Model.from_db`, as QuerySet iteration does. Nothing is cached but the SQL:
every call reads the database, so a changed row is seen at once, in every process.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connections, router
from django.db.models import Model, QuerySet


class CompiledQuery:
    """`build()`'s queryset, evaluated like `.first()` (ordered by pk when it has no order), with
    the named annotations set on the instance."""

    def __init__(self, build: Callable[[], QuerySet], *annotations: str):
        self._build = build
        self._annotations = annotations
        self._compiled: tuple | None = None

    def _compile(self) -> tuple:
        queryset = self._build()
        if not queryset.ordered:
            queryset = queryset.order_by("pk")
        fields = [field.attname for field in queryset.model._meta.concrete_fields]
        sql, params = queryset.values_list(*fields, *self._annotations)[:1].query.sql_with_params()
        return queryset.model, fields, sql, params

    def first(self) -> Model | None:
        if self._compiled is None:
            self._compiled = self._compile()
        model, fields, sql, params = self._compiled
        database = router.db_for_read(model)
        with connections[database].cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        instance = model.from_db(database, fields, row[: len(fields)])
        for name, value in zip(self._annotations, row[len(fields) :], strict=True):
            setattr(instance, name, value)
        return instance
