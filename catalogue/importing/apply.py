"""Apply a plan: write its created and updated products and their images, batch by batch."""

from __future__ import annotations

import contextlib
import hashlib
import zipfile
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from catalogue.importing.plan import (
    BATCH_SIZE,
    ImportPlan,
    ImportResult,
    PlannedRow,
    Progress,
    differs,
    plan_import,
)
from catalogue.importing.rows import PRODUCT_FIELDS
from catalogue.importing.sources import ImportRefused, open_source, read_entry
from catalogue.models import Product


def apply_plan(
    plan: ImportPlan, *, all_or_nothing: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Write the plan's created and updated rows (idempotent: each batch re-reads the catalogue).

    Batches of BATCH_SIZE rows commit one by one, so a long import shows progress and a crash
    loses at most one batch (re-running the import finishes it). With all_or_nothing the whole
    import is one transaction and a plan with rejected rows is refused. Image files are written
    before their rows and deleted again if the batch's transaction rolls back.
    """
    if all_or_nothing and plan.rejected:
        raise ImportRefused(
            f"All or nothing was asked and {len(plan.rejected)} row(s) are rejected "
            f"(first: line {plan.rejected[0].line}: {plan.rejected[0].reason}); nothing was imported."
        )
    rows = plan.created + plan.updated
    total = plan.rows
    result = ImportResult(unchanged=len(plan.unchanged), rejected=len(plan.rejected))
    done = len(plan.unchanged) + len(plan.rejected)
    if progress:
        progress(done, total)
    outer = transaction.atomic() if all_or_nothing else contextlib.nullcontext()
    written_all: list[str] = []
    try:
        with open_source(plan.path) as archive, outer:
            for start in range(0, len(rows), BATCH_SIZE):
                batch = rows[start : start + BATCH_SIZE]
                written: list[str] = []
                try:
                    with transaction.atomic():
                        _apply_batch(archive, batch, result, written)
                except BaseException:  # Ctrl-C too: no orphan files of a rolled-back batch
                    _delete_files(written)
                    raise
                written_all.extend(written)
                done += len(batch)
                if progress:
                    progress(done, total)
    except BaseException:
        if all_or_nothing:
            _delete_files(written_all)
        raise
    return result


def import_catalogue(
    path: Path, *, all_or_nothing: bool = False, progress: Progress | None = None
) -> ImportResult:
    """Plan against the catalogue as it is now, then apply (what the upload's Confirm runs)."""
    return apply_plan(plan_import(path), all_or_nothing=all_or_nothing, progress=progress)


def _apply_batch(
    archive: zipfile.ZipFile, batch: list[PlannedRow], result: ImportResult, written: list[str]
) -> None:
    existing = {
        product.catalog_id: product
        for product in Product.objects.select_for_update().filter(
            catalog_id__in=[row.catalog_id for row in batch]
        )
    }
    to_create, to_update, replaced = [], [], []
    now = timezone.now()
    for row in batch:
        product = existing.get(row.catalog_id)
        if product is not None and not differs(_as_values(product), row):
            result.unchanged += 1
            continue
        if product is None:
            product = Product(catalog_id=row.catalog_id)
            to_create.append(product)
        else:
            product.revision += 1
            product.updated_at = now
            to_update.append(product)
        for name, value in row.fields.items():
            setattr(product, name, value)
        if row.image_sha256 and row.image_sha256 != product.image_sha256:
            data = read_entry(archive, archive.getinfo(row.image_entry))
            if hashlib.sha256(data).hexdigest() != row.image_sha256:
                # Only bytes that were checked are stored (a folder can change between the two reads).
                raise ImportRefused(f"{row.image_entry} changed after it was checked; run the import again.")
            name = default_storage.save(
                f"products/{row.catalog_id}-{row.image_sha256[:12]}{row.image_suffix}", ContentFile(data)
            )
            written.append(name)
            if product.image.name:
                replaced.append(product.image.name)
            product.image.name = name
            product.image_sha256 = row.image_sha256
    Product.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    Product.objects.bulk_update(
        to_update, ["revision", "image", "image_sha256", "updated_at", *PRODUCT_FIELDS], batch_size=BATCH_SIZE
    )
    if replaced:
        transaction.on_commit(lambda: _delete_files(replaced))
    result.created += len(to_create)
    result.updated += len(to_update)
    result.product_ids.extend(product.pk for product in to_create + to_update)


def _as_values(product: Product) -> dict:
    return {"image_sha256": product.image_sha256, **{name: getattr(product, name) for name in PRODUCT_FIELDS}}


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
