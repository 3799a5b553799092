"""What a text search costs besides the search itself (issue 17): round trips, reading the stored
run back, and the commit of its provenance."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from search.models import SearchRun
from search.services import run_search


def _statements(queries) -> list[str]:
    return [query["sql"].split()[0].upper() for query in queries.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_a_cached_text_search_through_the_api_is_eight_statements_and_reads_nothing_back(
    api_client, tiny_catalogue
):
    """Weight config, active space (stage 1 runs on its own pipelined cursor), the shown products,
    then one transaction storing the run and its results. The response is serialised from the run
    run_search returns: it used to be read back (run, results, products: three more queries)."""
    api_client.post("/api/search/", {"text": "black watch", "k": 7}, format="json")
    with CaptureQueriesContext(connection) as queries:
        response = api_client.post("/api/search/", {"text": "black watch", "k": 7}, format="json")
    assert response.status_code == 200, response.content
    assert _statements(queries) == [
        "SELECT",  # the default weight config
        "SELECT",  # the active space and whether it has vectors
        "SELECT",  # the shown products (their snapshot in the results, and the response)
        "BEGIN",
        "SET",  # synchronous_commit off, this transaction only
        "INSERT",  # the run
        "INSERT",  # its results
        "COMMIT",
    ], [query["sql"][:80] for query in queries.captured_queries]
    assert len(response.json()["results"]) == 7


@pytest.mark.django_db
def test_the_response_is_exactly_the_stored_run_read_back(api_client, tiny_catalogue):
    response = api_client.post(
        "/api/search/", {"text": "red shirt", "k": 5, "filters": {"gender": "Women"}}, format="json"
    )
    stored = api_client.get(f"/api/search-runs/{response.json()['uuid']}/")
    assert stored.status_code == 200
    assert response.json() == stored.json()
    assert [r["product"]["gender"] for r in response.json()["results"]] == ["Women"] * 5


@pytest.mark.django_db
def test_a_later_page_with_no_results_says_so_without_reading_the_run_back(api_client, tiny_catalogue):
    response = api_client.post(
        "/api/search/",
        {"text": "red shirt", "k": 10, "page": 10, "filters": {"gender": "Women"}},
        format="json",
    )
    body = response.json()
    assert body["results"] == [] and body["message"] == "There are no more results for this search."


@pytest.mark.django_db(transaction=True)
def test_a_callers_transaction_keeps_durable_commits(tiny_catalogue):
    """Search runs commit without waiting for the disk, but only in a transaction of their own: a
    search inside a caller's transaction (a survey adding queries) leaves its commit durable."""
    with transaction.atomic(), connection.cursor() as cursor:
        # The test database's sessions run with synchronous_commit off: the caller asks for durable.
        cursor.execute("SET LOCAL synchronous_commit TO on")
        run = run_search(text="blue jeans")
        cursor.execute("SHOW synchronous_commit")
        inside = cursor.fetchone()[0]
    assert inside == "on"
    assert SearchRun.objects.filter(pk=run.pk).exists()


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.mark.django_db
def test_the_reads_before_stage_one_answer_what_the_orm_answers_and_see_every_change(tiny_catalogue):
    """The weight config and the active space are read with SQL compiled once per process
    (fashionsite/compiled_query.py): the same rows as the ORM's, and nothing but the SQL is kept."""
    from embeddings.models import EmbeddingSpace
    from embeddings.selectors import active_space_with_vectors
    from embeddings.services import set_active_space
    from search.models import DEFAULT_WEIGHT_CONFIG, WeightConfig
    from search.services import default_weight_config, update_weight_config
    from tests.factories import EmbeddingSpaceFactory

    config = default_weight_config()
    orm = WeightConfig.objects.filter(name=DEFAULT_WEIGHT_CONFIG, is_current=True).first()
    assert _fields(config) == _fields(orm) and config._state.db == "default" and not config._state.adding
    run_search(text="cited")  # the config is now cited: an edit makes a new version
    edited = update_weight_config(config=config, stage2_text=0.8, stage2_image=0.2)
    assert edited.pk != config.pk
    assert _fields(default_weight_config()) == _fields(edited)

    space, has_vectors = active_space_with_vectors()
    assert (space, has_vectors) == (tiny_catalogue.space, True)
    assert _fields(space) == _fields(EmbeddingSpace.objects.get(pk=space.pk))
    empty = EmbeddingSpaceFactory(dimension=8)
    set_active_space(empty)
    assert active_space_with_vectors() == (empty, False)
    EmbeddingSpace.objects.update(is_active=False)
    assert active_space_with_vectors() == (None, False)
