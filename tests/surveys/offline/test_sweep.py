"""The weight sweep against a brute-force loop and the search service, and arms that differ only in
stage-2 weights scored differently on composed queries."""

import zlib

import numpy as np
import pytest

from search.services import rank_products
from surveys.offline import scoring
from surveys.offline.composed import COMPOSED, IMAGE, generate_queries
from surveys.offline.evaluation import evaluate_arms, prepare_queries
from surveys.offline.sweep import Point, create_config_from_point, rank_point, sweep
from surveys.offline.vectors import load_space_vectors, query_vectors
from tests.search.conftest import brute_force, make_known_catalogue
from tests.surveys.report_factories import make_weight_configs

pytestmark = pytest.mark.django_db


def hashed_text_vector(space, text):
    """A stand-in text encoder for a known-vectors space (no model has its 8 dimensions)."""
    vector = np.random.default_rng(zlib.crc32(text.encode())).normal(size=space.dimension)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


@pytest.fixture
def benchmark_queries(db):
    cat = make_known_catalogue(n=300, dimension=8, seed=11)
    vectors = load_space_vectors(cat.space)
    queries = generate_queries(vectors.attributes, n_per_kind=12, seed=5)
    return cat, vectors, queries, query_vectors(cat.space, queries, vectors, encode=hashed_text_vector)


def test_the_sweeps_best_point_is_reproduced_by_a_brute_force_loop(benchmark_queries):
    cat, vectors, queries, qvs = benchmark_queries
    grid1, grid2, shares = (0.0, 0.3, 0.5, 1.0), (0.0, 0.5, 0.9, 1.0), (1.0, 0.5)
    result = sweep(
        vectors=vectors,
        queries=queries,
        query_vectors=qvs,
        stage1_weights=grid1,
        stage2_weights=grid2,
        image_shares=shares,
        k1=40,
        k=10,
    )
    # Stage 1 once per (share, query, stage-1 weight), not once per point.
    assert result.stage1_selections == len(shares) * len(queries) * len(grid1)
    qrels = {q.qid: q.qrels for q in queries}
    means = {}
    for share in shares:
        for w1 in grid1:
            for w2 in grid2:
                run = {}
                for query, qv in zip(queries, qvs, strict=True):
                    top = brute_force(
                        cat,
                        text=qv.text,
                        image=qv.image,
                        stage1=(w1, 1 - w1),
                        stage2=(w2, 1 - w2),
                        shares=(share, 1 - share),
                        k1=40,
                        k=10,
                        mask=cat.product_ids != (query.reference_id or -1),
                    )
                    run[query.qid] = {str(pid): float(10 - rank) for rank, (pid, _s1, _s2) in enumerate(top)}
                values = scoring.per_query(qrels, run, ["ndcg@10"])["ndcg@10"]
                means[Point(w1, w2, share)] = float(np.mean(list(values.values())))
    for point in result.points:
        assert result.estimates[point].mean == pytest.approx(means[point], abs=1e-12), point
    assert result.best == max(result.points, key=lambda p: (means[p], -result.points.index(p)))
    assert len({round(m, 9) for m in means.values()}) > 1, "the grid must not be flat on composed queries"
    best = result.estimates[result.best]
    assert best.low <= best.mean <= best.high


def test_sweep_rankings_are_the_search_services_and_a_point_becomes_a_configuration(benchmark_queries):
    cat, vectors, queries, qvs = benchmark_queries
    point = Point(0.3, 0.9, 0.5)
    config = create_config_from_point(name="from-sweep", point=point, k1=40, k=10)
    assert (config.stage1_text, config.stage1_image, config.stage2_text, config.stage2_image) == (
        0.3,
        0.7,
        0.9,
        pytest.approx(0.1),
    )
    assert (config.product_image_share, config.product_title_share, config.version) == (0.5, 0.5, 1)
    rows = vectors.row_of()
    for query, qv in [(q, v) for q, v in zip(queries, qvs, strict=True) if q.kind == COMPOSED][:4]:
        products = point.image_share * vectors.image + (1 - point.image_share) * vectors.title
        top = rank_point(
            (products @ qv.text).astype(np.float64),
            (products @ qv.image).astype(np.float64),
            point,
            k1=40,
            k=10,
            exclude=rows[query.reference_id],
        )
        ranking = rank_products(
            space=cat.space,
            text_vector=qv.text,
            image_vector=qv.image,
            config=config,
            exact=True,
            filters={},
            k=10,
            exclude_product_id=query.reference_id,
        )
        assert [int(vectors.product_ids[r]) for r in top] == [row.product_id for row in ranking.rows]


def test_arms_differing_only_in_stage_two_weights_score_differently_on_composed_queries(settings):
    """Product vectors are random unit vectors (known catalogue) in a space of the tests' tiny
    model, whose text tower encodes the change texts ("in red", "for women"): the composed queries'
    stage 2 mixes both, so 0.9/0.1 and 0.5/0.5 reorder the same candidates differently; image-only
    queries are scored with weight 1 for the image by every arm, so their figures are identical."""
    from embeddings.services import ensure_space

    space = ensure_space(name="loop-tiny", model_name=settings.EMBEDDINGS_MODEL, pretrained="none")
    make_known_catalogue(n=240, seed=3, space=space)
    configs = make_weight_configs(2, prefix="loop")  # same stage 1, stage 2 0.9/0.1 vs 0.5/0.5
    _vectors, queries, qvs = prepare_queries(space, n_per_kind=15, seed=2, kinds=(COMPOSED, IMAGE))
    result = evaluate_arms(space=space, configs=configs, queries=queries, query_vectors=qvs, exact=True)
    a, b = (c.label for c in configs)
    composed = result.estimates[COMPOSED]
    assert composed[a]["ndcg@10"].mean != composed[b]["ndcg@10"].mean
    assert result.estimates[IMAGE][a]["ndcg@10"] == result.estimates[IMAGE][b]["ndcg@10"]
    assert result.n_queries == {COMPOSED: 15, IMAGE: 15}
    (test,) = result.tests[COMPOSED]["ndcg@10"]
    assert test.mean_difference == pytest.approx(composed[a]["ndcg@10"].mean - composed[b]["ndcg@10"].mean)
