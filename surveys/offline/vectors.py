"""A space's product vectors in memory (the sweep's cache) and the vectors of generated queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from embeddings.models import EmbeddingSpace, ProductEmbedding
from surveys.offline.composed import ComposedQuery, ProductAttributes


@dataclass(frozen=True)
class SpaceVectors:
    """Row i belongs to product_ids[i] (ascending); a missing vector is a zero row (similarity 0)."""

    product_ids: np.ndarray
    image: np.ndarray
    title: np.ndarray
    attributes: list[ProductAttributes]

    def row_of(self) -> dict[int, int]:
        return {int(pid): i for i, pid in enumerate(self.product_ids)}


def _array(vector, dimension: int) -> np.ndarray:
    if vector is None:
        return np.zeros(dimension, dtype=np.float32)
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)


def load_space_vectors(space: EmbeddingSpace) -> SpaceVectors:
    """Every product with an image vector in the space, with its attributes (one query, streamed)."""
    rows = (
        ProductEmbedding.objects.filter(space=space, image_vector__isnull=False)
        .order_by("product_id")
        .values_list(
            "product_id",
            "image_vector",
            "title_vector",
            "product__article_type",
            "product__gender",
            "product__base_colour",
            "product__season",
            "product__usage",
        )
    )
    ids, image, title, attributes = [], [], [], []
    for pid, image_vector, title_vector, *attrs in rows.iterator(chunk_size=2000):
        ids.append(pid)
        image.append(_array(image_vector, space.dimension))
        title.append(_array(title_vector, space.dimension))
        attributes.append(ProductAttributes(pid, *attrs))
    shape = (0, space.dimension)
    return SpaceVectors(
        product_ids=np.asarray(ids, dtype=np.int64),
        image=np.vstack(image) if image else np.zeros(shape, np.float32),
        title=np.vstack(title) if title else np.zeros(shape, np.float32),
        attributes=attributes,
    )


@dataclass(frozen=True)
class QueryVectors:
    text: np.ndarray | None
    image: np.ndarray | None
    exclude_product_id: int | None


def query_vectors(
    space: EmbeddingSpace,
    queries: list[ComposedQuery],
    vectors: SpaceVectors,
    *,
    encode: Callable[[EmbeddingSpace, str], np.ndarray],
) -> list[QueryVectors]:
    """The text vector (encoded once per distinct text) and the reference's image vector of each query."""
    rows = vectors.row_of()
    texts = {q.text: np.asarray(encode(space, q.text), dtype=np.float32) for q in queries if q.text}
    return [
        QueryVectors(
            text=texts[q.text] if q.text else None,
            image=vectors.image[rows[q.reference_id]] if q.reference_id is not None else None,
            exclude_product_id=q.reference_id,
        )
        for q in queries
    ]
