"""Writes of the search capability: `run_search` (the two-stage search, stored as a SearchRun).

A thin orchestrator: input checks here; weight configs in weight_configs.py, query images in
query_images.py, query vectors in querycache.py, the ranking in ranking.py (stage-1 SQL and the
HNSW index DDL in embeddings/ann.py), retention and pinning in retention.py. The public writes of
those modules are re-exported here so callers keep one import path (`search.services`).
"""

from __future__ import annotations

import math
import time

import numpy as np
from django.db import connections, router, transaction

from catalogue.models import Product
from embeddings.models import EmbeddingSpace, ProductEmbedding
from search import selectors
from search.errors import SearchError, SearchUnavailable
from search.models import K_MAX, SearchResult, SearchRun, WeightConfig
from search.query_images import open_query_image, store_query_image
from search.querycache import encode_image, encode_text_cached
from search.ranking import Ranking, rank_products
from search.retention import Pruned, pin_runs, prune_search_runs, unpin_runs
from search.weight_configs import (
    citing_relations,
    create_weight_config,
    default_weight_config,
    update_weight_config,
    weight_config_in_use,
)

MAX_QUERY_TEXT_CHARS = 1000


def _resolve_space(space: EmbeddingSpace | None) -> EmbeddingSpace:
    if space is None:
        from embeddings.selectors import active_space_with_vectors

        space, has_vectors = active_space_with_vectors()
    else:
        has_vectors = ProductEmbedding.objects.filter(space=space).exists()
    if space is None:
        raise SearchUnavailable("No embedding space is set up yet, so there is nothing to search.")
    if not has_vectors:
        progress = selectors.indexing_progress(space)
        raise SearchUnavailable(
            f"Indexing is in progress: {progress['embedded']} of {progress['products']} products have "
            f"vectors in {space.name}. Search works once the first products are embedded.",
            progress=progress,
        )
    return space


def _bounded_int(value, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SearchError(f"{name} must be a whole number.", fields={name: ["not a number"]}) from None
    if not low <= number <= high:
        raise SearchError(f"{name} must be between {low} and {high}.", fields={name: ["out of range"]})
    return number


def run_search(
    *,
    space: EmbeddingSpace | None = None,
    text: str | None = None,
    image=None,
    similar_to: Product | None = None,
    config: WeightConfig | None = None,
    exact: bool | None = None,
    filters: dict | None = None,
    k: int | None = None,
    source: str = SearchRun.Source.PUBLIC,
    user=None,
    page: int = 1,
) -> SearchRun:
    """Run the two-stage search and store it (with its results and timings) as a SearchRun.

    `image` is a PIL image, an uploaded file or bytes; `similar_to` searches with a product's own
    vectors and leaves the product out. `exact=None` uses the config's mode. Raises SearchError
    (bad input, 400) or SearchUnavailable (nothing indexed yet, 409).
    """
    started = time.perf_counter()
    text = " ".join((text or "").split())
    if len(text) > MAX_QUERY_TEXT_CHARS:
        raise SearchError(
            f"The query text is longer than {MAX_QUERY_TEXT_CHARS} characters.", fields={"text": ["too long"]}
        )
    if not text and image is None and similar_to is None:
        raise SearchError(
            "Type a query, add an image, or both.", fields={"text": ["empty query"]}, code="empty_query"
        )
    config = config or default_weight_config()
    k = config.k if k is None else _bounded_int(k, "k", 1, min(K_MAX, config.k1))
    page = _bounded_int(page, "page", 1, max(1, math.ceil(config.k1 / k)))
    exact = config.exact if exact is None else bool(exact)
    clean_filters = selectors.validate_filters(filters or {})
    space = _resolve_space(space)

    query_image = None
    encode_started = time.perf_counter()
    text_vector = image_vector = None
    if similar_to is not None:
        embedding = ProductEmbedding.objects.filter(product=similar_to, space=space).first()
        if embedding is None:
            raise SearchUnavailable(f"Product {similar_to.catalog_id} has no vectors in {space.name} yet.")
        text_vector = _as_array(embedding.title_vector)
        image_vector = _as_array(embedding.image_vector)
        text = ""
    else:
        if image is not None:
            query_image, decoded = store_query_image(image)
            image_vector = encode_image(space, decoded)
        if text:
            text_vector = encode_text_cached(space, text)
    encode_ms = (time.perf_counter() - encode_started) * 1000

    ranking = rank_products(
        space=space,
        text_vector=text_vector,
        image_vector=image_vector,
        config=config,
        exact=exact,
        filters=clean_filters,
        k=k,
        page=page,
        exclude_product_id=similar_to.pk if similar_to is not None else None,
    )
    total_ms = (time.perf_counter() - started) * 1000

    run = SearchRun(
        query_text=text,
        query_image=query_image,
        similar_to=similar_to,
        space=space,
        config=config,
        exact=ranking.exact,
        ef_search=ranking.ef_search,
        k1=config.k1,
        filters=clean_filters,
        k=k,
        page=page,
        matched_count=ranking.matched,
        candidate_count=ranking.candidate_count,
        encode_ms=encode_ms,
        stage1_ms=ranking.stage1_ms,
        stage2_ms=ranking.stage2_ms,
        total_ms=total_ms,
        source=source,
        user=user if user is not None and user.is_authenticated else None,
    )
    _store(run, ranking.rows)
    return run


def _store(run: SearchRun, rows) -> None:
    """Store the run and its results in one transaction and attach the results (with their
    products) to `run`, so the page and the API serialise it without reading it back.

    The transaction commits without waiting for its WAL to reach the disk (synchronous_commit
    off, for this transaction only, and only when it is not part of a caller's transaction): an
    operating-system crash can lose the last fraction of a second of search runs, never corrupt
    them, and any later durable commit (a rating citing the run) flushes the WAL up to it first,
    so nothing stored can cite a lost run."""
    products = Product.objects.in_bulk([row.product_id for row in rows])
    database = router.db_for_write(SearchRun)
    # Only a transaction of its own: SET LOCAL would last until an outer transaction commits.
    own_transaction = not connections[database].in_atomic_block
    with transaction.atomic(using=database), connections[database].cursor() as cursor:
        if own_transaction:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        run.save(force_insert=True, using=database)
        results = SearchResult.objects.using(database).bulk_create(
            [
                SearchResult(
                    run=run,
                    rank=row.rank,
                    product=products[row.product_id],
                    catalog_id=products[row.product_id].catalog_id,
                    title=products[row.product_id].title[:500],
                    stage1_score=float(row.stage1_score),
                    stage1_rank=row.stage1_rank,
                    stage2_score=float(row.stage2_score),
                )
                for row in rows
            ],
        )
    # What prefetch_related("results") leaves on a run (Django's prefetch_one_level does the same):
    # run.results.all() / .count() / .exists() answer from these rows without a query.
    cached = run.results.all()
    cached._result_cache, cached._prefetch_done = results, True
    run._prefetched_objects_cache = {"results": cached}


def _as_array(vector) -> np.ndarray | None:
    if vector is None:
        return None
    return np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)


__all__ = [
    "MAX_QUERY_TEXT_CHARS",
    "Pruned",
    "Ranking",
    "citing_relations",
    "create_weight_config",
    "default_weight_config",
    "encode_text_cached",
    "open_query_image",
    "pin_runs",
    "prune_search_runs",
    "rank_products",
    "run_search",
    "store_query_image",
    "unpin_runs",
    "update_weight_config",
    "weight_config_in_use",
]
