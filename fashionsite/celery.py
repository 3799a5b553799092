"""The Celery application. Settings come from Django settings under the CELERY_ namespace."""

import os
import sys

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
