"""ef_search defaults grow with the catalogue: as set up to SEARCH_EF_SEARCH_BASE_ROWS vectors, then
with the square root of the size (measured: image queries need 200 instead of 100 at 1M products)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from embeddings import ann
from embeddings.selectors import active_space_with_vectors
from search.ranking import ef_search_for, rank_products, scaled_ef_search
from search.services import create_weight_config


@pytest.mark.parametrize(
    ("default", "rows", "expected"),
    [
        (100, None, 100),  # size unknown (no index yet): the default as set
        (100, -1, 100),  # PostgreSQL's "never counted" (pg_class.reltuples)
        (100, 44_072, 100),
        (100, 250_000, 100),  # up to the base size: unchanged
        (100, 1_000_000, 200),  # four times the base: twice
        (600, 1_000_000, 1000),  # 1,200 is over pgvector's maximum
        (100, 4_000_000, 400),
        (100, 250_001, 101),  # rounded up, never below the default
    ],
)
def test_the_default_grows_with_the_square_root_of_the_size(settings, default, rows, expected):
    settings.SEARCH_EF_SEARCH_BASE_ROWS = 250_000
    assert scaled_ef_search(default, rows) == expected


def test_a_base_of_zero_turns_the_scaling_off(settings):
    settings.SEARCH_EF_SEARCH_BASE_ROWS = 0
    assert scaled_ef_search(100, 10_000_000) == 100


@pytest.mark.django_db
def test_a_config_that_sets_ef_search_is_not_scaled_and_k1_is_the_floor(settings):
    settings.SEARCH_EF_SEARCH_BASE_ROWS = 1000
    settings.SEARCH_EF_SEARCH = {"image": 100, "text": 600, "combined": 600}
    fixed = create_weight_config(name="fixed-ef", k1=100, ef_search=150)
    blank = create_weight_config(name="blank-ef", k1=300)
    assert ef_search_for(fixed, "image", rows=16_000) == 150
    assert ef_search_for(blank, "image", rows=16_000) == 400
    assert ef_search_for(blank, "image", rows=500) == 300  # the default 100 is below K1


@pytest.mark.django_db
def test_the_active_space_carries_its_index_row_count(known_catalogue):
    space, has_vectors = active_space_with_vectors()
    assert has_vectors and space == known_catalogue.space
    # CREATE INDEX counted the 600 vectors the catalogue stored before it built the index.
    assert space.indexed_rows == 600
    assert ann.indexed_rows(space.pk) == 600
    ann.drop_space_indexes(space.pk)
    assert ann.indexed_rows(space.pk) is None
    assert active_space_with_vectors()[0].indexed_rows is None


def _image_search(space, config, query):
    return rank_products(
        space=space, text_vector=None, image_vector=query, config=config, exact=False, filters={}, k=10
    )


@pytest.mark.django_db
def test_a_search_of_a_larger_space_uses_and_records_the_scaled_ef_search(known_catalogue, settings):
    settings.SEARCH_EF_SEARCH = {"image": 100, "text": 600, "combined": 600}
    settings.SEARCH_EF_SEARCH_BASE_ROWS = 150  # the 600 vectors are four times that
    config = create_weight_config(name="blank-ef-search", k1=100)
    space, _ = active_space_with_vectors()
    query = known_catalogue.image[3]
    with CaptureQueriesContext(connection) as read:
        ranking = _image_search(space, config, query)
    assert ranking.ef_search == 200
    # The active space brought its size along: no catalogue query for it.
    assert not any("pg_class" in entry["sql"] for entry in read.captured_queries)
    # A space given by the caller is sized with one query; the outcome is the same.
    with CaptureQueriesContext(connection) as read:
        again = _image_search(known_catalogue.space, config, query)
    assert again.ef_search == 200 and again.rows == ranking.rows
    assert sum("pg_class" in entry["sql"] for entry in read.captured_queries) == 1
    settings.SEARCH_EF_SEARCH_BASE_ROWS = 600  # the space's own size: the default as set
    assert _image_search(space, config, query).ef_search == 100
