"""Celery tasks of catalogue uploads (thin: search/uploads.py does the work). Default queue."""

from celery import shared_task


@shared_task(name="search.analyse_upload")
def analyse_upload(upload_id: int) -> None:
    from search import uploads

    uploads.analyse_upload(upload_id=upload_id)


@shared_task(name="search.import_upload")
def import_upload(upload_id: int) -> None:
    from search import uploads

    uploads.import_upload(upload_id=upload_id)
