"""Weight sweep: nDCG@10 (with a bootstrap CI) of every point of a weight grid on generated queries.

A point is (stage-1 text weight, stage-2 text weight, product image share); image weights are
1 − text weight and the title share is 1 − image share. The search's formulas
(docs/search-scoring.md) are applied in NumPy to the space's cached product vectors, with stage 1
exact (the `exact` mode of the search: a full scan), so every point is scored on identical queries:

    sim(q, p) = q · (a·p_img + b·p_title),   stage score = w_text·sim(t, p) + w_image·sim(v, p)

Reuse: per (image share, query) the two similarity columns S_t = P·t and S_v = P·v are computed
once; per stage-1 weight the K1 candidates are selected once and every stage-2 weight only re-sorts
those K1 rows, so a 21 × 21 grid costs 21 stage-1 selections per query, not 441.
With one query modality its weight becomes 1 (as in the search), so only composed queries move.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from search.ranking import effective_weights
from search.services import create_weight_config
from surveys.offline import scoring
from surveys.offline.composed import ComposedQuery
from surveys.offline.vectors import QueryVectors, SpaceVectors

GRID_21 = tuple(round(x, 2) for x in np.linspace(0.0, 1.0, 21))
SEED_POINT = (0.5, 0.9, 1.0)  # the seed configuration: 0.5/0.5 over the catalogue, then 0.9/0.1


@dataclass(frozen=True)
class Point:
    stage1_text: float
    stage2_text: float
    image_share: float = 1.0

    def as_dict(self) -> dict:
        return {
            "stage1_text": self.stage1_text,
            "stage2_text": self.stage2_text,
            "image_share": self.image_share,
        }


@dataclass
class SweepResult:
    points: list[Point]
    per_query: dict[Point, dict[str, float]]  # point → query id → metric value
    estimates: dict[Point, scoring.Estimate]
    metric: str
    n_queries: int
    stage1_selections: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> Point:
        """The point with the highest mean (the first in grid order among equals)."""
        return max(self.points, key=lambda p: (self.estimates[p].mean, -self.points.index(p)))

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "n_queries": self.n_queries,
            "best": {**self.best.as_dict(), **self.estimates[self.best].as_dict()},
            "points": [{**p.as_dict(), **self.estimates[p].as_dict()} for p in self.points],
            "stage1_selections": self.stage1_selections,
            "seconds": self.seconds,
        }


def _stage1_order(scores: np.ndarray, k1: int, exclude: int | None) -> np.ndarray:
    """Row indices of the best k1 by score, ties to the lower product id (rows are in id order)."""
    if exclude is not None:
        scores = scores.copy()
        scores[exclude] = -np.inf
    k1 = min(k1, len(scores) - (exclude is not None))
    if k1 <= 0:
        return np.zeros(0, dtype=np.int64)
    if k1 < len(scores):
        # Everything tied with the k1-th score is kept, so the id tie-break below stays exact.
        threshold = np.partition(scores, len(scores) - k1)[len(scores) - k1]
        rows = np.flatnonzero(scores >= threshold)
    else:
        rows = np.arange(len(scores))
    rows = rows[np.lexsort((rows, -scores[rows]))]
    return rows[:k1]


def rank_point(
    s_text: np.ndarray | None,
    s_image: np.ndarray | None,
    point: Point,
    *,
    k1: int,
    k: int,
    exclude: int | None,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """Rows of the top k for one query at one point (candidates: stage 1's rows, when already known).

    s_text / s_image: the similarity of every product to the query's text / image (None: absent).
    Stage 2 re-sorts the candidates by its own score, ties kept in stage-1 order, as the search does.
    """
    if candidates is None:
        candidates = _stage1_order(stage_scores(s_text, s_image, point.stage1_text), k1, exclude)
    stage2 = stage_scores(
        None if s_text is None else s_text[candidates],
        None if s_image is None else s_image[candidates],
        point.stage2_text,
    )
    order = np.lexsort((np.arange(len(candidates)), -stage2))
    return candidates[order[:k]]


def sweep(
    *,
    vectors: SpaceVectors,
    queries: list[ComposedQuery],
    query_vectors: list[QueryVectors],
    stage1_weights=GRID_21,
    stage2_weights=GRID_21,
    image_shares=(1.0,),
    k1: int = 100,
    k: int = 10,
    metric: str = "ndcg@10",
    seed: int = 0,
) -> SweepResult:
    """Score every grid point on the queries (see the module docstring); CIs bootstrap the queries."""
    started = time.perf_counter()
    rows = vectors.row_of()
    points = [Point(w1, w2, a) for a in image_shares for w1 in stage1_weights for w2 in stage2_weights]
    runs: dict[Point, dict[str, dict[str, float]]] = {p: {} for p in points}
    selections = 0
    for share in image_shares:
        products = (share * vectors.image + (1 - share) * vectors.title).astype(np.float32)
        for query, qv in zip(queries, query_vectors, strict=True):
            s_text = products @ qv.text if qv.text is not None else None
            s_image = products @ qv.image if qv.image is not None else None
            s_text = None if s_text is None else s_text.astype(np.float64)
            s_image = None if s_image is None else s_image.astype(np.float64)
            exclude = rows.get(qv.exclude_product_id) if qv.exclude_product_id is not None else None
            for w1 in stage1_weights:
                candidates = _stage1_order(stage_scores(s_text, s_image, w1), k1, exclude)
                selections += 1
                for w2 in stage2_weights:
                    top = rank_point(
                        s_text,
                        s_image,
                        Point(w1, w2, share),
                        k1=k1,
                        k=k,
                        exclude=exclude,
                        candidates=candidates,
                    )
                    runs[Point(w1, w2, share)][query.qid] = {
                        str(int(vectors.product_ids[row])): float(k - rank) for rank, row in enumerate(top)
                    }
    ranked = time.perf_counter()
    qrels = {q.qid: q.qrels for q in queries}
    per_query = {p: scoring.per_query(qrels, runs[p], [metric])[metric] for p in points}
    scored = time.perf_counter()
    estimates = {p: scoring.mean_with_ci(per_query[p].values(), seed=seed) for p in points}
    return SweepResult(
        points=points,
        per_query=per_query,
        estimates=estimates,
        metric=metric,
        n_queries=len(queries),
        stage1_selections=selections,
        seconds={
            "ranking": ranked - started,
            "scoring": scored - ranked,
            "bootstrap": time.perf_counter() - scored,
        },
    )


def stage_scores(s_text, s_image, w_text: float) -> np.ndarray:
    """A stage score over every product for the text weight w_text (image weight 1 − w_text)."""
    wt, wi = effective_weights(w_text, 1 - w_text, has_text=s_text is not None, has_image=s_image is not None)
    total = np.zeros(len(s_text if s_text is not None else s_image), dtype=np.float64)
    if wt and s_text is not None:
        total += wt * s_text
    if wi and s_image is not None:
        total += wi * s_image
    return total


def create_config_from_point(
    *, name: str, point: Point, k1: int = 100, k: int = 10, ef_search: int = 400, description: str = ""
):
    """A new WeightConfig (version 1) with the point's weights, ready to be an arm of the next survey."""
    return create_weight_config(
        name=name,
        stage1_text=point.stage1_text,
        stage1_image=round(1 - point.stage1_text, 6),
        stage2_text=point.stage2_text,
        stage2_image=round(1 - point.stage2_text, 6),
        product_image_share=point.image_share,
        product_title_share=round(1 - point.image_share, 6),
        k1=k1,
        k=k,
        ef_search=max(ef_search, k1),
        description=description or f"From a weight sweep: {point.as_dict()}.",
    )
