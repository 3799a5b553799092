"""Writes for embedding spaces, jobs and vectors. The only callers of the encoder registry.

Index design: one table holds every space's vectors in dimensionless `vector` columns; each space
gets two partial HNSW expression indexes, `((image_vector::vector(D)) vector_cosine_ops) WHERE
space_id = N` and the same on title_vector. A query must use the same cast and predicate
(`ORDER BY image_vector::vector(D) <=> q WHERE space_id = N`) for PostgreSQL to pick the index.
"""

from __future__ import annotations

import string

import numpy as np
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from embeddings import tasks
from embeddings.models import EmbeddingBatch, EmbeddingFailure, EmbeddingJob, EmbeddingSpace, ProductEmbedding

HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
TEMPLATE_FIELDS = (
    "title",
    "colour",
    "article_type",
    "gender",
    "master_category",
    "sub_category",
    "season",
    "usage",
    "year",
)


def _product_model():
    return apps.get_model("catalogue", "Product")


def encoder_for(space: EmbeddingSpace):
    """The process-wide cached encoder of a space (loaded on first use)."""
    from embeddings.encoders import load_encoder

    return load_encoder(space.model_name, space.pretrained, space.weights_path)


def validate_template(text_template: str) -> None:
    """Refuse a template naming a field products do not have (caught at space creation, not per product)."""
    for _, name, _, _ in string.Formatter().parse(text_template):
        if name is not None and name not in TEMPLATE_FIELDS:
            raise ValueError(
                f"text template {text_template!r} uses {{{name}}}; allowed: "
                + ", ".join("{" + field + "}" for field in TEMPLATE_FIELDS)
            )


def product_text(product, text_template: str) -> str:
    """The title-side text of a product for a space's template."""
    values = {
        "title": product.title or "",
        "colour": product.base_colour or "",
        "article_type": product.article_type or "",
        "gender": product.gender or "",
        "master_category": product.master_category or "",
        "sub_category": product.sub_category or "",
        "season": product.season or "",
        "usage": product.usage or "",
        "year": "" if product.year is None else str(product.year),
    }
    return " ".join(text_template.format(**values).split())


def create_space_indexes(space: EmbeddingSpace) -> None:
    """The space's partial HNSW cosine indexes on image and title vectors (idempotent)."""
    dim = int(space.dimension)
    pk = int(space.pk)
    with connection.cursor() as cursor:
        # CREATE INDEX refuses a table with pending deferred FK checks in this transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for column in ("image_vector", "title_vector"):
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS emb_{column.split('_')[0]}_hnsw_s{pk} "
                f"ON embeddings_productembedding USING hnsw (({column}::vector({dim})) vector_cosine_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) WHERE space_id = {pk}"
            )
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def model_dimension(*, model_name: str, pretrained: str, weights_path: str = "") -> int:
    """Load the model (cached in this process) and return its embedding dimension.
    Raises WeightsUnavailable when the weights cannot be loaded."""
    from embeddings.encoders import load_encoder

    return load_encoder(model_name, pretrained or "", weights_path or "").dimension


def drop_space_indexes(space_pk: int) -> None:
    """Drop a deleted space's partial HNSW indexes (nothing else uses them)."""
    with connection.cursor() as cursor:
        # DROP INDEX, like CREATE INDEX, refuses a table with pending deferred FK checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for column in ("image", "title"):
            cursor.execute(f"DROP INDEX IF EXISTS emb_{column}_hnsw_s{int(space_pk)}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@transaction.atomic
def delete_space(space: EmbeddingSpace) -> None:
    """Delete a space with its vectors, jobs and failures (FK cascade) and its indexes."""
    pk = space.pk
    space.delete()
    drop_space_indexes(pk)


@transaction.atomic
def ensure_space(
    *,
    name: str,
    model_name: str,
    pretrained: str,
    weights_path: str = "",
    text_template: str = "{title}",
    activate: bool = False,
) -> EmbeddingSpace:
    """The space with this identity (created with its indexes if new; the model is loaded to learn
    its dimension). Raises WeightsUnavailable when the weights cannot be loaded."""
    validate_template(text_template)
    identity = {
        "model_name": model_name,
        "pretrained": pretrained or "",
        "weights_path": weights_path or "",
        "text_template": text_template,
    }
    space = EmbeddingSpace.objects.filter(**identity).order_by("-preprocess_version").first()
    if space is None:
        if EmbeddingSpace.objects.filter(name=name).exists():
            raise ValueError(f"an embedding space named {name!r} exists with another model or template")
        dimension = model_dimension(model_name=model_name, pretrained=pretrained, weights_path=weights_path)
        space = EmbeddingSpace.objects.create(name=name, dimension=dimension, **identity)
    create_space_indexes(space)
    if activate and not space.is_active:
        set_active_space(space)
    return space


def ensure_space_from_settings() -> EmbeddingSpace:
    """The space for EMBEDDINGS_MODEL/PRETRAINED/WEIGHTS_PATH/TEXT_TEMPLATE; active if none is."""
    model_name = settings.EMBEDDINGS_MODEL
    pretrained = settings.EMBEDDINGS_PRETRAINED
    base = model_name.split(":", 1)[-1].split("/")[-1]
    name = "-".join(part for part in (base, pretrained or "hub") if part).lower()
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:56]
    existing = EmbeddingSpace.objects.filter(name=name).first()
    if existing is not None and (
        existing.model_name,
        existing.pretrained,
        existing.weights_path,
        existing.text_template,
    ) != (model_name, pretrained, settings.EMBEDDINGS_WEIGHTS_PATH, settings.EMBEDDINGS_TEXT_TEMPLATE):
        name = f"{name}-{EmbeddingSpace.objects.count() + 1}"
    space = ensure_space(
        name=name,
        model_name=model_name,
        pretrained=pretrained,
        weights_path=settings.EMBEDDINGS_WEIGHTS_PATH,
        text_template=settings.EMBEDDINGS_TEXT_TEMPLATE,
    )
    if not EmbeddingSpace.objects.filter(is_active=True).exists():
        set_active_space(space)
        space.refresh_from_db()
    return space


@transaction.atomic
def set_active_space(space: EmbeddingSpace) -> None:
    """Make `space` the one searched by default (exactly one active space)."""
    EmbeddingSpace.objects.filter(is_active=True).exclude(pk=space.pk).update(is_active=False)
    EmbeddingSpace.objects.filter(pk=space.pk).update(is_active=True)
    space.is_active = True


def encode_query(space: EmbeddingSpace, *, text: str | None = None, image=None):
    """(text vector | None, image vector | None), L2-normalised float32, for a query in `space`."""
    encoder = encoder_for(space)
    text_vec = encoder.encode_texts([text])[0] if text is not None else None
    image_vec = encoder.encode_images([image])[0] if image is not None else None
    return text_vec, image_vec


# --------------------------------------------------------------------------- jobs


def _stale_or_missing_ids(space: EmbeddingSpace) -> list[int]:
    """Products without an up-to-date row, except those that already failed at their revision."""
    Product = _product_model()
    current = ProductEmbedding.objects.filter(
        product=OuterRef("pk"), space=space, product_revision=OuterRef("revision")
    )
    failed = EmbeddingFailure.objects.filter(
        product=OuterRef("pk"), space=space, product_revision=OuterRef("revision")
    )
    return list(
        Product.objects.filter(~Exists(current), ~Exists(failed)).order_by("pk").values_list("pk", flat=True)
    )


def start_embedding_job(space: EmbeddingSpace, *, kind: str = "missing", product_ids=None) -> EmbeddingJob:
    """Create a job (all / missing-or-stale / given products), its batches, and queue them on commit."""
    Product = _product_model()
    if kind == EmbeddingJob.Kind.ALL:
        ids = list(Product.objects.order_by("pk").values_list("pk", flat=True))
    elif kind == EmbeddingJob.Kind.MISSING:
        ids = _stale_or_missing_ids(space)
    elif kind == EmbeddingJob.Kind.GIVEN:
        wanted = sorted({int(pk) for pk in product_ids or []})
        ids = list(Product.objects.filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))
    else:
        raise ValueError(f"unknown job kind {kind!r}: use all, missing or given")
    return _create_job(space, kind, ids)


@transaction.atomic
def _create_job(space: EmbeddingSpace, kind: str, ids: list[int]) -> EmbeddingJob:
    size = max(int(settings.EMBEDDINGS_BATCH_SIZE), 1)
    now = timezone.now()
    job = EmbeddingJob.objects.create(space=space, kind=kind, total=len(ids))
    if not ids:
        job.status = EmbeddingJob.Status.DONE
        job.started_at = job.finished_at = now
        job.save(update_fields=["status", "started_at", "finished_at"])
        return job
    batches = EmbeddingBatch.objects.bulk_create(
        EmbeddingBatch(job=job, index=i, product_ids=ids[start : start + size])
        for i, start in enumerate(range(0, len(ids), size))
    )
    batch_ids = [batch.pk for batch in batches]
    transaction.on_commit(lambda: _send(batch_ids))
    return job


def _send(batch_ids: list[int]) -> None:
    for batch_id in batch_ids:
        tasks.embed_batch.delay(batch_id)


def resume_job(job: EmbeddingJob) -> int:
    """Resend the job's batches that are not done (after a broker restart lost them); returns how many.

    Safe to call while the originals are still queued: a batch already done is skipped by the task.
    """
    pending = list(job.batches.filter(status=EmbeddingBatch.Status.QUEUED).values_list("pk", flat=True))
    if job.status in (EmbeddingJob.Status.FAILED, EmbeddingJob.Status.CANCELLED) and pending:
        EmbeddingJob.objects.filter(pk=job.pk).update(status=EmbeddingJob.Status.RUNNING, last_error="")
    transaction.on_commit(lambda: _send(pending))
    return len(pending)


def resume_stalled_jobs(*, idle_seconds: float) -> list[int]:
    """Resume unfinished jobs with no progress for `idle_seconds` (their messages were likely lost)."""
    cutoff = timezone.now() - timezone.timedelta(seconds=idle_seconds)
    resumed = []
    for job in EmbeddingJob.objects.filter(
        status__in=[EmbeddingJob.Status.QUEUED, EmbeddingJob.Status.RUNNING], updated_at__lt=cutoff
    ):
        if resume_job(job):
            EmbeddingJob.objects.filter(pk=job.pk).update(updated_at=timezone.now())
            resumed.append(job.pk)
    return resumed


def cancel_job(job: EmbeddingJob) -> None:
    EmbeddingJob.objects.filter(pk=job.pk, status__in=["queued", "running"]).update(
        status=EmbeddingJob.Status.CANCELLED, finished_at=timezone.now()
    )


# --------------------------------------------------------------------------- batch work


def _decode(storage, name: str):
    """Read and decode a product image from storage by the site's untrusted-image rule
    (fashionsite.uploads: JPEG/PNG/WebP, pixel limit, EXIF orientation); (RGB image, None) or (None, reason)."""
    from fashionsite.uploads import ImageRefused, decode_untrusted_image

    limit = settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES  # what the catalogue accepted for one image
    try:
        with storage.open(name, "rb") as handle:
            data = handle.read(limit + 1)
        return decode_untrusted_image(data, max_bytes=limit, name=name).rgb(), None
    except FileNotFoundError:
        return None, f"image file {name} is missing from storage"
    except ImageRefused as refusal:
        return None, f"image cannot be decoded: {refusal}"


def compute_batch_vectors(space: EmbeddingSpace, products, *, pool=None):
    """Read, decode, preprocess and encode products → (rows, failures).

    rows: (product_id, revision, image_vec | None, title_vec); failures: (product_id, revision, reason).
    Decoding and preprocessing run in `pool` (a thread pool) when given, overlapping I/O with the model.
    """
    from django.core.files.storage import default_storage

    encoder = encoder_for(space)

    def load(product):
        if not product.image:
            return product, None, None
        image, reason = _decode(default_storage, product.image.name)
        if image is None:
            return product, None, reason
        return product, encoder.preprocess(image), None

    loaded = list(pool.map(load, products)) if pool is not None else [load(p) for p in products]
    failures = [(p.pk, p.revision, reason) for p, _, reason in loaded if reason]
    good = [(p, pixels) for p, pixels, reason in loaded if not reason]
    if not good:
        return [], failures
    import torch

    with_image = [(p, pixels) for p, pixels in good if pixels is not None]
    image_vecs = {}
    if with_image:
        vectors = encoder.encode_pixels(torch.stack([pixels for _, pixels in with_image]))
        image_vecs = {p.pk: vectors[i] for i, (p, _) in enumerate(with_image)}
    texts = encoder.encode_texts([product_text(p, space.text_template) for p, _ in good])
    rows = [(p.pk, p.revision, image_vecs.get(p.pk), texts[i]) for i, (p, _) in enumerate(good)]
    return rows, failures


def _vector_text(vector) -> str | None:
    # 9 significant digits: every float32 survives the text round trip exactly.
    if vector is None:
        return None
    return "[" + ",".join(f"{x:.9g}" for x in np.asarray(vector, dtype=np.float32)) + "]"


def upsert_vectors(space: EmbeddingSpace, rows) -> None:
    """Insert or replace (product, space) rows: one row per pair whatever the redeliveries."""
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO embeddings_productembedding "
            "(product_id, space_id, image_vector, title_vector, product_revision, computed_at) "
            "VALUES (%s, %s, %s::vector, %s::vector, %s, now()) "
            "ON CONFLICT (product_id, space_id) DO UPDATE SET image_vector = EXCLUDED.image_vector, "
            "title_vector = EXCLUDED.title_vector, product_revision = EXCLUDED.product_revision, "
            "computed_at = EXCLUDED.computed_at",
            [
                (pid, space.pk, _vector_text(image), _vector_text(title), revision)
                for pid, revision, image, title in rows
            ],
        )


def record_failures(space: EmbeddingSpace, failures, *, job: EmbeddingJob | None = None) -> None:
    for pid, revision, reason in failures:
        EmbeddingFailure.objects.update_or_create(
            product_id=pid, space=space, defaults={"product_revision": revision, "reason": reason, "job": job}
        )


def run_batch(batch_id: int, *, pool=None) -> str:
    """Embed one batch of a job exactly once; returns what happened (for the worker log)."""
    batch = EmbeddingBatch.objects.select_related("job__space").filter(pk=batch_id).first()
    if batch is None:
        return "gone"
    job = batch.job
    if batch.status == EmbeddingBatch.Status.DONE:
        return "already done"
    if job.status == EmbeddingJob.Status.CANCELLED:
        return "cancelled"
    EmbeddingBatch.objects.filter(pk=batch.pk).update(attempts=F("attempts") + 1)
    EmbeddingJob.objects.filter(pk=job.pk, started_at__isnull=True).update(started_at=timezone.now())
    EmbeddingJob.objects.filter(pk=job.pk, status=EmbeddingJob.Status.QUEUED).update(
        status=EmbeddingJob.Status.RUNNING
    )
    space = job.space
    products = list(_product_model().objects.filter(pk__in=batch.product_ids).order_by("pk"))
    try:
        rows, failures = compute_batch_vectors(space, products, pool=pool)
    except Exception as error:
        EmbeddingJob.objects.filter(pk=job.pk).update(
            status=EmbeddingJob.Status.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    return _finish_batch(batch.pk, job.pk, space, rows, failures)


@transaction.atomic
def _finish_batch(batch_pk: int, job_pk: int, space: EmbeddingSpace, rows, failures) -> str:
    batch = EmbeddingBatch.objects.select_for_update().get(pk=batch_pk)
    if batch.status == EmbeddingBatch.Status.DONE:
        return "already done (concurrent delivery)"
    job = EmbeddingJob.objects.select_for_update().get(pk=job_pk)
    upsert_vectors(space, rows)
    record_failures(space, failures, job=job)
    if rows:
        EmbeddingFailure.objects.filter(space=space, product_id__in=[row[0] for row in rows]).delete()
    batch.status = EmbeddingBatch.Status.DONE
    batch.done, batch.failed, batch.finished_at = len(rows), len(failures), timezone.now()
    batch.save(update_fields=["status", "done", "failed", "finished_at"])
    job.done += len(rows)
    job.failed += len(failures)
    if not job.batches.filter(status=EmbeddingBatch.Status.QUEUED).exists():
        job.status = EmbeddingJob.Status.DONE
        job.finished_at = timezone.now()
    elif job.status not in (EmbeddingJob.Status.CANCELLED, EmbeddingJob.Status.FAILED):
        # A failed job stays failed (its broken batch is not done) until `embed --resume` resends it.
        job.status = EmbeddingJob.Status.RUNNING
    job.save(update_fields=["done", "failed", "status", "finished_at", "updated_at"])
    return f"{len(rows)} embedded, {len(failures)} failed"


__all__ = [
    "create_space_indexes",
    "encode_query",
    "ensure_space",
    "ensure_space_from_settings",
    "resume_job",
    "set_active_space",
    "start_embedding_job",
]
