"""Celery tasks of catalogue uploads (thin: search/uploads.py does the work). Default queue.

Both are safe to run twice (acks_late redelivers a task whose worker died): analysis restarts
from the zip, and the import re-plans against the catalogue and skips what is already written.
"""

from celery import shared_task

from search import uploads


@shared_task(name="search.analyse_upload")
def analyse_upload(upload_id: int) -> None:
    uploads.analyse_upload(upload_id=upload_id)


@shared_task(name="search.import_upload")
def import_upload(upload_id: int) -> None:
    uploads.import_upload(upload_id=upload_id)
