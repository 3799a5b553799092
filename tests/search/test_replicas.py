"""Read replicas: search reads go to a replica alias, writes and everything else to the primary."""

import numpy as np
import pytest
from django.db import connections
from django.db.backends.postgresql.base import DatabaseWrapper

from embeddings.models import ProductEmbedding
from embeddings.services import delete_space
from fashionsite.routers import SearchReplicaRouter
from search.models import SearchRun, WeightConfig
from search.ranking import rank_products, search_database
from tests.search.conftest import brute_force, make_known_catalogue


@pytest.fixture
def replica(settings):
    """A second alias on the same test database, as a streaming replica would be configured."""
    alias = "replica1"
    connections[alias] = DatabaseWrapper({**connections["default"].settings_dict}, alias=alias)
    settings.DATABASE_REPLICA_ALIASES = [alias]
    yield alias
    connections[alias].close()
    del connections[alias]


def test_without_replicas_every_read_stays_on_the_primary():
    router = SearchReplicaRouter()
    assert router.db_for_read(ProductEmbedding) is None
    assert router.db_for_write(ProductEmbedding) == "default"


@pytest.mark.django_db
def test_search_reads_go_to_a_replica_and_writes_to_the_primary(replica):
    router = SearchReplicaRouter()
    assert router.db_for_write(ProductEmbedding) == "default"
    assert router.allow_migrate(replica, "search") is False
    # Reads of models a search does not read stay on the primary.
    assert router.db_for_read(SearchRun) is None and router.db_for_read(WeightConfig) is None
    # Inside a transaction on the primary (this test), reads stay there: a request sees its writes.
    assert router.db_for_read(ProductEmbedding) is None


@pytest.mark.django_db(transaction=True)
def test_a_search_outside_a_transaction_reads_through_the_replica(replica):
    catalogue = make_known_catalogue(n=200)
    assert search_database() == replica
    config = WeightConfig(name="replica-test", k1=20, k=5)
    query = catalogue.image[3]
    ranking = rank_products(
        space=catalogue.space,
        text_vector=None,
        image_vector=query,
        config=config,
        exact=True,
        filters={},
        k=5,
    )
    assert connections[replica].connection is not None  # the replica alias opened its own connection
    expected = brute_force(catalogue, text=None, image=query, k1=20)[:5]
    assert [row.product_id for row in ranking.rows] == [row[0] for row in expected]
    assert np.isclose(ranking.rows[0].stage1_score, 1.0, atol=1e-5)
    delete_space(catalogue.space)  # its partial indexes too (a flush would leave them)
