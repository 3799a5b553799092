"""Reads for the embeddings dashboard: coverage and staleness per space (one grouped query each).

Jobs and failures come from the embedding job models when they are installed (embeddings helper's
EmbeddingJob / EmbeddingFailure); until then the dashboard says job tracking is unavailable.
"""

from __future__ import annotations

from django.apps import apps
from django.db.models import Count, F, Q

from embeddings.models import EmbeddingSpace, ProductEmbedding


def space_coverage() -> list[dict]:
    """Per space: products with an up-to-date embedding, stale ones (older revision), failures, total."""
    Product = apps.get_model("search", "Product")
    total = Product.objects.count()
    counts = {
        row["space_id"]: row
        for row in ProductEmbedding.objects.values("space_id").annotate(
            current=Count("id", filter=Q(product_revision=F("product__revision"))),
            stale=Count("id", filter=~Q(product_revision=F("product__revision"))),
        )
    }
    failed = failure_counts()
    rows = []
    for space in EmbeddingSpace.objects.order_by("-is_active", "name"):
        row = counts.get(space.pk, {"current": 0, "stale": 0})
        rows.append(
            {
                "space": space,
                "embedded": row["current"],
                "stale": row["stale"],
                "missing": total - row["current"] - row["stale"],
                "failed": failed.get(space.pk, 0),
                "total": total,
                "percent": int(100 * row["current"] / total) if total else 0,
            }
        )
    return rows


def _model(name: str):
    try:
        return apps.get_model("embeddings", name)
    except LookupError:
        return None


def job_tracking_available() -> bool:
    return _model("EmbeddingJob") is not None and _model("EmbeddingFailure") is not None


def failure_counts() -> dict[int, int]:
    Failure = _model("EmbeddingFailure")
    if Failure is None:
        return {}
    return {row["space_id"]: row["n"] for row in Failure.objects.values("space_id").annotate(n=Count("id"))}
