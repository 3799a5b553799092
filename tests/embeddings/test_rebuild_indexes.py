"""Rebuilding a space's HNSW indexes online (issue 17): new build parameters or halfvec storage
while searches keep an index, from the code and from `manage.py rebuild_space_indexes`.

A 1M-product space takes 20+ minutes to index on this machine; searching it without an index is
exact at ~600 ms a query. The old `set_vector_storage` dropped the indexes first and then waited
behind any open reader for the table's exclusive lock, holding every search up behind it.
"""

from __future__ import annotations

import threading
import time
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from embeddings.ann import index_name
from embeddings.index_builds import index_parameters, rebuild_space_indexes
from embeddings.models import EmbeddingSpace
from search.models import WeightConfig
from search.ranking import explain_stage1, make_plan, rank_products
from tests.search.conftest import make_known_catalogue

pytestmark = pytest.mark.django_db(transaction=True)


def _config() -> WeightConfig:
    return WeightConfig(name="rebuild", stage1_text=0.5, stage1_image=0.5, stage2_text=0.9, stage2_image=0.1)


def _ranked_ids(space, query, *, exact: bool) -> list[int]:
    ranking = rank_products(
        space=space, text_vector=None, image_vector=query, config=_config(), exact=exact, filters={}, k=10
    )
    return [row.product_id for row in ranking.rows]


def _space_indexes(space_pk: int) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE %s ORDER BY indexname",
            [f"emb_%_hnsw_s{int(space_pk)}%"],
        )
        return dict(cursor.fetchall())


def _open_reader():
    """Another client's long read (an export, a report) in a consistent snapshot, left open."""
    settings = connection.settings_dict
    reader = psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
    )
    reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    reader.execute("SELECT count(*) FROM embeddings_productembedding").fetchone()
    return reader


def _wait_for_index_ddl_to_wait(timeout: float = 30.0) -> str:
    """The index statement of the rebuild, once PostgreSQL has it waiting for the open reader."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
                ["%INDEX%"],
            )
            row = cursor.fetchone()
            if row:
                return row[0]
            time.sleep(0.05)
    raise AssertionError("the rebuild never reached its index statement")


def test_searches_keep_an_hnsw_index_while_a_space_moves_to_halfvec_behind_an_open_reader():
    cat = make_known_catalogue(n=300)
    space = cat.space
    query = cat.image[3]
    expected = _ranked_ids(space, query, exact=True)
    reader = _open_reader()
    outcome: dict = {}

    def rebuild():
        try:
            outcome["rebuilt"] = rebuild_space_indexes(
                EmbeddingSpace.objects.get(pk=space.pk), storage="halfvec"
            )
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = error
        finally:
            connections.close_all()

    worker = threading.Thread(target=rebuild)
    worker.start()
    try:
        statement = _wait_for_index_ddl_to_wait()
        # A search now still plans with the space's old index and answers without waiting.
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        live = EmbeddingSpace.objects.get(pk=space.pk)
        plan = explain_stage1(make_plan(live, _config(), None, query), exact=False)
        assert index_name(space.pk, "image_vector") in plan, plan
        assert _ranked_ids(live, query, exact=False) == expected
        assert "CONCURRENTLY" in statement.upper()
    finally:
        reader.rollback()
        reader.close()
        worker.join(120)
    assert "error" not in outcome, outcome.get("error")
    rebuilt = outcome["rebuilt"]
    assert (rebuilt.before.storage, rebuilt.after.storage, rebuilt.online) == ("vector", "halfvec", True)
    space.refresh_from_db()
    assert space.vector_storage == "halfvec"
    indexes = _space_indexes(space.pk)
    assert sorted(indexes) == sorted(
        index_name(space.pk, column) for column in ("image_vector", "title_vector")
    )
    assert all("halfvec_cosine_ops" in definition for definition in indexes.values())
    plan = explain_stage1(make_plan(space, _config(), None, query), exact=False)
    assert index_name(space.pk, "image_vector") in plan and "halfvec" in plan
    assert _ranked_ids(space, query, exact=False) == expected


def test_new_build_parameters_replace_the_old_index_under_its_own_name():
    cat = make_known_catalogue(n=200)
    before = index_parameters(cat.space.pk)
    assert (before.storage, before.m, before.ef_construction, before.valid) == ("vector", 16, 64, True)
    rebuilt = rebuild_space_indexes(cat.space, m=8, ef_construction=32)
    after = index_parameters(cat.space.pk)
    assert (after.storage, after.m, after.ef_construction, after.valid) == ("vector", 8, 32, True)
    assert rebuilt.after == after and rebuilt.before == before and after.size_bytes > 0
    assert sorted(_space_indexes(cat.space.pk)) == sorted(
        index_name(cat.space.pk, column) for column in ("image_vector", "title_vector")
    )
    # Storage unchanged: a later rebuild without arguments keeps the parameters it finds.
    rebuild_space_indexes(cat.space)
    assert index_parameters(cat.space.pk).m == 8


def test_a_leftover_of_an_interrupted_rebuild_is_replaced():
    cat = make_known_catalogue(n=120)
    leftover = index_name(cat.space.pk, "image_vector") + "_new"
    with connection.cursor() as cursor:  # what a killed rebuild leaves behind (here a valid one)
        cursor.execute(f"CREATE INDEX {leftover} ON embeddings_productembedding (product_id)")
    rebuild_space_indexes(cat.space, ef_construction=40)
    indexes = _space_indexes(cat.space.pk)
    assert leftover not in indexes and len(indexes) == 2
    assert index_parameters(cat.space.pk).ef_construction == 40


def test_deleting_a_space_also_drops_what_an_interrupted_rebuild_left():
    from embeddings.services import delete_space

    cat = make_known_catalogue(n=60)
    leftover = index_name(cat.space.pk, "title_vector") + "_new"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX {leftover} ON embeddings_productembedding (product_id)")
    space_pk = cat.space.pk
    delete_space(cat.space)
    assert _space_indexes(space_pk) == {}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--m", "1"], "m must be between 2 and 100 (pgvector's limits), not 1"),
        (["--ef-construction", "20"], "ef_construction must be at least 2 × m (32), not 20"),
        (
            ["--ef-construction", "2000"],
            "ef_construction must be between 4 and 1000 (pgvector's limits), not 2000",
        ),
        (
            ["--maintenance-work-mem", "lots"],
            "maintenance_work_mem must be a size such as 512MB or 3GB, not 'lots'",
        ),
        (["--space", "nope"], "no embedding space named 'nope' (spaces: "),
    ],
)
def test_the_command_refuses_bad_input_and_leaves_the_indexes_alone(arguments, message):
    cat = make_known_catalogue(n=60)
    before = _space_indexes(cat.space.pk)
    with pytest.raises(CommandError) as raised:
        call_command("rebuild_space_indexes", *arguments, stdout=StringIO())
    assert message in str(raised.value)
    if arguments[0] == "--space":
        assert cat.space.name in str(raised.value)
    assert _space_indexes(cat.space.pk) == before


def test_the_command_rebuilds_the_active_space_and_says_what_changed():
    cat = make_known_catalogue(n=60)
    out = StringIO()
    call_command(
        "rebuild_space_indexes", "--storage", "halfvec", "--m", "12", "--ef-construction", "48", stdout=out
    )
    text = out.getvalue()
    assert f"Space {cat.space.name} (60 vectors)" in text
    assert "before: vector, m=16, ef_construction=64" in text
    assert "after: halfvec, m=12, ef_construction=48" in text
    assert "built online in" in text
    assert (
        index_parameters(cat.space.pk).storage,
        EmbeddingSpace.objects.get(pk=cat.space.pk).vector_storage,
    ) == (
        "halfvec",
        "halfvec",
    )


def test_the_command_names_the_spaces_when_none_is_active():
    cat = make_known_catalogue(n=30)
    EmbeddingSpace.objects.filter(pk=cat.space.pk).update(is_active=False)
    with pytest.raises(
        CommandError, match=rf"No space is active; name one with --space \(spaces: {cat.space.name}\)"
    ):
        call_command("rebuild_space_indexes", stdout=StringIO())
