"""The two-stage ranking against a NumPy brute force of docs/search-scoring.md, on known vectors."""

import dataclasses

import numpy as np
import pytest
from django.db import connection

from embeddings import ann
from search import selectors
from search.errors import SearchError
from search.ranking import Plan, explain_stage1, make_plan, rank_products
from tests.factories import store_vectors, unit_rows
from tests.fixtures import module_transaction
from tests.search.conftest import brute_force, make_known_catalogue, rank


@pytest.fixture(scope="module")
def module_catalogue(django_db_setup, django_db_blocker):
    """The known catalogue (600 products, vectors, HNSW indexes) built once for this module
    (tests.fixtures.module_transaction)."""
    with module_transaction(django_db_blocker):
        yield make_known_catalogue()


@pytest.fixture
def known_catalogue(module_catalogue, db):
    return module_catalogue


def _rng() -> np.random.Generator:
    """A fresh generator per use: a test's vectors do not depend on which tests ran before it."""
    return np.random.default_rng(2024)


def _queries(dimension):
    text, image = unit_rows(_rng(), 2, dimension)
    return {"text": (text, None), "image": (None, image), "combined": (text, image)}


def _ranked(cat, config, *, text=None, image=None, exact=True, filters=None, k=10, page=1):
    ranking = rank(cat, config, text=text, image=image, exact=exact, filters=filters, k=k, page=page)
    return ranking, [(row.product_id, row.stage1_score, row.stage2_score) for row in ranking.rows]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["text", "image", "combined"])
@pytest.mark.parametrize("shares", [(1.0, 0.0), (0.6, 0.4), (0.0, 1.0)])
def test_exact_mode_equals_numpy_brute_force(known_catalogue, weight_config, kind, shares):
    cat = known_catalogue
    config = weight_config(
        product_image_share=shares[0], product_title_share=shares[1], k1=50, ef_search=100, k=10
    )
    text, image = _queries(cat.space.dimension)[kind]
    _, got = _ranked(cat, config, text=text, image=image)
    expected = brute_force(cat, text=text, image=image, shares=shares, k1=50)
    assert [row[0] for row in got] == [row[0] for row in expected]
    np.testing.assert_allclose([row[1:] for row in got], [row[1:] for row in expected], atol=1e-5)


@pytest.mark.django_db
def test_stage_two_reorders_stage_one_candidates_by_its_own_weights(known_catalogue, weight_config):
    cat = known_catalogue
    config = weight_config(stage1_text=0.5, stage1_image=0.5, stage2_text=0.9, stage2_image=0.1, k1=20)
    text, image = _queries(cat.space.dimension)["combined"]
    ranking, got = _ranked(cat, config, text=text, image=image)
    expected = brute_force(cat, text=text, image=image, k1=20)
    assert [row[0] for row in got] == [row[0] for row in expected]
    stage2_scores = [row.stage2_score for row in ranking.rows]
    assert stage2_scores == sorted(stage2_scores, reverse=True)
    # The order really changed: stage-1 ranks are not 1..10 in order, and all are within K1.
    stage1_ranks = [row.stage1_rank for row in ranking.rows]
    assert stage1_ranks != sorted(stage1_ranks)
    assert max(stage1_ranks) <= 20
    # Products outside stage 1's K1 never appear, even when their stage-2 score is higher.
    unrestricted = brute_force(cat, text=text, image=image, k1=len(cat.product_ids))
    assert [row[0] for row in unrestricted] != [row[0] for row in got]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["text", "image", "combined"])
@pytest.mark.parametrize("shares", [(1.0, 0.0), (0.5, 0.5)])
def test_approximate_mode_finds_the_exact_top_ten(known_catalogue, weight_config, kind, shares):
    cat = known_catalogue
    config = weight_config(product_image_share=shares[0], product_title_share=shares[1])
    text, image = _queries(cat.space.dimension)[kind]
    approximate, approx_rows = _ranked(cat, config, text=text, image=image, exact=False)
    _, exact_rows = _ranked(cat, config, text=text, image=image, exact=True)
    assert not approximate.exact
    assert [row[0] for row in approx_rows] == [row[0] for row in exact_rows]


@pytest.mark.django_db
def test_pages_continue_the_ranking(known_catalogue, weight_config):
    cat = known_catalogue
    config = weight_config(k1=30, k=10)
    text, image = _queries(cat.space.dimension)["combined"]
    _, first = _ranked(cat, config, text=text, image=image, k=20)
    _, second = _ranked(cat, config, text=text, image=image, k=10, page=2)
    assert [row[0] for row in second] == [row[0] for row in first[10:20]]


def _hnsw_index_names():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'embeddings_productembedding' "
            "AND indexdef ILIKE '%%USING hnsw%%'"
        )
        return {row[0] for row in cursor.fetchall()}


def _generic_plan_text(sql: str, vector: str) -> str:
    """The plan a prepared statement gets once PostgreSQL switches to a generic plan."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("DEALLOCATE ALL")
        # The query vector is q; the text probe t (this plan's only query vector) is the same vector.
        cursor.execute("PREPARE stage1_probe(text) AS " + sql.replace("%(q)s", "$1").replace("%(t)s", "$1"))
        for _ in range(6):
            cursor.execute("EXECUTE stage1_probe(%s)", [vector])
        cursor.execute("EXPLAIN EXECUTE stage1_probe(%s)", [vector])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE stage1_probe")
        return plan


@pytest.mark.django_db
@pytest.mark.parametrize("shares", [(1.0, 0.0), (0.5, 0.5)])
def test_explain_approximate_path_uses_hnsw_and_exact_path_does_not(known_catalogue, shares):
    cat = known_catalogue
    indexes = _hnsw_index_names()
    assert len(indexes) >= 2, "create_space_indexes made no HNSW indexes"
    query = unit_rows(_rng(), 1, cat.space.dimension)[0]
    plan = Plan(
        space_id=cat.space.pk,
        dimension=cat.space.dimension,
        text=query,
        image=None,
        stage1=(1.0, 0.0),
        stage2=(1.0, 0.0),
        image_share=shares[0],
        title_share=shares[1],
        k1=100,
        ef_search=200,
    )
    approximate = ann.stage1_sql(plan.stage1_query(), exact=False)
    exact = ann.stage1_sql(plan.stage1_query(), exact=True)
    assert approximate != exact
    vector = "[" + ",".join(str(float(x)) for x in query) + "]"
    # Run both more than 5 times first (psycopg prepares after 5): plans must not leak across.
    with connection.cursor() as cursor:
        for _ in range(7):
            cursor.execute(exact, {"q": vector, "t": vector})
            cursor.execute(approximate, {"q": vector, "t": vector})
    # On 600 rows "sort the space's rows" is the cheapest plan; the search's own settings
    # (explain_stage1 applies them) must still pick the HNSW indexes for the approximate text.
    approx_plan = explain_stage1(plan, exact=False)
    exact_plan = explain_stage1(plan, exact=True)
    used = {name for name in indexes if name in approx_plan}
    assert used, approx_plan
    if shares[1]:
        assert len(used) == 2, f"both product-side indexes should be used:\n{approx_plan}"
    assert not any(name in exact_plan for name in indexes), exact_plan
    assert "Sort" in exact_plan  # every row of the space scored, then sorted
    filter_sql, filter_params = selectors.filter_sql(selectors.validate_filters({"gender": "Women"}))
    filtered = explain_stage1(plan, filter_sql=filter_sql, filter_params=filter_params, exact=False)
    assert any(name in filtered for name in indexes), filtered
    # The filter is tested on the vector row itself: neither plan reads the product table.
    assert "search_product" not in filtered, filtered
    filtered_exact = explain_stage1(plan, filter_sql=filter_sql, filter_params=filter_params, exact=True)
    assert "search_product" not in filtered_exact, filtered_exact
    assert not any(name in filtered_exact for name in indexes), filtered_exact
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
    # The same holds for a prepared statement's generic plan.
    assert any(name in _generic_plan_text(approximate, vector) for name in indexes)
    assert not any(name in _generic_plan_text(exact, vector) for name in indexes)


@pytest.mark.django_db
def test_filters_fill_the_page_through_iterative_index_scans(known_catalogue, weight_config, settings):
    settings.SEARCH_FILTER_EXACT_BELOW = 0  # force the HNSW path even for this small catalogue
    cat = known_catalogue
    config = weight_config(k1=40, ef_search=40, k=10)
    text, image = _queries(cat.space.dimension)["combined"]
    filters = selectors.validate_filters({"gender": "Women", "base_colour": ["Blue", "Red"]})
    ranking, rows = _ranked(cat, config, text=text, image=image, exact=False, filters=filters, k=10)
    assert not ranking.exact
    assert ranking.matched == sum(
        1 for p in cat.products if p.gender == "Women" and p.base_colour in ("Blue", "Red")
    )
    assert ranking.candidate_count == 40  # every stage-1 slot filled although only ~1/6 pass
    assert len(rows) == 10
    by_id = {p.pk: p for p in cat.products}
    assert all(by_id[row[0]].gender == "Women" for row in rows)
    mask = np.array([p.gender == "Women" and p.base_colour in ("Blue", "Red") for p in cat.products])
    expected = brute_force(cat, text=text, image=image, k1=40, mask=mask)
    assert [row[0] for row in rows] == [row[0] for row in expected]


@pytest.mark.django_db
def test_selective_filter_is_answered_exactly_and_fills_the_page(known_catalogue, weight_config):
    cat = known_catalogue
    config = weight_config()
    text, _ = _queries(cat.space.dimension)["text"]
    filters = selectors.validate_filters({"article_type": "Kurtas", "year_min": 2011, "year_max": 2014})
    ranking, rows = _ranked(cat, config, text=text, filters=filters)
    matched = [p for p in cat.products if p.article_type == "Kurtas" and 2011 <= p.year <= 2014]
    assert ranking.exact and ranking.matched == len(matched)
    assert len(rows) == min(10, len(matched))


@pytest.mark.django_db
def test_filter_matching_nothing_says_so(known_catalogue, weight_config):
    cat = known_catalogue
    filters = selectors.validate_filters({"gender": "Men", "article_type": "Kurtas"})
    ranking, rows = _ranked(cat, weight_config(), text=unit_rows(_rng(), 1, 8)[0], filters=filters)
    assert ranking.matched == 0 and rows == []


@pytest.mark.django_db
def test_unknown_filter_value_lists_the_allowed_ones(known_catalogue):
    with pytest.raises(SearchError) as caught:
        selectors.validate_filters({"gender": "Martian"})
    assert "Men" in caught.value.message and "Women" in caught.value.message
    with pytest.raises(SearchError) as caught:
        selectors.validate_filters({"colour": "Blue"})
    assert "base_colour" in caught.value.message
    with pytest.raises(SearchError):
        selectors.validate_filters({"year_min": "recent"})


@pytest.mark.django_db
def test_more_like_this_excludes_the_product(known_catalogue, weight_config):
    cat = known_catalogue
    config = weight_config()
    target = 5
    ranking = rank_products(
        space=cat.space,
        text_vector=cat.title[target],
        image_vector=cat.image[target],
        config=config,
        exact=False,
        filters={},
        k=10,
        exclude_product_id=int(cat.product_ids[target]),
    )
    ids = [row.product_id for row in ranking.rows]
    assert len(ids) == 10 and int(cat.product_ids[target]) not in ids
    mask = np.ones(len(cat.product_ids), dtype=bool)
    mask[target] = False
    expected = brute_force(cat, text=cat.title[target], image=cat.image[target], mask=mask)
    assert ids == [row[0] for row in expected]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["text", "image", "combined"])
def test_a_halfvec_space_searches_through_its_halfvec_index(known_catalogue, weight_config, kind):
    from embeddings.ann import create_space_indexes, index_name
    from embeddings.models import EmbeddingSpace

    space = EmbeddingSpace.objects.create(
        name="known-halfvec",
        model_name="known-halfvec",
        pretrained="none",
        dimension=8,
        vector_storage="halfvec",
    )
    # The known catalogue's products and vectors, stored again in the halfvec space, then its
    # indexes (one HNSW build is several times cheaper than inserting 2 x 600 rows into the graph).
    store_vectors(known_catalogue.products, space, known_catalogue.image, known_catalogue.title)
    create_space_indexes(space)
    cat = dataclasses.replace(known_catalogue, space=space)
    config = weight_config(product_image_share=0.5, product_title_share=0.5)
    text, image = _queries(cat.space.dimension)[kind]
    approximate, approx_rows = _ranked(cat, config, text=text, image=image, exact=False)
    _, exact_rows = _ranked(cat, config, text=text, image=image, exact=True)
    assert [row[0] for row in approx_rows] == [row[0] for row in exact_rows]
    # Scores come from the stored float32 vectors, not the float16 index copies.
    np.testing.assert_allclose([row[1:] for row in approx_rows], [row[1:] for row in exact_rows], atol=1e-6)
    plan = explain_stage1(make_plan(cat.space, config, text, image), exact=False)
    assert index_name(space.pk, "image_vector") in plan and "halfvec" in plan


@pytest.mark.django_db
def test_switching_a_space_to_halfvec_rebuilds_its_indexes(known_catalogue):
    from embeddings.ann import index_name
    from embeddings.index_builds import set_vector_storage

    def indexdef():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                [index_name(known_catalogue.space.pk, "image_vector")],
            )
            return cursor.fetchone()[0]

    assert "vector_cosine_ops" in indexdef()
    set_vector_storage(known_catalogue.space, "halfvec")
    assert "halfvec_cosine_ops" in indexdef()
    with pytest.raises(ValueError, match="unknown vector storage 'float8'"):
        set_vector_storage(known_catalogue.space, "float8")
