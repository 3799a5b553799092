"""The exact in-memory stage 1 of small spaces (issue 17): it ranks exactly as the NumPy brute
force of docs/search-scoring.md, it is never used after the space's vectors change (PostgreSQL
counts every writing statement), and bigger spaces, filters and exact audits keep PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from catalogue.models import Product
from embeddings import memory
from embeddings.models import ProductEmbedding, VectorVersion
from search.ranking import rank_products
from tests.factories import EmbeddingSpaceFactory, store_vectors, unit_rows
from tests.search.conftest import brute_force, make_known_catalogue, rank

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def memory_on(settings):
    settings.SEARCH_MEMORY_MAX_MB = 16
    settings.SEARCH_MEMORY_SETTLE_SECONDS = 0
    memory.forget()
    yield settings
    memory.forget()


def _queries(dimension: int) -> dict:
    text, image = unit_rows(np.random.default_rng(11), 2, dimension)
    return {"text": (text, None), "image": (None, image), "combined": (text, image)}


def _rank(cat, config, *, text=None, image=None, exact=False, filters=None, exclude=None):
    ranking = rank(cat, config, text=text, image=image, exact=exact, filters=filters, exclude=exclude)
    return ranking, [row.product_id for row in ranking.rows]


def _version(space) -> int:
    row = VectorVersion.objects.filter(space_id=space.pk).first()
    return row.version if row else 0


@pytest.mark.parametrize("kind", ["text", "combined"])
@pytest.mark.parametrize("shares", [(1.0, 0.0), (0.6, 0.4)])
def test_a_small_space_is_ranked_exactly_in_memory(weight_config, kind, shares):
    cat = make_known_catalogue(n=400)
    config = weight_config(product_image_share=shares[0], product_title_share=shares[1], k1=50, k=10)
    text, image = _queries(cat.space.dimension)[kind]
    ranking, ids = _rank(cat, config, text=text, image=image)
    expected = brute_force(cat, text=text, image=image, shares=shares, k1=50)
    assert ids == [row[0] for row in expected]
    np.testing.assert_allclose(
        [row.stage1_score for row in ranking.rows], [row[1] for row in expected], atol=1e-5
    )
    np.testing.assert_allclose(
        [row.stage2_score for row in ranking.rows], [row[2] for row in expected], atol=1e-5
    )
    assert ranking.exact and ranking.candidate_count == 50
    assert memory._COPIES[("default", cat.space.pk)].version == _version(cat.space)


def test_more_like_this_leaves_the_product_out(weight_config):
    cat = make_known_catalogue(n=200)
    config = weight_config(k1=30, k=10)
    target = 5
    ranking, ids = _rank(
        cat, config, text=cat.title[target], image=cat.image[target], exclude=int(cat.product_ids[target])
    )
    mask = np.ones(len(cat.product_ids), dtype=bool)
    mask[target] = False
    expected = brute_force(cat, text=cat.title[target], image=cat.image[target], k1=30, mask=mask)
    assert ranking.exact and ids == [row[0] for row in expected]


def test_every_statement_that_writes_vectors_counts_once_per_space():
    first, second = EmbeddingSpaceFactory(), EmbeddingSpaceFactory()
    products = Product.objects.bulk_create(Product(catalog_id=f"v{i}", title=f"p{i}") for i in range(4))
    rows = unit_rows(np.random.default_rng(1), 4, 8)
    store_vectors(products, first, rows, rows)  # one INSERT of four rows
    assert (_version(first), _version(second)) == (1, 0)
    store_vectors(products[:2], second, rows[:2], rows[:2])
    ProductEmbedding.objects.filter(space=first).update(product_revision=2)
    assert (_version(first), _version(second)) == (2, 1)
    Product.objects.filter(pk=products[0].pk).update(gender="Women")  # migration 0006 follows it
    assert (_version(first), _version(second)) == (3, 2)
    Product.objects.filter(pk=products[1].pk).delete()  # cascades to both spaces' rows
    assert (_version(first), _version(second)) == (4, 3)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM embeddings_productembedding WHERE space_id = %s", [second.pk])
    assert (_version(first), _version(second)) == (4, 4)


def test_a_changed_space_is_never_searched_from_its_old_copy(weight_config, memory_on):
    cat = make_known_catalogue(n=300)
    config = weight_config(k1=20, k=5)
    query = unit_rows(np.random.default_rng(5), 1, cat.space.dimension)[0]
    _, before = _rank(cat, config, text=query)
    assert ("default", cat.space.pk) in memory._COPIES
    newcomer = Product.objects.create(catalog_id="newcomer", title="exactly what was asked for")
    store_vectors([newcomer], cat.space, query[None, :], query[None, :])
    # Not settled yet: the index answers, and already has it.
    memory_on.SEARCH_MEMORY_SETTLE_SECONDS = 3600
    ranking, ids = _rank(cat, config, text=query)
    assert not ranking.exact and ids[0] == newcomer.pk
    # Settled: a new copy, with it.
    memory_on.SEARCH_MEMORY_SETTLE_SECONDS = 0
    ranking, ids = _rank(cat, config, text=query)
    assert ranking.exact and ids[0] == newcomer.pk and ids[1:] == before[:9]
    newcomer.delete()
    ranking, ids = _rank(cat, config, text=query)
    assert ranking.exact and ids == before


def test_bigger_spaces_filters_and_exact_audits_use_postgresql(weight_config, memory_on):
    cat = make_known_catalogue(n=300)
    config = weight_config(k1=20, k=5)
    query = unit_rows(np.random.default_rng(6), 1, cat.space.dimension)[0]
    ranking, _ = _rank(cat, config, text=query, filters={"gender": ["Men"]})
    assert ("default", cat.space.pk) not in memory._COPIES and ranking.matched == 100
    _rank(cat, config, text=query, exact=True)
    assert ("default", cat.space.pk) not in memory._COPIES
    # Image queries sit on the vectors' cone, where the HNSW walk is as fast: they keep the index.
    ranking, _ = _rank(cat, config, image=query)
    assert not ranking.exact and ("default", cat.space.pk) not in memory._COPIES
    # 300 vectors of 8 dimensions take 12 KB; a million take 38 MB, over the 16 MB cap.
    assert memory.fits(300, 8, ["image_vector"]) and not memory.fits(10**6, 8, ["image_vector"])
    memory_on.SEARCH_MEMORY_MAX_MB = 0
    ranking, _ = _rank(cat, config, text=query)
    assert not ranking.exact and ("default", cat.space.pk) not in memory._COPIES


def test_a_search_of_the_active_space_reads_its_version_with_it():
    from django.test.utils import CaptureQueriesContext

    from search.services import run_search

    cat = make_known_catalogue(n=150)
    product = cat.products[7]
    first = run_search(similar_to=product, k=5)
    assert first.exact and product.pk not in [result.product_id for result in first.results.all()]
    # With the copy loaded, the version comes with the active space, and stage 1 sends nothing.
    with CaptureQueriesContext(connection) as queries:
        again = run_search(similar_to=product, k=5)
    sql = [query["sql"] for query in queries.captured_queries]
    assert [s for s in sql if "embeddings_vectorversion" in s] == [s for s in sql if "is_active" in s]
    assert len([s for s in sql if "embeddings_vectorversion" in s]) == 1
    assert not [s for s in sql if "stage 1" in s or "<=>" in s or "<#>" in s]
    assert [r.product_id for r in again.results.all()] == [r.product_id for r in first.results.all()]


@pytest.mark.django_db(transaction=True)
def test_through_a_replica_the_version_is_read_where_the_vectors_are(settings):
    """A replica lags its primary: a copy loaded from it must carry the replica's version, never
    the primary's (which may already count vectors the replica has not received)."""
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper
    from django.test.utils import CaptureQueriesContext

    from embeddings.selectors import active_space_with_vectors
    from embeddings.services import delete_space
    from search.models import WeightConfig

    alias = "replica1"
    connections[alias] = DatabaseWrapper({**connections["default"].settings_dict}, alias=alias)
    settings.DATABASE_REPLICA_ALIASES = [alias]
    try:
        cat = make_known_catalogue(n=100)
        space, _ = active_space_with_vectors()
        assert space._state.db == "default" and space.vectors_version == 1
        with CaptureQueriesContext(connections[alias]) as on_replica:
            ranking = rank_products(
                space=space,
                text_vector=cat.image[2],
                image_vector=None,
                config=WeightConfig(name="replica-memory", k1=20, k=5),
                exact=False,
                filters={},
                k=5,
            )
        assert ranking.exact and ranking.rows[0].product_id == int(cat.product_ids[2])
        assert any("embeddings_vectorversion" in query["sql"] for query in on_replica.captured_queries)
        assert memory._COPIES[(alias, space.pk)].version == 1
        delete_space(cat.space)
    finally:
        connections[alias].close()
        del connections[alias]
