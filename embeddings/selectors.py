"""Reads about embedding spaces used across the site."""

from django.db.models import Exists, FloatField, OuterRef, Subquery
from django.db.models.expressions import RawSQL

from embeddings import ann
from embeddings.models import EmbeddingSpace, ProductEmbedding, VectorVersion
from fashionsite.compiled_query import CompiledRows


class UnknownSpace(LookupError):
    """No embedding space has the name asked for; the message lists the names there are."""


def space_named(name: str) -> EmbeddingSpace:
    """The space named `name`; UnknownSpace ("no embedding space named ... (spaces: ...)") if none is."""
    space = EmbeddingSpace.objects.filter(name=name).first()
    if space is None:
        raise UnknownSpace(f"no embedding space named {name!r} (spaces: {space_names()})")
    return space


def space_names() -> str:
    """The spaces' names for an error message ("none yet" without any)."""
    return ", ".join(EmbeddingSpace.objects.values_list("name", flat=True)) or "none yet"


def active_space() -> EmbeddingSpace | None:
    return EmbeddingSpace.objects.filter(is_active=True).first()


def active_space_with_vectors() -> tuple[EmbeddingSpace | None, bool]:
    """The active space and whether it holds any product vectors yet, in one query (a search
    needs both before it starts). The space carries `indexed_rows`, its image index's row count as
    PostgreSQL last counted it (ann.indexed_rows_sql), which scales the ef_search defaults."""
    space = _ACTIVE_SPACE_WITH_VECTORS.first()
    return space, bool(space is not None and space.has_vectors)


# Every search reads it first: its SQL is compiled once per process (fashionsite/compiled_query.py).
_ACTIVE_SPACE_WITH_VECTORS = CompiledRows(
    lambda: EmbeddingSpace.objects.filter(is_active=True).annotate(
        has_vectors=Exists(ProductEmbedding.objects.filter(space=OuterRef("pk"))),
        # Constant SQL: the index name's prefix is a parameter, the id a column of this query.
        indexed_rows=RawSQL(  # noqa: S611
            *ann.indexed_rows_sql(f'"{EmbeddingSpace._meta.db_table}"."id"'), output_field=FloatField()
        ),
        # Which copy of its vectors a process may search in memory (embeddings.memory).
        vectors_version=Subquery(VectorVersion.objects.filter(space_id=OuterRef("pk")).values("version")[:1]),
        vectors_changed_at=Subquery(
            VectorVersion.objects.filter(space_id=OuterRef("pk")).values("changed_at")[:1]
        ),
    )[:1]
)


def random_weights_notice(space: EmbeddingSpace | None) -> str:
    """The banner for results from `space` when its model has random (untrained) weights."""
    if space is not None and space.random_weights:
        return (
            f"Demo mode: the embedding model {space.model_name} has random weights "
            "(no pretrained weights can be downloaded here), so results are not meaningful."
        )
    return ""


def active_space_notice() -> str:
    """The banner shown on every page while the active space has random (untrained) weights."""
    try:
        space = active_space()
    except Exception:  # noqa: BLE001 - a page must render even before migrations ran
        return ""
    return random_weights_notice(space)


def space_coverage() -> list[dict]:
    """Per space: embedded (up to date), stale, failed, missing and total products."""
    from embeddings.dashboard import space_coverage as coverage

    return coverage()


def running_jobs() -> list[dict]:
    """Queued and running jobs with progress, rate (products/s) and ETA (seconds)."""
    from embeddings.models import EmbeddingJob

    jobs = EmbeddingJob.objects.filter(status__in=["queued", "running"]).select_related("space")
    return [
        {
            "job": job,
            "space": job.space.name,
            "done": job.done,
            "failed": job.failed,
            "total": job.total,
            "percent": job.percent,
            "rate": job.rate,
            "eta_seconds": job.eta_seconds,
        }
        for job in jobs
    ]


def embedding_progress(product_ids) -> list[dict]:
    """Per space: how many of these products have an up-to-date embedding, and how many failed
    at their current revision (an older failure is superseded by the re-embedding)."""
    from django.db.models import F

    from embeddings.models import EmbeddingFailure, ProductEmbedding

    ids = list(product_ids)
    if not ids:
        return []
    rows = []
    for space in EmbeddingSpace.objects.order_by("name"):
        current = {"space": space, "product_id__in": ids, "product_revision": F("product__revision")}
        done = ProductEmbedding.objects.filter(**current).count()
        failed = EmbeddingFailure.objects.filter(**current).count()
        rows.append(
            {
                "space": space.name,
                "done": done,
                "failed": failed,
                "total": len(ids),
                "percent": int(100 * done / len(ids)),
            }
        )
    return rows
