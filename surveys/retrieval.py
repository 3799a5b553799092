"""Offline retrieval benchmark beside the human ratings (`manage.py evaluate_retrieval`).

Follows the Marqo-FashionCLIP evaluation protocol for KAGL (the Kaggle fashion-product-images data):

- text-to-image: the query is a product title (distinct titles, up to N sampled with a fixed seed);
  relevant = every product with exactly that title (the one whose photo it describes included);
- image-to-image: the query is a product's image vector (up to N products sampled with the seed);
  relevant = the other products with the same article type and base colour (the query product is
  left out of its own results, as "similar products" does).

Each query runs through the real two-stage ranking of the search service
(`search.services.rank_products`: stage 1 over the catalogue, stage 2 rescoring) with the
configuration's weights, K1 and mode, reading the full stage-2 order of the K1 candidates.
Recall@k and MRR come from embeddings.retrieval_metrics (shared with the fine-tuning evaluation):
MRR is RR@10 as Marqo reports it (0 when no relevant product is in the top 10). Text-to-image
searches image documents only, as Marqo's does (the configuration's product shares are replaced by
1/0 for it; surveys.offline.protocol.document_config). The full protocol with the KAGL attribute
tasks, CIs and paired tests: `manage.py offline_evaluation --kind protocol` (docs/offline-evaluation.md).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from catalogue.models import Product
from embeddings.models import EmbeddingSpace, ProductEmbedding
from embeddings.retrieval_metrics import RR_DEPTH, retrieval_metrics
from search.models import WeightConfig
from search.services import encode_text_cached, rank_products
from surveys.models import RetrievalEvaluation
from surveys.offline.protocol import document_config

TASKS = (RetrievalEvaluation.Task.TEXT_TO_IMAGE, RetrievalEvaluation.Task.IMAGE_TO_IMAGE)


class EvaluationError(ValueError):
    """The catalogue cannot support the requested evaluation (explained in the message)."""


@dataclass(frozen=True)
class Query:
    vector: np.ndarray
    relevant: frozenset[int]  # product ids
    exclude_product_id: int | None = None


def _embedded(space: EmbeddingSpace) -> dict[int, tuple]:
    """product id → (title, article type, colour, image vector) for the products with an image vector."""
    rows = (
        ProductEmbedding.objects.filter(space=space, image_vector__isnull=False)
        .values_list(
            "product_id", "product__title", "product__article_type", "product__base_colour", "image_vector"
        )
        .order_by("product_id")
    )
    return {row[0]: row[1:] for row in rows}


def text_queries(
    space: EmbeddingSpace,
    *,
    n: int,
    seed: int,
    encode: Callable[[EmbeddingSpace, str], np.ndarray] | None = None,
) -> list[Query]:
    """Up to n distinct product titles (sorted, then sampled with default_rng(seed)), encoded by the
    space's model; relevant = the products with that exact title and an image vector."""
    encode = encode or encode_text_cached
    by_title: dict[str, set[int]] = defaultdict(set)
    for product_id, (title, *_rest) in _embedded(space).items():
        if title.strip():
            by_title[title].add(product_id)
    titles = sorted(by_title)
    if not titles:
        raise EvaluationError(f"No product in {space.name} has both a title and an image vector.")
    chosen = np.random.default_rng(seed).choice(len(titles), size=min(n, len(titles)), replace=False)
    return [
        Query(
            vector=np.asarray(encode(space, titles[i]), dtype=np.float32),
            relevant=frozenset(by_title[titles[i]]),
        )
        for i in sorted(chosen)
    ]


def image_queries(space: EmbeddingSpace, *, n: int, seed: int) -> list[Query]:
    """Up to n products (sorted by id, then sampled with default_rng(seed)) among those with at least one
    other product of the same article type and colour; the query is the product's image vector."""
    embedded = _embedded(space)
    groups: dict[tuple[str, str], set[int]] = defaultdict(set)
    for product_id, (_title, article_type, colour, _vector) in embedded.items():
        if article_type and colour:
            groups[(article_type, colour)].add(product_id)
    candidates = sorted(pid for members in groups.values() if len(members) >= 2 for pid in members)
    if not candidates:
        raise EvaluationError(
            f"No two products in {space.name} share an article type and colour: image-to-image has no relevant products."
        )
    chosen = np.random.default_rng(seed).choice(len(candidates), size=min(n, len(candidates)), replace=False)
    queries = []
    for index in sorted(chosen):
        product_id = candidates[index]
        _title, article_type, colour, vector = embedded[product_id]
        vector = np.asarray(vector.to_numpy() if hasattr(vector, "to_numpy") else vector, dtype=np.float32)
        queries.append(
            Query(
                vector=vector,
                relevant=frozenset(groups[(article_type, colour)] - {product_id}),
                exclude_product_id=product_id,
            )
        )
    return queries


def score_configuration(
    space: EmbeddingSpace,
    config: WeightConfig,
    task: str,
    queries: list[Query],
    *,
    exact: bool | None = None,
    on_query: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Mean Recall@1/5/10 and MRR of one configuration over the queries, through the search service.
    `on_query(done)` is called after each query (progress output)."""
    exact = config.exact if exact is None else exact
    totals = defaultdict(float)
    for done, query in enumerate(queries, start=1):
        is_text = task == RetrievalEvaluation.Task.TEXT_TO_IMAGE
        ranking = rank_products(
            space=space,
            text_vector=query.vector if is_text else None,
            image_vector=None if is_text else query.vector,
            config=document_config(config, "text-to-image") if is_text else config,
            exact=exact,
            filters={},
            k=min(RR_DEPTH, config.k1),
            exclude_product_id=query.exclude_product_id,
        )
        for name, value in retrieval_metrics(
            [row.product_id for row in ranking.rows], query.relevant
        ).items():
            totals[name] += value
        if on_query is not None:
            on_query(done)
    n = len(queries)
    return {name: value / n for name, value in totals.items()}


def evaluate_retrieval(
    *,
    space: EmbeddingSpace,
    configs: list[WeightConfig],
    tasks=TASKS,
    n_queries: int = 2000,
    seed: int = 0,
    exact: bool | None = None,
    encode: Callable[[EmbeddingSpace, str], np.ndarray] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[RetrievalEvaluation]:
    """Run the benchmark for every (configuration, task) and store one RetrievalEvaluation per pair.

    The same sampled queries are used for every configuration of a task, so configurations are
    compared on identical queries. Raises EvaluationError when the catalogue has nothing to evaluate.
    `progress(line)` gets a line per step and every tenth of each (configuration, task) run.
    """
    say = progress or (lambda line: None)
    if n_queries < 1:
        raise EvaluationError("The number of queries must be at least 1.")
    n_products = Product.objects.filter(embeddings__space=space).count()
    if not n_products:
        raise EvaluationError(f"No product has vectors in {space.name} yet: embed the catalogue first.")
    results = []
    for task in tasks:
        say(f"{task}: sampling and encoding up to {n_queries} queries in {space.name} ...")
        if task == RetrievalEvaluation.Task.TEXT_TO_IMAGE:
            queries = text_queries(space, n=n_queries, seed=seed, encode=encode)
        else:
            queries = image_queries(space, n=n_queries, seed=seed)
        for config in configs:
            started = time.perf_counter()
            metrics = score_configuration(
                space,
                config,
                task,
                queries,
                exact=exact,
                on_query=_progress_reporter(f"{task} · {config}", len(queries), started, say),
            )
            results.append(
                _store(
                    space=space,
                    config=config,
                    task=task,
                    n_queries=len(queries),
                    n_products=n_products,
                    seed=seed,
                    exact=config.exact if exact is None else exact,
                    metrics=metrics,
                    duration_s=time.perf_counter() - started,
                )
            )
    return results


def _progress_reporter(label: str, total: int, started: float, say: Callable[[str], None]):
    """on_query callback: one line at each tenth of `total`, with elapsed time and an estimate."""
    step = max(1, total // 10)

    def report(done: int) -> None:
        if done % step and done != total:
            return
        elapsed = time.perf_counter() - started
        left = elapsed / done * (total - done)
        say(
            f"  {label}: {done}/{total} queries ({100 * done // total}%), {elapsed:.0f} s, about {left:.0f} s left"
        )

    return report


@transaction.atomic
def _store(
    *, space, config, task, n_queries, n_products, seed, exact, metrics, duration_s
) -> RetrievalEvaluation:
    return RetrievalEvaluation.objects.create(
        space=space,
        weight_config=config,
        task=task,
        n_queries=n_queries,
        n_products=n_products,
        seed=seed,
        exact=exact,
        recall_at_1=metrics["recall@1"],
        recall_at_5=metrics["recall@5"],
        recall_at_10=metrics["recall@10"],
        mrr=metrics["rr"],
        random_weights=space.random_weights,
        duration_s=duration_s,
    )
