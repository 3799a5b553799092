"""/healthz, /readyz, request ids, and logs that never carry a participant's token."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache

from embeddings.recovery import HEARTBEAT_KEY, beat


@pytest.mark.django_db
def test_healthz_says_the_process_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok\n")


@pytest.mark.django_db
def test_readyz_names_what_is_missing_and_is_ready_once_a_worker_said_hello(client):
    cache.delete(HEARTBEAT_KEY)
    missing = client.get("/readyz", HTTP_ACCEPT="application/json")
    assert missing.status_code == 503
    assert missing.json()["EmbeddingsWorker"] == "Unavailable: no embeddings worker seen in the last minute"
    assert missing.json()["Database"] == "OK"
    beat()
    ready = client.get("/readyz", HTTP_ACCEPT="application/json")
    assert ready.status_code == 200, ready.json()
    assert set(ready.json().values()) == {"OK"}


@pytest.mark.django_db
def test_readyz_is_not_ready_while_redis_is_frozen(client, cache_down):
    response = client.get("/readyz", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert response.json()["Cache(alias='default')"] != "OK"
    assert response.json()["Database"] == "OK"


@pytest.mark.django_db
def test_each_response_carries_a_request_id_and_a_valid_incoming_one_is_kept(client):
    fresh = client.get("/healthz")
    assert len(fresh["X-Request-ID"]) == 16
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a-0001")
    assert kept["X-Request-ID"] == "lb-7f3a-0001"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="evil\nlog line")
    assert replaced["X-Request-ID"] != "evil\nlog line"


@pytest.mark.django_db
def test_no_participant_token_reaches_any_log(client, caplog):
    token = "p4rt1c1pant-s3cret-t0ken"
    with caplog.at_level(logging.INFO):
        client.get(f"/surveys/i/{token}/", HTTP_X_REQUEST_ID="req-42")
        client.get(f"/surveys/i/{token}/task/00000000-0000-0000-0000-000000000000/")
        logging.getLogger("django.request").warning("Not Found: /surveys/i/%s/later/", token)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in text
    assert "request req-42 GET /surveys/i/[redacted]/ 404" in text
    assert "Not Found: /surveys/i/[redacted]/later/" in text
    assert all(record.request_id for record in caplog.records)
