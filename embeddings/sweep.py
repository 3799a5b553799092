"""The one "product changed -> re-embed" rule (the catalogue marks, embeddings sweeps).

The catalogue never queues embeddings: creating or changing a product bumps its `revision`, and a
vector computed from an older revision is stale. This module finds every product whose vectors are
missing or stale in a space (and that did not already fail at its current revision), skips those
already waiting in a queued batch, and queues one batched job per space for the rest.

It runs as the Celery task `embeddings.tasks.sweep_changed_products`, queued
- after the transaction that changed products commits (catalogue.signals.products_changed),
- when a worker starts, and
- every EMBEDDINGS_SWEEP_SECONDS by Celery beat (a lost trigger only costs time).
Sweeps are idempotent and serialised by a PostgreSQL advisory lock, so triggers may overlap.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction

from embeddings import tasks
from embeddings.models import EmbeddingBatch, EmbeddingJob, EmbeddingSpace
from embeddings.services import _create_job, _stale_or_missing_ids

# pg_advisory_xact_lock key of the sweep ("embs" in ASCII).
SWEEP_LOCK = 0x656D6273


@transaction.atomic
def sweep_changed_products() -> list[EmbeddingJob]:
    """Queue (after commit) one job per space for its missing or stale products; returns the jobs."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SWEEP_LOCK])
    jobs = []
    for space in EmbeddingSpace.objects.order_by("pk"):
        waiting = queued_product_ids(space)
        ids = [pk for pk in _stale_or_missing_ids(space) if pk not in waiting]
        if ids:
            jobs.append(_create_job(space, EmbeddingJob.Kind.MISSING, ids))
    return jobs


def queued_product_ids(space: EmbeddingSpace) -> set[int]:
    """Products already in a batch that is waiting for a worker in this space."""
    batches = EmbeddingBatch.objects.filter(
        job__space=space,
        status=EmbeddingBatch.Status.QUEUED,
        job__status__in=[EmbeddingJob.Status.QUEUED, EmbeddingJob.Status.RUNNING],
    )
    waiting: set[int] = set()
    for product_ids in batches.values_list("product_ids", flat=True):
        waiting.update(product_ids)
    return waiting


def queue_sweep(sender=None, **_kwargs) -> None:
    """Receiver of catalogue.signals.products_changed: queue a sweep (unless EMBEDDINGS_AUTO_QUEUE is off)."""
    if settings.EMBEDDINGS_AUTO_QUEUE:
        tasks.sweep_changed_products.delay()
