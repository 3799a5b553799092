"""The two-stage ranking (reads only): stage 1 through embeddings.ann, stage 2 in NumPy.

Stage 1 returns the K1 candidates with each query vector's similarity to their product-side
vectors, so both stage scores are computed here from those (one query per search). Formulas, index settings and the per-kind ef_search
defaults: docs/search-scoring.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import router

from embeddings import ann, memory
from embeddings.models import EmbeddingSpace, ProductEmbedding
from search import selectors
from search.errors import SearchError
from search.models import EF_SEARCH_MAX, WeightConfig

QUERY_KINDS = ("image", "text", "combined")


def effective_weights(
    w_text: float, w_image: float, *, has_text: bool, has_image: bool
) -> tuple[float, float]:
    """A stage's weights for the query at hand: with only one query modality its weight becomes 1."""
    if has_text and not has_image:
        return 1.0, 0.0
    if has_image and not has_text:
        return 0.0, 1.0
    return float(w_text), float(w_image)


def query_kind(*, has_text: bool, has_image: bool) -> str:
    """image, text or combined: each kind has its own ef_search default (SEARCH_EF_SEARCH)."""
    if has_text and has_image:
        return "combined"
    return "text" if has_text else "image"


def scaled_ef_search(default: int, rows: float | None) -> int:
    """A kind's default ef_search for a space of `rows` vectors: as set up to
    SEARCH_EF_SEARCH_BASE_ROWS, then growing with the square root of the size (twice at four times
    the rows), at most pgvector's 1,000. Measured (docs/search-scoring.md, "Scale"): image queries
    keep recall@100 >= 0.98 at 100 up to 250k products and need 200 at 1M (0.940 at 100)."""
    base_rows = settings.SEARCH_EF_SEARCH_BASE_ROWS
    if not rows or base_rows <= 0 or rows <= base_rows:
        return int(default)
    return min(EF_SEARCH_MAX, math.ceil(default * math.sqrt(rows / base_rows)))


def ef_search_for(config: WeightConfig, kind: str, rows: float | None = None) -> int:
    """The config's ef_search if it sets one, else the kind's default for a space of `rows`
    vectors (scaled_ef_search); never below K1."""
    chosen = config.ef_search or scaled_ef_search(settings.SEARCH_EF_SEARCH[kind], rows)
    return max(int(chosen), int(config.k1))


@dataclass(frozen=True)
class Plan:
    """What one search executes: space, query vectors and the weights in force."""

    space_id: int
    dimension: int
    text: np.ndarray | None
    image: np.ndarray | None
    stage1: tuple[float, float]  # (w_text, w_image) after the one-modality rule
    stage2: tuple[float, float]
    image_share: float
    title_share: float
    k1: int
    ef_search: int
    storage: str = "vector"

    def query_sum(self) -> np.ndarray:
        """w_text·t + w_image·v: with unit product vectors its dot product is the stage-1 score."""
        total = np.zeros(self.dimension, dtype=np.float32)
        for weight, vector in zip(self.stage1, (self.text, self.image), strict=True):
            if vector is not None and weight:
                total += np.float32(weight) * vector
        return total

    def stage1_query(self, filter_sql: str = "", filter_params: dict | None = None) -> ann.Stage1Query:
        return ann.Stage1Query(
            space_id=self.space_id,
            dimension=self.dimension,
            vector=self.query_sum(),
            shares={"image_vector": self.image_share, "title_vector": self.title_share},
            k1=self.k1,
            ef_search=self.ef_search,
            storage=self.storage,
            filter_sql=filter_sql,
            filter_params=filter_params or {},
            probes={
                name: vector for name, vector in (("t", self.text), ("v", self.image)) if vector is not None
            },
        )


def make_plan(
    space: EmbeddingSpace,
    config: WeightConfig,
    text: np.ndarray | None,
    image: np.ndarray | None,
    *,
    rows: float | None = None,
) -> Plan:
    """The plan for query vectors under a config (validates the vectors' dimension); `rows`, the
    space's size, scales the ef_search defaults (None: the defaults as set)."""
    for vector in (text, image):
        if vector is not None and vector.shape != (space.dimension,):
            raise SearchError(
                f"The query vector has {vector.shape[0]} dimensions; {space.name} has {space.dimension}."
            )
    has_text, has_image = text is not None, image is not None
    return Plan(
        space_id=space.pk,
        dimension=space.dimension,
        text=text,
        image=image,
        stage1=effective_weights(
            config.stage1_text, config.stage1_image, has_text=has_text, has_image=has_image
        ),
        stage2=effective_weights(
            config.stage2_text, config.stage2_image, has_text=has_text, has_image=has_image
        ),
        image_share=float(config.product_image_share),
        title_share=float(config.product_title_share),
        k1=config.k1,
        ef_search=ef_search_for(config, query_kind(has_text=has_text, has_image=has_image), rows),
        storage=space.vector_storage,
    )


def similarities(plan: Plan, candidates: ann.Candidates) -> dict[str, np.ndarray]:
    """Per query vector ("t", "v"): sim(q, p) = image_share·q·p_img + title_share·q·p_title per row,
    from stage 1's per-column similarities (a missing product vector counts 0)."""
    out = {}
    for (name, column), values in candidates.similarities.items():
        share = plan.image_share if column == "image_vector" else plan.title_share
        out[name] = out.get(name, 0.0) + share * values
    return out


def stage_scores(weights: tuple[float, float], sims: dict[str, np.ndarray]) -> np.ndarray:
    """A stage's score per candidate: w_text·sim(t, p) + w_image·sim(v, p)."""
    total = np.zeros(len(next(iter(sims.values()))), dtype=np.float64)
    for weight, name in zip(weights, ("t", "v"), strict=True):
        if weight and name in sims:
            total += weight * sims[name]
    return total


@dataclass(frozen=True)
class RankedProduct:
    rank: int
    product_id: int
    stage1_score: float
    stage1_rank: int
    stage2_score: float


@dataclass(frozen=True)
class Ranking:
    """One page of the two-stage ranking, with what actually ran."""

    rows: list[RankedProduct]
    exact: bool
    ef_search: int
    matched: int | None  # products passing the filters (None: no filters)
    candidates: tuple[int, ...]  # stage 1's product ids, best first
    candidate_count: int
    stage1_ms: float
    stage2_ms: float


def search_database() -> str:
    """The database alias searches read from (a replica when DATABASE_REPLICA_URLS sets some)."""
    return router.db_for_read(ProductEmbedding) or "default"


def space_rows(space: EmbeddingSpace, using: str) -> float | None:
    """The space's size (its image index's row count): carried by the active space as read for a
    search (embeddings.selectors), else one catalogue query. NULL (no index) or -1 (never counted)
    keep the ef_search defaults and the in-memory stage 1 off."""
    if hasattr(space, "indexed_rows"):
        return space.indexed_rows
    return ann.indexed_rows(space.pk, using=using)


# The kinds whose stage 1 runs in memory where the space fits (embeddings.memory). Image queries
# sit on the vectors' cone, where the HNSW walk at ef_search 100 is as fast as a pass over every
# vector; text and combined queries are off it and need ef_search 600, 2-3x the pass
# (benchmarks/search.py --memory-only; docs/search-scoring.md, "Small spaces: exact, in memory").
MEMORY_KINDS = ("text", "combined")


def memory_copy(
    space: EmbeddingSpace, plan: Plan, columns: list[str], using: str, *, rows: float | None
) -> memory.SpaceVectors | None:
    """This process's copy of the space's vectors for an exact stage 1 in memory over `columns`,
    when the query is of a MEMORY_KINDS kind, the space fits SEARCH_MEMORY_MAX_MB and its vectors
    have not changed since the copy was made (embeddings.memory). `rows`: the space's size if
    already read (space_rows)."""
    if query_kind(has_text=plan.text is not None, has_image=plan.image is not None) not in MEMORY_KINDS:
        return None
    if memory.cap_bytes() <= 0:
        return None
    if rows is None:
        rows = space_rows(space, using)
    if not memory.fits(rows, space.dimension, columns):
        return None
    if hasattr(space, "vectors_version") and space._state.db == using:  # read with the active space
        version, changed_at = space.vectors_version or 0, space.vectors_changed_at
    # Else from where the vectors are read: a replica's copy must match the replica's version.
    else:
        version, changed_at = memory.vectors_version(space.pk, using=using)
    return memory.copy_for(space, columns, rows=rows, version=version, changed_at=changed_at, using=using)


def rank_products(
    *,
    space: EmbeddingSpace,
    text_vector: np.ndarray | None,
    image_vector: np.ndarray | None,
    config: WeightConfig,
    exact: bool,
    filters: dict,
    k: int,
    page: int = 1,
    exclude_product_id: int | None = None,
) -> Ranking:
    """Stage 1 (K1 candidates over the catalogue) and stage 2 (exact rescoring) for query vectors.

    `filters` must already be validated (selectors.validate_filters). Reads only; run_search
    stores the outcome.
    """
    using = search_database()
    rows = None if config.ef_search else space_rows(space, using)  # a config's own ef_search needs none
    plan = make_plan(space, config, text_vector, image_vector, rows=rows)
    filter_sql, filter_params = selectors.filter_sql(filters)
    if exclude_product_id is not None:
        filter_sql += " AND e.product_id <> %(exclude_id)s"
        filter_params["exclude_id"] = exclude_product_id
    query = plan.stage1_query(filter_sql, filter_params)
    matched = None
    stage1_started = time.perf_counter()
    if filters:
        matched = selectors.count_matching(filters, using=using)
        # A selective filter is answered exactly over the few rows it keeps: cheaper than walking
        # the graph for them, and the page is always full.
        if matched <= settings.SEARCH_FILTER_EXACT_BELOW:
            exact = True
    ids, sims = np.zeros(0, dtype=np.int64), {}
    copy = None if exact or filters else memory_copy(space, plan, query.columns, using, rows=rows)
    if copy is not None:  # exact, over this process's copy of a small space's vectors
        exact = True
    if matched != 0:
        if copy is not None:  # the excluded product is left out by id; there are no filters
            candidates = copy.candidates(query, exclude_product_id=exclude_product_id)
        else:
            candidates = ann.fetch_candidates(query, exact=exact, using=using)
        ids, sims = candidates.ids, similarities(plan, candidates)
        if copy is None and plan.image_share and plan.title_share:
            # A product found through both indexes comes back twice with the same similarities.
            ids, first = np.unique(ids, return_index=True)
            sims = {name: values[first] for name, values in sims.items()}
    stage1 = stage_scores(plan.stage1, sims) if len(ids) else np.zeros(0)
    order = np.lexsort((ids, -stage1))[: plan.k1]
    ids, stage1 = ids[order], stage1[order]
    stage1_ms = (time.perf_counter() - stage1_started) * 1000

    stage2_started = time.perf_counter()
    stage2 = stage_scores(plan.stage2, sims)[order] if len(ids) else np.zeros(0)
    # Stage 2 order; ties keep the better stage-1 rank.
    shown = np.lexsort((np.arange(len(ids)), -stage2))[(page - 1) * k : page * k]
    stage2_ms = (time.perf_counter() - stage2_started) * 1000
    offset = (page - 1) * k
    return Ranking(
        rows=[
            RankedProduct(
                rank=offset + position,
                product_id=int(ids[index]),
                stage1_score=float(stage1[index]),
                stage1_rank=int(index) + 1,
                stage2_score=float(stage2[index]),
            )
            for position, index in enumerate(shown, start=1)
        ],
        exact=exact,
        ef_search=plan.ef_search,
        matched=matched,
        candidates=tuple(ids.tolist()),
        candidate_count=len(ids),
        stage1_ms=stage1_ms,
        stage2_ms=stage2_ms,
    )


def explain_stage1(
    plan: Plan, *, filter_sql: str = "", filter_params: dict | None = None, exact: bool
) -> str:
    """EXPLAIN of a plan's stage 1 under exactly the settings a search uses (audits and tests)."""
    return ann.explain_stage1(
        plan.stage1_query(filter_sql, filter_params), exact=exact, using=search_database()
    )
