"""Stage 1's connection setup and what it reads: pgvector's types looked up once per process, and
per candidate the similarity of each query vector to each searched product-side vector, computed
by PostgreSQL (not the 2 KB vectors themselves).

Web requests open a new database connection each (DB_CONN_MAX_AGE 0), and pgvector's
register_vector ran four catalogue queries on every one of them before the first search query
(issue 17, where a cached text search spends its time). The type infos are now fetched by the
first connection of a process and reused.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from django.db import connection, transaction
from psycopg.types import TypeInfo

from embeddings import ann
from search.models import WeightConfig
from search.ranking import make_plan
from tests.search.conftest import make_known_catalogue


@pytest.mark.django_db(transaction=True)
def test_the_next_connection_reads_stage1_similarities_without_looking_pgvector_up_again(monkeypatch):
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
    assert again.ids.tolist() == first.ids.tolist()
    rows = [{int(pk): i for i, pk in enumerate(catalogue.product_ids)}[int(pk)] for pk in again.ids]
    assert set(again.similarities) == {("t", "image_vector"), ("v", "image_vector")}
    np.testing.assert_allclose(
        again.similarities[("t", "image_vector")], catalogue.image[rows] @ catalogue.title[5], atol=1e-6
    )
    np.testing.assert_allclose(
        again.similarities[("v", "image_vector")], catalogue.image[rows] @ catalogue.image[3], atol=1e-6
    )


@pytest.mark.django_db
def test_a_missing_title_vector_counts_as_similarity_zero():
    from embeddings.models import ProductEmbedding

    catalogue = make_known_catalogue(n=30)
    ProductEmbedding.objects.filter(space=catalogue.space, product_id=catalogue.product_ids[0]).update(
        title_vector=None
    )
    config = WeightConfig(name="t", product_image_share=0.5, product_title_share=0.5)
    query = make_plan(catalogue.space, config, None, catalogue.image[0]).stage1_query()
    for exact in (True, False):
        found = ann.fetch_candidates(query, exact=exact)
        row = found.ids.tolist().index(int(catalogue.product_ids[0]))
        assert found.similarities[("v", "title_vector")][row] == 0.0
        assert found.similarities[("v", "image_vector")][row] == pytest.approx(1.0, abs=1e-6)


def _round_trips(trace: str) -> int:
    """Client → server exchanges in a libpq protocol trace: each run of frontend (F) messages
    that follows backend (B) ones — or starts the trace — is one more round trip."""
    directions = [line.split("\t")[1] for line in trace.splitlines() if line.count("\t") >= 2]
    return sum(1 for i, d in enumerate(directions) if d == "F" and (i == 0 or directions[i - 1] == "B"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("in_transaction", [False, True])
def test_stage_one_settings_and_query_take_one_round_trip(tmp_path, in_transaction):
    catalogue = make_known_catalogue(n=40)
    config = WeightConfig(name="t", ef_search=40, k1=20)
    query = make_plan(catalogue.space, config, None, catalogue.image[2]).stage1_query()
    ann.fetch_candidates(query, exact=False)  # the connection and its adapters exist
    raw = ann.raw_connection()
    path = tmp_path / "protocol.trace"
    with transaction.atomic() if in_transaction else contextlib.nullcontext(), path.open("w") as trace:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # in a transaction: its BEGIN goes out before the trace
        raw.pgconn.trace(trace.fileno())
        found = ann.fetch_candidates(query, exact=False)
        raw.pgconn.untrace()
    assert found.ids[0] == catalogue.product_ids[2]
    assert _round_trips(path.read_text()) == 1, path.read_text()
