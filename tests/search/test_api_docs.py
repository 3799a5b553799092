"""The API docs page (#16, item 16): a way back to the site, real request examples, a schema
that generates without warnings."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_docs_page_links_back_to_the_site_and_to_the_token_page(client):
    html = client.get("/api/docs/").content.decode()
    assert '<a href="/" data-testid="api-docs-home">' in html
    assert 'href="/accounts/profile/"' in html and 'id="swagger-ui"' in html


def test_the_search_request_has_real_examples_and_filters_as_an_object(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    body = schema["paths"]["/api/search/"]["post"]["requestBody"]["content"]["application/json"]
    examples = {name: example["value"] for name, example in body["examples"].items()}
    assert examples["TextWithFilters"]["filters"] == {"gender": "Women", "base_colour": ["Red"]}
    request = schema["components"]["schemas"]["SearchRequest"]
    assert request["properties"]["filters"]["type"] == "object"


def test_the_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns any drf-spectacular warning or error into a failed command.
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi:")
