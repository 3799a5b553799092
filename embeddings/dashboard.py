"""Reads for the embeddings dashboard: coverage, staleness and failures per space (one grouped
query each) and the failed products with their reasons. Running jobs: embeddings.selectors."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Count, F, Q

from embeddings.models import EmbeddingFailure, EmbeddingSpace, ProductEmbedding


def space_coverage() -> list[dict]:
    """Per space: products with an up-to-date embedding, stale ones (older revision), failures, total."""
    Product = apps.get_model("catalogue", "Product")
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


def failure_counts() -> dict[int, int]:
    """Products per space whose current revision failed (an older revision's failure is history)."""
    current = EmbeddingFailure.objects.filter(product_revision=F("product__revision"))
    return {row["space_id"]: row["n"] for row in current.values("space_id").annotate(n=Count("id"))}


def failures(*, limit: int = 200) -> list[EmbeddingFailure]:
    """The most recent failed products with their reasons."""
    return list(EmbeddingFailure.objects.select_related("product", "space").order_by("-created_at")[:limit])
