"""Prometheus metrics at /metrics (prometheus-client; request metrics from django-prometheus).

Processes started by `manage.py up` share PROMETHEUS_MULTIPROC_DIR, so one scrape of any web
worker reports every web worker and the Celery worker. Search timings come from the SearchRun
rows the search service stores (no change to the search code); queue depth and ratings stored
are read at scrape time.
"""

from __future__ import annotations

import logging
import os

from django.apps import apps
from django.db import DatabaseError
from django.db.models.signals import post_save
from django.http import HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

logger = logging.getLogger("fashionsite.metrics")

SEARCH_STAGE_SECONDS = Histogram(
    "fashionsite_search_stage_seconds",
    "Search latency per stage (encode = query encoding, stage1 = ANN, stage2 = rescoring, total)",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EMBEDDED_PRODUCTS = Counter("fashionsite_embedded_products_total", "Products embedded by workers")
EMBEDDING_BATCH_SECONDS = Histogram(
    "fashionsite_embedding_batch_seconds",
    "Time to embed one batch (images/s = rate(fashionsite_embedded_products_total))",
    buckets=(0.5, 1, 2.5, 5, 10, 20, 40, 80, 160),
)
RATINGS_STORED = Counter("fashionsite_ratings_stored_total", "Ratings stored by this process's requests")
ERRORS = Counter("fashionsite_errors_total", "Unhandled errors", ["kind"])


def observe_search_run(sender, instance, created, **kwargs) -> None:
    if not created:
        return
    for stage in ("encode", "stage1", "stage2", "total"):
        SEARCH_STAGE_SECONDS.labels(stage).observe(max(getattr(instance, f"{stage}_ms", 0) or 0, 0) / 1000)


def count_rating(sender, instance, created, **kwargs) -> None:
    if created:
        RATINGS_STORED.inc()


def count_request_error(sender, **kwargs) -> None:
    ERRORS.labels("request").inc()


def connect_signals() -> None:
    from django.core.signals import got_request_exception

    post_save.connect(observe_search_run, sender=apps.get_model("search", "SearchRun"), dispatch_uid="m-run")
    post_save.connect(count_rating, sender=apps.get_model("surveys", "Rating"), dispatch_uid="m-rating")
    got_request_exception.connect(count_request_error, dispatch_uid="m-error")


class _ScrapeTimeCollector:
    """Values read when scraped: queue depth from the broker, totals from the database."""

    def collect(self):
        from fashionsite.celery import queue_depth

        depth = GaugeMetricFamily(
            "fashionsite_queue_depth", "Messages waiting in a Celery queue", labels=["queue"]
        )
        for queue in ("embeddings", "default"):
            value = queue_depth(queue)
            if value is not None:
                depth.add_metric([queue], value)
        yield depth
        try:
            ratings = apps.get_model("surveys", "Rating").objects.count()
            jobs = (
                apps.get_model("embeddings", "EmbeddingJob")
                .objects.filter(status__in=["queued", "running"])
                .count()
            )
        except DatabaseError:
            return
        yield GaugeMetricFamily("fashionsite_ratings", "Ratings in the database", value=ratings)
        yield GaugeMetricFamily(
            "fashionsite_embedding_jobs_unfinished", "Embedding jobs queued or running", value=jobs
        )


def metrics_view(request):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scrape = CollectorRegistry()
    scrape.register(_ScrapeTimeCollector())
    body = generate_latest(registry) + generate_latest(scrape)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
