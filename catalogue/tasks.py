"""Celery tasks of catalogue uploads (thin: catalogue/uploads.py does the work). Default queue.

Both are safe to run twice (acks_late redelivers a task whose worker died): analysis restarts
from the zip, and the import re-plans against the catalogue and skips what is already written.
The services import this module; the tasks import the services inside their bodies.
"""

from celery import shared_task


@shared_task(name="catalogue.analyse_upload")
def analyse_upload(upload_id: int) -> None:
    from catalogue import uploads

    uploads.analyse_upload(upload_id=upload_id)


@shared_task(name="catalogue.import_upload")
def import_upload(upload_id: int) -> None:
    from catalogue import uploads

    uploads.import_upload(upload_id=upload_id)
