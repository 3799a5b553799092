"""Contract tests generated from the OpenAPI schema (schemathesis): no request gets a server error."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from fashionsite.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(
    path_regex=r"^/api/(search|products|weight-configs|search-runs)"
)


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
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_has_no_server_errors(case, catalogue):
    case.call_and_validate(checks=[not_a_server_error])


def test_swagger_ui_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
