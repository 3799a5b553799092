"""Stage 1's connection setup: pgvector's types looked up once per process, vectors read into NumPy.

Web requests open a new database connection each (DB_CONN_MAX_AGE 0), and pgvector's
register_vector ran four catalogue queries on every one of them before the first search query
(issue 17, where a cached text search spends its time). The type infos are now fetched by the
first connection of a process and reused; binary vectors load straight into float32 arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from psycopg.types import TypeInfo

from embeddings import ann
from search.models import WeightConfig
from search.ranking import make_plan
from tests.search.conftest import make_known_catalogue


@pytest.mark.django_db(transaction=True)
def test_the_next_connection_reads_stage1_vectors_without_looking_pgvector_up_again(monkeypatch):
    catalogue = make_known_catalogue(n=40)
    config = WeightConfig(name="t", stage1_text=0.5, stage1_image=0.5, stage2_text=0.5, stage2_image=0.5)
    query = make_plan(catalogue.space, config, catalogue.title[5], catalogue.image[3]).stage1_query()
    first = ann.fetch_candidates(query, exact=True)
    connection.close()  # as at the end of a web request

    lookups = []
    original = TypeInfo.fetch.__func__

    def counting_fetch(cls, conn, name):
        lookups.append(name)
        return original(cls, conn, name)

    monkeypatch.setattr(TypeInfo, "fetch", classmethod(counting_fetch))
    again = ann.fetch_candidates(query, exact=True)

    assert lookups == []
    assert [row[0] for row in again] == [row[0] for row in first]
    row_of = {int(pk): i for i, pk in enumerate(catalogue.product_ids)}
    for product_id, image, _ in again:
        assert isinstance(image, np.ndarray) and image.dtype == np.float32
        np.testing.assert_array_equal(image, catalogue.image[row_of[product_id]])
