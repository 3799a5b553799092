"""/healthz (the process answers) and /readyz (it can serve: database, Redis, an embeddings
worker seen recently, the query encoder loaded in this process), with django-health-check.
/readyz answers 503 with what is missing; docker-compose and `manage.py up` wait for it."""

from __future__ import annotations

import dataclasses

from django.db import connection
from django.http import HttpResponse
from health_check.base import HealthCheck
from health_check.checks import Database as _Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")


@dataclasses.dataclass
class Database(_Database):
    """django-health-check's database probe, closing the connection it opened in its executor
    thread (otherwise every probe thread keeps one open)."""

    def run(self):
        try:
            super().run()
        finally:
            connection.close()

    def __repr__(self):
        return "Database"


@dataclasses.dataclass
class EmbeddingsWorker(HealthCheck):
    def run(self):
        from embeddings.recovery import worker_last_seen

        age = worker_last_seen()
        if age is None:
            raise ServiceUnavailable("no embeddings worker seen in the last minute")

    def __repr__(self):
        return "EmbeddingsWorker"


@dataclasses.dataclass
class QueryEncoder(HealthCheck):
    def run(self):
        from embeddings.warmup import query_encoder_loaded

        try:
            loaded, what = query_encoder_loaded()
        finally:
            connection.close()
        if not loaded:
            raise ServiceUnavailable(what)

    def __repr__(self):
        return "QueryEncoder"


class ReadyzView(HealthCheckView):
    checks = (
        Database,
        "health_check.checks.Cache",
        EmbeddingsWorker,
        QueryEncoder,
    )

    async def get(self, request, *args, **kwargs):
        response = await super().get(request, *args, **kwargs)
        if response.status_code == 500:
            response.status_code = 503  # "not ready", not "the check crashed"
        return response

    def render_to_response(self, context, **response_kwargs):
        return self.render_to_response_json(response_kwargs.get("status", 200))
