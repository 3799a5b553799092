"""Celery tasks for embeddings (queue "embeddings" via CELERY_TASK_ROUTES; fine-tuning runs on the
"training" queue). Thin: the work is in embeddings.services.run_batch, embeddings.sweep and
embeddings.training.services, which import this module at the top; the tasks import them inside
their bodies. The model is loaded lazily, once per worker process, by the encoder registry's
cache; decoding runs in a small thread pool so it overlaps the model forward.

A batch that meets a database or broker outage is retried with exponential backoff; one that
fails for good marks its job failed; a message lost anyway is re-sent by the periodic sweep
(embeddings/recovery.py)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger("fashionsite.embeddings")
_pool: ThreadPoolExecutor | None = None
RETRYABLE = (OperationalError, InterfaceError, BrokerError)


def _decode_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode")
    return _pool


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=RETRYABLE,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=8,
)
def embed_batch(self, batch_id: int) -> str:
    from embeddings.models import EmbeddingBatch
    from embeddings.recovery import mark_job_failed
    from embeddings.services import run_batch
    from fashionsite.metrics import EMBEDDED_PRODUCTS, EMBEDDING_BATCH_SECONDS

    started = time.perf_counter()
    try:
        outcome = run_batch(batch_id, pool=_decode_pool())
    except RETRYABLE as error:
        if self.request.retries >= self.max_retries:
            mark_job_failed(batch_id=batch_id, error=error)
        else:
            logger.warning("batch %s: %s; retrying with backoff", batch_id, error)
        raise
    if outcome.endswith("failed"):  # the batch was embedded now (not skipped)
        EMBEDDING_BATCH_SECONDS.observe(time.perf_counter() - started)
        done = EmbeddingBatch.objects.filter(pk=batch_id).values_list("done", flat=True).first()
        EMBEDDED_PRODUCTS.inc(done or 0)
    return outcome


@shared_task(acks_late=True, ignore_result=True)
def sweep_changed_products() -> str:
    """Queue embedding jobs for products changed since their vectors were computed, and re-send the
    batches of stalled jobs whose messages were lost (both idempotent)."""
    from embeddings.recovery import sweep_stranded_jobs
    from embeddings.sweep import sweep_changed_products as sweep

    jobs = sweep()
    resent = sweep_stranded_jobs()
    return f"{sum(job.total for job in jobs)} products queued in {len(jobs)} space(s); jobs re-sent: {resent}"


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train_run(run_id: int) -> str:
    """Fine-tune one TrainingRun; a redelivery after a killed worker resumes from its checkpoint."""
    from embeddings.training.services import execute_training_run

    return execute_training_run(run_id)


@worker_ready.connect
def resume_stalled_runs_on_start(sender=None, **_kwargs):
    """A restarted training worker resends runs whose worker went silent (lost messages)."""
    queues = {
        queue.name for queue in getattr(sender, "task_consumer", None) and sender.task_consumer.queues or []
    }
    if "training" not in queues:
        return
    from embeddings.training.services import resume_stalled_runs

    idle = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    try:
        resume_stalled_runs(idle_seconds=idle * 2)
    except Exception:  # noqa: BLE001 - a worker must start even if the database is briefly away
        import logging

        logging.getLogger(__name__).exception("could not resume stalled training runs")


@worker_ready.connect
def resume_stalled_jobs_on_start(sender=None, **_kwargs):
    """A restarted worker resends batches of jobs idle longer than the broker's visibility timeout
    (their messages were lost, e.g. with a Redis restart; duplicates are skipped by the task), then
    sweeps for products changed while no worker ran, and starts the heartbeat /readyz reads."""
    queues = {
        queue.name for queue in getattr(sender, "task_consumer", None) and sender.task_consumer.queues or []
    }
    if queues and "embeddings" not in queues:
        return
    from embeddings.recovery import start_timer
    from embeddings.services import resume_stalled_jobs

    start_timer()
    idle = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    try:
        resume_stalled_jobs(idle_seconds=idle * 2)
        if settings.EMBEDDINGS_AUTO_QUEUE:
            sweep_changed_products.delay()
    except Exception:  # noqa: BLE001 - a worker must start even if the database is briefly away
        logger.exception("could not resume stalled embedding jobs")
