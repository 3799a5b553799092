"""Bulk catalogue uploads: receive a zip (already streamed to disk), analyse it, import it, embed it.

Life of a `CatalogUpload` (docs/catalogue-upload.md has the picture):

    uploaded --analyse task--> analysing --> previewed --confirm--> importing --> imported
                                         \\-> refused (zip or CSV refused: file deleted, nothing stored)
    previewed --discard--> discarded (file deleted);  importing --error--> failed

The preview is the import service's plan (catalogue/importing/: parse -> plan -> apply): nothing is
written to Product until the admin confirms. Analysis runs in a Celery task because planning the
full catalogue (44k rows, every image opened) takes longer than a request should. The import task
applies the plan in batches and updates `rows_done`, which the page polls; when it finishes the
upload keeps the ids of the products it wrote and announces them (catalogue.signals). How far their
embeddings are is the embeddings app's to say (the page polls its endpoint for this upload).
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalogue import importing, tasks
from catalogue.models import CatalogUpload, Product
from catalogue.signals import announce_changed_products

log = logging.getLogger("fashionsite.uploads")

# How much of each plan list the preview stores (the counts are always complete).
PREVIEW_LIMIT = 500


class UploadStateError(Exception):
    """The upload is not in a state that allows the asked action (e.g. confirming twice)."""


def upload_dir() -> Path:
    path = Path(settings.DATA_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --------------------------------------------------------------------------- writes


@transaction.atomic
def receive_upload(*, uploaded_file, uploader, all_or_nothing: bool) -> CatalogUpload:
    """Move the streamed temp file into DATA_DIR/uploads/ and queue its analysis (after commit)."""
    destination = upload_dir() / f"{uuid.uuid4().hex}.zip"
    source = uploaded_file.temporary_file_path()
    # A rename when the temp dir is on the same file system; a streamed copy otherwise.
    shutil.move(source, destination)
    upload = CatalogUpload.objects.create(
        file_path=str(destination),
        original_name=Path(uploaded_file.name).name[:255],
        size_bytes=destination.stat().st_size,
        uploader=uploader,
        all_or_nothing=all_or_nothing,
    )
    transaction.on_commit(lambda: tasks.analyse_upload.delay(upload.pk))
    expire_unconfirmed_uploads()
    return upload


def expire_unconfirmed_uploads() -> int:
    """Discard previews nobody confirmed or discarded within FASHIONSITE_UPLOAD_PREVIEW_HOURS, and
    delete their zips (a preview holds its zip on disk until then). Runs whenever a new upload
    arrives; returns how many expired."""
    hours = settings.FASHIONSITE_UPLOAD_PREVIEW_HOURS
    cutoff = timezone.now() - timezone.timedelta(hours=hours)
    stale = CatalogUpload.objects.filter(status=CatalogUpload.Status.PREVIEWED, updated_at__lt=cutoff)
    expired = 0
    for upload in stale:
        _end(
            upload,
            CatalogUpload.Status.DISCARDED,
            f"Not confirmed within {hours} hours (FASHIONSITE_UPLOAD_PREVIEW_HOURS): discarded.",
        )
        expired += 1
    return expired


def analyse_upload(*, upload_id: int) -> CatalogUpload:
    """Plan the import without writing any product; a refused zip or CSV is deleted with a message."""
    upload = CatalogUpload.objects.get(pk=upload_id)
    if upload.status not in {CatalogUpload.Status.UPLOADED, CatalogUpload.Status.ANALYSING}:
        return upload
    _set(upload, status=CatalogUpload.Status.ANALYSING, rows_done=0, rows_total=0)

    try:
        plan = importing.plan_import(Path(upload.file_path), progress=_progress_writer(upload))
    except importing.ImportRefused as exc:
        return _refuse(upload, str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure must reach the admin, not only the log
        log.exception("analysing upload %s failed", upload.pk)
        return _refuse(upload, f"The file could not be analysed: {exc}")
    summary = summarise_plan(plan)
    _set(
        upload,
        status=CatalogUpload.Status.PREVIEWED,
        plan_summary=summary,
        rows_total=summary["counts"]["rows"],
        analysed_at=timezone.now(),
    )
    return upload


def confirm_upload(*, upload: CatalogUpload, all_or_nothing: bool) -> CatalogUpload:
    """Start the background import of a previewed upload (or refuse it under all-or-nothing)."""
    with transaction.atomic():
        upload = CatalogUpload.objects.select_for_update().get(pk=upload.pk)
        if upload.status != CatalogUpload.Status.PREVIEWED:
            raise UploadStateError(
                f"Upload {upload.pk} is {upload.get_status_display()}; only a previewed upload can be imported."
            )
        rejected = upload.plan_summary.get("counts", {}).get("rejected", 0)
        upload.all_or_nothing = all_or_nothing
        if all_or_nothing and rejected:
            upload.save(update_fields=["all_or_nothing", "updated_at"])
            return _refuse(
                upload,
                f"All or nothing was asked and {rejected} row(s) are rejected (see the list below): nothing was imported.",
            )
        upload.status = CatalogUpload.Status.IMPORTING
        upload.import_started_at = timezone.now()
        upload.rows_done = 0
        upload.save(
            update_fields=["all_or_nothing", "status", "import_started_at", "rows_done", "updated_at"]
        )
        transaction.on_commit(lambda: tasks.import_upload.delay(upload.pk))
    return upload


def import_upload(*, upload_id: int) -> CatalogUpload:
    """Apply the upload's plan (idempotent), count progress, then record and announce what it wrote.

    Safe to run again after a worker died mid-import (the task is redelivered): the rows written
    by the first run are then "unchanged", but they are still recorded as the upload's products,
    because those are the rows written since the import started, not only this run's.
    """
    upload = CatalogUpload.objects.get(pk=upload_id)
    if upload.status != CatalogUpload.Status.IMPORTING:
        return upload

    plan = None
    try:
        plan = importing.plan_import(Path(upload.file_path))
        result = importing.apply_plan(
            plan, all_or_nothing=upload.all_or_nothing, progress=_progress_writer(upload)
        )
    except importing.ImportRefused as exc:
        upload = _refuse(upload, str(exc))
        _record_written(upload, plan, [])
        return upload
    except Exception as exc:  # noqa: BLE001 - any failure must reach the admin, not only the log
        log.exception("importing upload %s failed", upload.pk)
        upload.refresh_from_db()
        _end(upload, CatalogUpload.Status.FAILED, f"The import stopped: {exc}")
        # Batches committed before the failure stay imported: embed them too.
        _record_written(upload, plan, [])
        return upload
    upload.refresh_from_db()
    summary = dict(upload.plan_summary)
    summary["result"] = result_summary(result)
    with transaction.atomic():
        _set(
            upload,
            status=CatalogUpload.Status.IMPORTED,
            plan_summary=summary,
            rows_done=upload.rows_total,
            finished_at=timezone.now(),
        )
        _record_written(upload, plan, result.product_ids)
    _delete_file(upload)
    return upload


def discard_upload(*, upload: CatalogUpload) -> CatalogUpload:
    """Drop a previewed (or refused) upload and its file; nothing was written to the catalogue."""
    if upload.status not in {CatalogUpload.Status.PREVIEWED, CatalogUpload.Status.UPLOADED}:
        raise UploadStateError(
            f"Upload {upload.pk} is {upload.get_status_display()} and cannot be discarded."
        )
    _set(upload, status=CatalogUpload.Status.DISCARDED, finished_at=timezone.now())
    _delete_file(upload)
    return upload


# --------------------------------------------------------------------------- reads


def upload_status(*, upload: CatalogUpload) -> dict:
    """What the progress page and its JSON endpoint show: stage, analysis and import progress.

    Embedding progress of the upload's products comes from the embeddings app
    (embeddings.selectors.upload_embedding_progress), which the page polls separately.
    """
    upload.refresh_from_db()
    total = upload.rows_total
    done = upload.rows_done
    importing_phase = upload.status in {CatalogUpload.Status.IMPORTING, CatalogUpload.Status.IMPORTED}
    settled = upload.status in {
        CatalogUpload.Status.PREVIEWED,
        CatalogUpload.Status.IMPORTED,
        CatalogUpload.Status.REFUSED,
        CatalogUpload.Status.FAILED,
        CatalogUpload.Status.DISCARDED,
    }
    analysing = upload.status in {CatalogUpload.Status.UPLOADED, CatalogUpload.Status.ANALYSING}
    return {
        "id": upload.pk,
        "status": upload.status,
        "status_label": upload.get_status_display(),
        "error": upload.error,
        "settled": settled,
        "analysis": _progress(done if analysing else total, total)
        if total
        else {"done": 0, "total": 0, "percent": 0},
        "import": _progress(done if importing_phase else 0, total),
        # The preview's complete counts (created, updated, unchanged, rejected, images…) and,
        # once imported, what the import did.
        "counts": upload.plan_summary.get("counts", {}),
        "result": upload.plan_summary.get("result"),
    }


def written_product_ids(upload: CatalogUpload) -> list[int]:
    """The products the upload's import created or changed (empty until it imported)."""
    return list(upload.plan_summary.get("embedded_product_ids") or [])


# --------------------------------------------------------------------------- helpers


def summarise_plan(plan) -> dict:
    """The JSON the preview page shows: complete counts, the first PREVIEW_LIMIT items of each list."""
    rejected = [
        {"line": item.line, "catalog_id": item.catalog_id, "reason": item.reason} for item in plan.rejected
    ]
    unreadable = [{"name": item.name, "reason": item.reason} for item in plan.unreadable_images]
    missing = list(plan.missing_images)
    orphans = list(plan.orphan_images)
    counts = {
        "created": len(plan.created),
        "updated": len(plan.updated),
        "unchanged": len(plan.unchanged),
        "rejected": len(rejected),
        "missing_images": len(missing),
        "unreadable_images": len(unreadable),
        "orphan_images": len(orphans),
    }
    counts["rows"] = counts["created"] + counts["updated"] + counts["unchanged"] + counts["rejected"]
    return {
        "counts": counts,
        "rejected": rejected[:PREVIEW_LIMIT],
        "rejected_truncated": len(rejected) > PREVIEW_LIMIT,
        "unreadable_images": unreadable[:PREVIEW_LIMIT],
        "missing_images": missing[:PREVIEW_LIMIT],
        "missing_images_truncated": len(missing) > PREVIEW_LIMIT,
        "orphan_images": orphans[:PREVIEW_LIMIT],
        "orphan_images_truncated": len(orphans) > PREVIEW_LIMIT,
        "samples": [
            {"label": "Rows to create", "items": [row.catalog_id for row in plan.created[:100]]},
            {"label": "Rows to update", "items": [row.catalog_id for row in plan.updated[:100]]},
            {"label": "Unchanged rows", "items": [row.catalog_id for row in plan.unchanged[:100]]},
        ],
    }


def result_summary(result: importing.ImportResult) -> dict:
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected": result.rejected,
    }


def _record_written(upload: CatalogUpload, plan, product_ids: list[int]) -> None:
    """Keep the ids of the upload's products written by its import and announce them after commit.

    `product_ids` are this run's created and updated products; a plan also names rows an earlier,
    interrupted run of the same import wrote (updated_at since the import started). The upload page
    shows their embedding progress.
    """
    ids = set(product_ids)
    if plan is not None and upload.import_started_at:
        catalog_ids = [row.catalog_id for row in plan.created + plan.updated + plan.unchanged]
        ids.update(
            Product.objects.filter(
                catalog_id__in=catalog_ids, updated_at__gte=upload.import_started_at
            ).values_list("pk", flat=True)
        )
    if not ids:
        return
    summary = dict(upload.plan_summary)
    summary["embedded_product_ids"] = sorted(ids)
    _set(upload, plan_summary=summary)
    announce_changed_products(ids)


def _progress_writer(upload: CatalogUpload):
    """The (done, total) callback of the import service: writes the counters the page polls."""

    def progress(done: int, total: int) -> None:
        CatalogUpload.objects.filter(pk=upload.pk).update(
            rows_done=done, rows_total=total, updated_at=timezone.now()
        )

    return progress


def _refuse(upload: CatalogUpload, message: str) -> CatalogUpload:
    return _end(upload, CatalogUpload.Status.REFUSED, message)


def _end(upload: CatalogUpload, status: str, message: str) -> CatalogUpload:
    """Finish the upload with `status` and the message the page shows, and delete its zip."""
    _set(upload, status=status, error=message, finished_at=timezone.now())
    _delete_file(upload)
    return upload


def _delete_file(upload: CatalogUpload) -> None:
    if upload.file_path:
        Path(upload.file_path).unlink(missing_ok=True)
        _set(upload, file_path="")


def _set(upload: CatalogUpload, **fields) -> None:
    for name, value in fields.items():
        setattr(upload, name, value)
    upload.save(update_fields=[*fields, "updated_at"])


def _progress(done: int, total: int) -> dict:
    return {"done": done, "total": total, "percent": int(100 * done / total) if total else 0}
