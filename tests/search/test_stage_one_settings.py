"""Stage one's planner settings (SET LOCAL hnsw.ef_search ...) end with the search, inside a
caller's transaction and in autocommit (apart from test_run_search.py, whose tests share one
catalogue in a module-long transaction: the autocommit test is transactional)."""

import pytest
from django.db import connection

from search.models import WeightConfig
from search.services import run_search


def _settings_now(names):
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["current_setting(%s, true)"] * len(names)), names)
        return dict(zip(names, cursor.fetchone(), strict=True))


@pytest.mark.django_db
def test_stage_one_settings_do_not_outlive_the_search_in_an_outer_transaction(tiny_catalogue, settings):
    # Tests run inside a transaction, like a survey computing result sets: stage 1 is a savepoint,
    # and a SET LOCAL there would otherwise last until the outer commit.
    settings.SEARCH_FILTER_EXACT_BELOW = 0  # the filtered search takes the HNSW path
    run_search(text="warm up")  # loads pgvector in this session, so its settings exist
    names = ["hnsw.ef_search", "hnsw.iterative_scan", "hnsw.max_scan_tuples", "enable_sort"]
    before = _settings_now(names)
    run = run_search(text="blue shirt", filters={"gender": "Women"}, k=5)
    assert not run.exact and run.results.count() == 5
    assert _settings_now(names) == before
    assert before["enable_sort"] == "on" and before["hnsw.iterative_scan"] == "off"


@pytest.mark.django_db(transaction=True)
def test_stage_one_settings_end_with_the_search_outside_a_transaction(settings):
    # A web request runs in autocommit: the settings are local to the pipeline's implicit
    # transaction (no RESET statements), and must still be gone when the search returns.
    from embeddings.services import delete_space
    from search.ranking import rank_products
    from search.selectors import validate_filters
    from tests.search.conftest import make_known_catalogue

    catalogue = make_known_catalogue(n=200)
    settings.SEARCH_FILTER_EXACT_BELOW = 0  # the filtered search takes the HNSW path
    config = WeightConfig(name="autocommit", k1=20, k=5, ef_search=60)
    names = ["hnsw.ef_search", "hnsw.iterative_scan", "hnsw.max_scan_tuples", "enable_sort"]
    try:
        rank_products(  # loads pgvector in this session, so its settings exist
            space=catalogue.space,
            text_vector=None,
            image_vector=catalogue.image[0],
            config=config,
            exact=False,
            filters={},
            k=5,
        )
        assert connection.connection.info.transaction_status == 0  # idle: not in a transaction
        before = _settings_now(names)
        ranking = rank_products(
            space=catalogue.space,
            text_vector=None,
            image_vector=catalogue.image[4],
            config=config,
            exact=False,
            filters=validate_filters({"gender": "Women"}),
            k=5,
        )
        assert _settings_now(names) == before
        assert before["enable_sort"] == "on" and before["hnsw.ef_search"] == "40"
        # The settings were in force for the query: a third of the products pass the filter, so
        # without the iterative scan ef_search's candidates would not yield K1 = 20 of them.
        assert not ranking.exact and ranking.candidate_count == 20 and len(ranking.rows) == 5
        assert ranking.rows[0].product_id == int(catalogue.product_ids[4])  # a woman's product
    finally:
        delete_space(catalogue.space)
