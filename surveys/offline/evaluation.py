"""Arms (weight configurations) scored on generated queries through the real two-stage search.

Every query runs through `search.services.rank_products` with the arm's weights, K1 and mode (the
reference product excluded); the top `depth` products form the arm's run, scored with ranx against
the generated graded qrels, per query kind, with bootstrap CIs over queries and paired tests
between arms over the same queries (Holm across pairs).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from embeddings.models import EmbeddingSpace
from search.models import WeightConfig
from search.services import rank_products
from surveys.offline import scoring
from surveys.offline.composed import ComposedQuery
from surveys.offline.vectors import QueryVectors, SpaceVectors

ARM_METRICS = ("ndcg@10", "recall@10", "recall@50", "mrr@10")


@dataclass
class ArmsEvaluation:
    """kind → arm label → metric → Estimate; kind → metric → paired tests; the runs for export."""

    estimates: dict[str, dict[str, dict[str, scoring.Estimate]]]
    tests: dict[str, dict[str, list[scoring.PairedTest]]]
    runs: dict[str, dict[str, list[tuple[int, float]]]]  # arm label → query id → shown ranking
    n_queries: dict[str, int]

    def as_dict(self) -> dict:
        return {
            "n_queries": self.n_queries,
            "estimates": {
                kind: {
                    arm: {metric: e.as_dict() for metric, e in metrics.items()}
                    for arm, metrics in arms.items()
                }
                for kind, arms in self.estimates.items()
            },
            "tests": {
                kind: {metric: [t.__dict__ for t in tests] for metric, tests in by_metric.items()}
                for kind, by_metric in self.tests.items()
            },
        }


def arm_run(
    space: EmbeddingSpace,
    config: WeightConfig,
    queries: list[ComposedQuery],
    query_vectors: list[QueryVectors],
    *,
    depth: int,
    exact: bool | None = None,
) -> dict[str, list[tuple[int, float]]]:
    """query id → [(product id, stage-2 score)] of the arm's top `depth`, as the search ranks them."""
    return {
        query.qid: ranked(
            space,
            config,
            vectors.text,
            vectors.image,
            depth=depth,
            exact=exact,
            exclude=vectors.exclude_product_id,
        )
        for query, vectors in zip(queries, query_vectors, strict=True)
    }


def ranked(space, config, text, image, *, depth: int, exact: bool | None, exclude) -> list[tuple[int, float]]:
    """[(product id, stage-2 score)] of one query's top `depth` as the two-stage search ranks them
    (no filters; `exact` None follows the configuration; `exclude` leaves the query's own product out)."""
    ranking = rank_products(
        space=space,
        text_vector=text,
        image_vector=image,
        config=config,
        exact=config.exact if exact is None else exact,
        filters={},
        k=min(depth, config.k1),
        exclude_product_id=exclude,
    )
    return [(row.product_id, row.stage2_score) for row in ranking.rows]


def evaluate_arms(
    *,
    space: EmbeddingSpace,
    configs: list[WeightConfig],
    queries: list[ComposedQuery],
    query_vectors: list[QueryVectors],
    metrics=ARM_METRICS,
    exact: bool | None = None,
    seed: int = 0,
    progress=None,
) -> ArmsEvaluation:
    """Score every configuration on every query kind (see the module docstring).

    `progress(done, total)` is called after each configuration (for the background job's page).
    """
    from surveys.offline.trec import run_dict

    depth = max(int(m.split("@")[1]) for m in metrics if "@" in m)
    runs = {}
    for number, config in enumerate(configs, start=1):
        runs[config.label] = arm_run(space, config, queries, query_vectors, depth=depth, exact=exact)
        if progress:
            progress(number, len(configs))
    by_kind = defaultdict(list)
    for query in queries:
        by_kind[query.kind].append(query)
    estimates, tests = {}, {}
    for kind, kind_queries in by_kind.items():
        qrels = {q.qid: q.qrels for q in kind_queries}
        per_arm = {
            arm: scoring.per_query(qrels, run_dict({q: run[q] for q in qrels}), metrics)
            for arm, run in runs.items()
        }
        estimates[kind] = {
            arm: {m: scoring.mean_with_ci(values[m].values(), seed=seed) for m in metrics}
            for arm, values in per_arm.items()
        }
        tests[kind] = {
            m: scoring.paired_tests({arm: values[m] for arm, values in per_arm.items()}, seed=seed)
            for m in metrics
        }
    return ArmsEvaluation(
        estimates=estimates,
        tests=tests,
        runs=runs,
        n_queries={kind: len(qs) for kind, qs in by_kind.items()},
    )


def prepare_queries(
    space: EmbeddingSpace, *, n_per_kind: int, seed: int, kinds=None, encode=None
) -> tuple[SpaceVectors, list[ComposedQuery], list[QueryVectors]]:
    """The space's vectors, the generated queries (seeded) and their vectors (texts encoded by `encode`,
    the search's cached text encoder by default)."""
    from search.services import encode_text_cached
    from surveys.offline.composed import KINDS, generate_queries
    from surveys.offline.vectors import load_space_vectors, query_vectors

    vectors = load_space_vectors(space)
    queries = generate_queries(vectors.attributes, n_per_kind=n_per_kind, seed=seed, kinds=kinds or KINDS)
    return vectors, queries, query_vectors(space, queries, vectors, encode=encode or encode_text_cached)
