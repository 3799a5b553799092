"""The offline retrieval benchmark's tasks: the Marqo-FashionCLIP KAGL protocol where it says so,
our own tasks named as ours.

Marqo (github.com/marqo-ai/marqo-FashionCLIP, KAGL = the Kaggle fashion-product-images data):
- text-to-image: the query is a product title; relevant = the products with exactly that title;
  documents are IMAGE vectors only (the configuration's product shares are replaced by 1/0 for this
  task: matching a title against near-verbatim titles by the same text encoder is not the task);
  Recall@1, Recall@10 and RR@10 (MRR over the top 10);
- category / colour / season / usage → product: the query is the attribute value as text
  ("Tshirts", "Navy Blue", "Summer", "Casual"); relevant = every product with that value; image
  documents only; P@1, P@10 and RR@10.
Ours (not in the Marqo protocol): image-to-image (a product's image vector; relevant = the other
products with the same article type and colour; the query product is excluded), Recall@1/10 and
RR@10 with the configuration's own product shares.

Every query runs through `search.services.rank_products` (stage 1 over the catalogue, stage 2
rescoring) with the configuration's weights, K1 and mode; a single-modality query uses weight 1 for
its modality, so these tasks cannot tell configurations apart that differ only in text/image
query weights (the composed-query kinds in surveys/offline/composed.py can). Scores come from ranx,
with bootstrap CIs over queries and paired tests between configurations over the same queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from embeddings.models import EmbeddingSpace
from search.models import WeightConfig
from search.services import encode_text_cached
from surveys.offline import scoring
from surveys.offline.evaluation import ranked
from surveys.offline.trec import run_dict
from surveys.offline.vectors import SpaceVectors, load_space_vectors

TEXT_TO_IMAGE = "text-to-image"
ATTRIBUTE_TASKS = {
    "category-to-product": "article_type",
    "colour-to-product": "base_colour",
    "season-to-product": "season",
    "usage-to-product": "usage",
}
IMAGE_TO_IMAGE = "image-to-image"
MARQO_TASKS = (TEXT_TO_IMAGE, *ATTRIBUTE_TASKS)
OWN_TASKS = (IMAGE_TO_IMAGE,)
TASK_METRICS = {
    TEXT_TO_IMAGE: ("recall@1", "recall@10", "mrr@10"),
    IMAGE_TO_IMAGE: ("recall@1", "recall@10", "mrr@10"),
    **dict.fromkeys(ATTRIBUTE_TASKS, ("precision@1", "precision@10", "mrr@10")),
}
DEPTH = 10


class ProtocolError(ValueError):
    """The catalogue cannot support the requested task (explained in the message)."""


@dataclass(frozen=True)
class TaskQuery:
    qid: str
    text: str  # "" for image queries
    image_of: int | None  # product id whose image vector is the query
    relevant: frozenset[int]


def _sample(keys: list, n: int, seed: int) -> list:
    chosen = np.random.default_rng(seed).choice(len(keys), size=min(n, len(keys)), replace=False)
    return [keys[i] for i in sorted(chosen)]


def task_queries(
    task: str, vectors: SpaceVectors, titles: dict[int, str], *, n: int, seed: int
) -> list[TaskQuery]:
    """Up to n queries of the task, sampled with default_rng(seed) from the sorted candidates."""
    groups: dict[object, set[int]] = defaultdict(set)
    if task == TEXT_TO_IMAGE:
        for pid in vectors.product_ids:
            if titles.get(int(pid), "").strip():
                groups[titles[int(pid)]].add(int(pid))
    elif task in ATTRIBUTE_TASKS:
        for product in vectors.attributes:
            value = getattr(product, ATTRIBUTE_TASKS[task])
            if value:
                groups[value].add(product.id)
    elif task == IMAGE_TO_IMAGE:
        for product in vectors.attributes:
            if product.article_type and product.base_colour:
                groups[(product.article_type, product.base_colour)].add(product.id)
        members = sorted(pid for group in groups.values() if len(group) >= 2 for pid in group)
        key_of = {p.id: (p.article_type, p.base_colour) for p in vectors.attributes}
        return [
            TaskQuery(f"{task}-{pid}", "", pid, frozenset(groups[key_of[pid]] - {pid}))
            for pid in _sample(members, n, seed)
        ]
    else:
        raise ProtocolError(f"Unknown task {task!r}; known: {', '.join(MARQO_TASKS + OWN_TASKS)}.")
    keys = sorted(groups)
    if not keys:
        raise ProtocolError(
            f"The catalogue has nothing to ask for {task}: no product has the attribute it needs."
        )
    return [
        TaskQuery(f"{task}-{i}", str(key), None, frozenset(groups[key]))
        for i, key in enumerate(_sample(keys, n, seed))
    ]


def document_config(config: WeightConfig, task: str) -> WeightConfig:
    """The configuration as the task runs it: Marqo's tasks search image documents only (unsaved copy)."""
    if task not in MARQO_TASKS or (config.product_image_share, config.product_title_share) == (1.0, 0.0):
        return config
    values = {f.attname: getattr(config, f.attname) for f in WeightConfig._meta.concrete_fields}
    values.update(product_image_share=1.0, product_title_share=0.0)
    return WeightConfig(**values)


@dataclass
class TaskResult:
    task: str
    protocol: str  # "marqo" or "own"
    config: WeightConfig
    per_query: dict[str, dict[str, float]]  # metric → query id → value
    estimates: dict[str, scoring.Estimate]
    run: dict[str, list[tuple[int, float]]]
    qrels: dict[str, dict[int, int]]


def run_task(
    space: EmbeddingSpace,
    config: WeightConfig,
    task: str,
    queries: list[TaskQuery],
    vectors: SpaceVectors,
    *,
    encode: Callable,
    exact: bool | None = None,
    seed: int = 0,
) -> TaskResult:
    """One configuration on one task: the top 10 of every query through the search, scored with ranx."""
    searched = document_config(config, task)
    rows = vectors.row_of()
    run = {}
    for query in queries:
        text = np.asarray(encode(space, query.text), dtype=np.float32) if query.text else None
        image = vectors.image[rows[query.image_of]] if query.image_of is not None else None
        # `exact` None follows the arm's own configuration (not the document-side copy searched).
        run[query.qid] = ranked(
            space,
            searched,
            text,
            image,
            depth=DEPTH,
            exact=config.exact if exact is None else exact,
            exclude=query.image_of,
        )
    qrels = {q.qid: dict.fromkeys(q.relevant, 1) for q in queries}
    metrics = TASK_METRICS[task]
    per_query = scoring.per_query(qrels, run_dict(run), metrics)
    return TaskResult(
        task=task,
        protocol="marqo" if task in MARQO_TASKS else "own",
        config=config,
        per_query=per_query,
        estimates={m: scoring.mean_with_ci(per_query[m].values(), seed=seed) for m in metrics},
        run=run,
        qrels=qrels,
    )


def run_protocol(
    *,
    space: EmbeddingSpace,
    configs: list[WeightConfig],
    tasks=MARQO_TASKS + OWN_TASKS,
    n_queries: int = 2000,
    seed: int = 0,
    exact: bool | None = None,
    encode: Callable | None = None,
) -> tuple[list[TaskResult], dict[str, dict[str, list[scoring.PairedTest]]]]:
    """Every (configuration, task) on the same sampled queries; paired tests per task and metric."""
    from catalogue.models import Product

    vectors = load_space_vectors(space)
    if not len(vectors.product_ids):
        raise ProtocolError(f"No product has an image vector in {space.name} yet: embed the catalogue first.")
    titles = dict(
        Product.objects.filter(pk__in=[int(p) for p in vectors.product_ids]).values_list("pk", "title")
    )
    results, tests = [], {}
    for task in tasks:
        queries = task_queries(task, vectors, titles, n=n_queries, seed=seed)
        task_results = [
            run_task(
                space,
                config,
                task,
                queries,
                vectors,
                encode=encode or encode_text_cached,
                exact=exact,
                seed=seed,
            )
            for config in configs
        ]
        results += task_results
        tests[task] = {
            metric: scoring.paired_tests(
                {r.config.label: r.per_query[metric] for r in task_results}, seed=seed
            )
            for metric in TASK_METRICS[task]
        }
    return results, tests
