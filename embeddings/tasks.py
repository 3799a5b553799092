"""Celery tasks for embeddings (queue "embeddings" via CELERY_TASK_ROUTES). Thin: the work is in
embeddings.services.run_batch and embeddings.sweep, which import this module at the top; the tasks
import them inside their bodies. The model is loaded lazily, once per worker process, by the
encoder registry's cache; decoding runs in a small thread pool so it overlaps the model forward."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

_pool: ThreadPoolExecutor | None = None


def _decode_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode")
    return _pool


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def embed_batch(batch_id: int) -> str:
    from embeddings.services import run_batch

    return run_batch(batch_id, pool=_decode_pool())


@shared_task(acks_late=True, ignore_result=True)
def sweep_changed_products() -> str:
    """Queue embedding jobs for products changed since their vectors were computed (idempotent)."""
    from embeddings.sweep import sweep_changed_products as sweep

    jobs = sweep()
    return f"{sum(job.total for job in jobs)} products queued in {len(jobs)} space(s)"


@worker_ready.connect
def resume_stalled_jobs_on_start(sender=None, **_kwargs):
    """A restarted worker resends batches of jobs idle longer than the broker's visibility timeout
    (their messages were lost, e.g. with a Redis restart; duplicates are skipped by the task), then
    sweeps for products changed while no worker ran."""
    queues = {
        queue.name for queue in getattr(sender, "task_consumer", None) and sender.task_consumer.queues or []
    }
    if queues and "embeddings" not in queues:
        return
    from embeddings.services import resume_stalled_jobs

    idle = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    try:
        resume_stalled_jobs(idle_seconds=idle * 2)
        if settings.EMBEDDINGS_AUTO_QUEUE:
            sweep_changed_products.delay()
    except Exception:  # noqa: BLE001 - a worker must start even if the database is briefly away
        import logging

        logging.getLogger(__name__).exception("could not resume stalled embedding jobs")
