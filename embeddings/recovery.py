"""Jobs never strand: lost batch messages are re-sent; workers say they are alive.

A batch message can be lost in several ways (Redis restarted without its data, a publish while
the broker was down, a task that failed for good after its retries). The job and batch rows in
PostgreSQL are the record of the work (an outbox): the periodic sweep (the Celery beat task
`embeddings.tasks.sweep_changed_products`, every EMBEDDINGS_SWEEP_SECONDS) also re-sends the
queued batches of jobs that made no progress for EMBEDDINGS_STALL_SECONDS while the `embeddings`
queue is empty (so nothing is waiting that could still carry them). A re-sent batch that is done
after all is skipped by the task, so a sweep can never embed twice.

A thread in every embeddings worker writes a heartbeat to the cache, which /readyz reads.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError

logger = logging.getLogger("fashionsite.embeddings")
HEARTBEAT_KEY = "embeddings:worker-seen"
HEARTBEAT_MAX_AGE = 60
# Often enough that a Redis restarted without its data (no AOF) sees a worker again within 5 s.
HEARTBEAT_EVERY = 5

_timer: threading.Thread | None = None


def sweep_stranded_jobs() -> list[int]:
    """Re-send the batches of stalled jobs when the embeddings queue is empty; returns the jobs."""
    from embeddings.services import resume_stalled_jobs
    from fashionsite.celery import queue_depth

    if queue_depth("embeddings") != 0:
        return []  # messages are waiting (or the broker is away): nothing is known to be lost
    resumed = resume_stalled_jobs(idle_seconds=settings.EMBEDDINGS_STALL_SECONDS)
    if resumed:
        logger.warning("re-sent the queued batches of stalled embedding jobs %s", resumed)
    return resumed


def mark_job_failed(*, batch_id: int, error: Exception) -> None:
    """Mark the job of a batch whose task failed for good (best effort: the database may be away)."""
    from embeddings.models import EmbeddingJob

    try:
        EmbeddingJob.objects.filter(batches__pk=batch_id).update(
            status=EmbeddingJob.Status.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
    except DatabaseError:
        logger.warning("job of batch %s not marked failed: database unavailable", batch_id)


def beat() -> None:
    try:
        cache.set(HEARTBEAT_KEY, time.time(), HEARTBEAT_MAX_AGE * 2)
    except Exception as error:  # noqa: BLE001 - Redis away: readiness says so anyway
        logger.debug("heartbeat not written: %s", error)


def worker_last_seen() -> float | None:
    """Seconds since an embeddings worker's last heartbeat (None: none in the last minute)."""
    try:
        seen = cache.get(HEARTBEAT_KEY)
    except Exception:  # noqa: BLE001 - cache down: no worker can be confirmed
        return None
    if seen is None or time.time() - float(seen) > HEARTBEAT_MAX_AGE:
        return None
    return time.time() - float(seen)


def _run_timer() -> None:
    while True:
        beat()
        time.sleep(HEARTBEAT_EVERY)


def start_timer() -> None:
    """Start the heartbeat thread once in this (worker main) process."""
    global _timer
    if _timer is None or not _timer.is_alive():
        _timer = threading.Thread(target=_run_timer, name="embeddings-heartbeat", daemon=True)
        _timer.start()
