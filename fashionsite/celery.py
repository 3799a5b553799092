"""The Celery application. Settings come from Django settings under the CELERY_ namespace."""

import os
import sys

from amqp.exceptions import ChannelError
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fashionsite.settings")

app = Celery("fashionsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def worker_command(
    *, queues: str, name: str, concurrency: int = 1, beat: bool = False, extra: tuple[str, ...] = ()
) -> list[str]:
    """The `celery worker` command line that `manage.py up`, the tests and the benchmarks run.

    Concurrency 1 by default: on a GPU one process owns the device, and on a CPU torch already
    uses every core inside one process. With `beat` the worker also runs Celery beat (the periodic
    embeddings sweep, CELERY_BEAT_SCHEDULE); run exactly one such worker per installation.
    """
    if beat:
        from django.conf import settings

        extra = ("--beat", "--schedule", str(settings.DATA_DIR / "celerybeat-schedule"), *extra)
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "fashionsite",
        "worker",
        "-Q",
        queues,
        "--concurrency",
        str(concurrency),
        "-l",
        "INFO",
        "-n",
        name,
        *extra,
    ]


def queue_depth(queue: str) -> int | None:
    """Messages waiting in `queue` (None when the broker cannot be asked; its breaker is open)."""
    from fashionsite.resilience import broker_breaker, guarded

    def size() -> int:
        with app.connection_for_read() as connection:
            try:
                return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:
                return 0  # the broker has never seen the queue: nothing waits in it

    try:
        return guarded(broker_breaker, size)
    except Exception:  # noqa: BLE001 - kombu/redis raise many connection error types
        return None
