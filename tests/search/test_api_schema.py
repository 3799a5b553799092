"""Contract tests generated from the OpenAPI schema (schemathesis): no request gets a server error."""

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error

from tests.schema_checks import check_every_operation


@pytest.fixture
def catalogue(tiny_catalogue):
    """The catalogue, with the WSGI app kept from closing the test's connection (as Django's Client does)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield tiny_catalogue
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_schema_is_served_with_the_search_operations(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/search/",
        "/api/products/",
        "/api/products/{catalog_id}/similar/",
        "/api/weight-configs/",
    } <= set(paths)


@pytest.mark.integration
@pytest.mark.django_db
def test_api_has_no_server_errors(catalogue):
    from fashionsite.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(
        path_regex=r"^/api/(search|products|weight-configs|search-runs)"
    )
    assert len(list(schema.get_all_operations())) >= 5
    failures = check_every_operation(schema, max_examples=15, checks=[not_a_server_error])
    assert not failures, "\n\n".join(failures)


def test_swagger_ui_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
