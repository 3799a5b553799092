"""The API against its own OpenAPI schema (schemathesis), over HTTP against a live server: every
operation, anonymously and with a researcher's token; any 5xx, undocumented status, content type,
header or body that does not match the schema fails the test."""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.schema_checks import check_every_operation as check_operations

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def survey(tiny_catalogue):
    """An open survey over the tiny catalogue (queries are product titles, encoded by the tiny model)."""
    from tests.surveys.fixtures import open_text_query_survey

    return open_text_query_survey(slug="contract")


@pytest.fixture
def api_schema(live_server, survey, settings):
    # Rates high enough that generated requests reach the views (throttling has its own tests).
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/min", "user": "100000/min", "image_search": "100000/min"},
    }
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")


@pytest.fixture
def researcher_token(django_user_model):
    user = django_user_model.objects.create_user("contract-researcher", password="pw-123456", is_staff=True)
    # What the Researchers group grants (transactional tests empty the group the migration made).
    granted = [("surveys", "conduct_survey")] + [
        ("search", f"{verb}_weightconfig") for verb in ("view", "add", "change")
    ]
    user.user_permissions.add(
        *[Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in granted]
    )
    return Token.objects.create(user=user).key


def check_every_operation(schema) -> list[str]:
    """Every check runs but `positive_data_acceptance`: filter values are checked against the
    catalogue's own values (and NUL bytes are refused), which no schema can list, so schema-valid
    requests may rightly get a 400."""
    return check_operations(schema, max_examples=8, excluded_checks=[positive_data_acceptance])


def test_every_operation_anonymously(api_schema):
    assert len(list(api_schema.get_all_operations())) >= 15
    failures = check_every_operation(api_schema)
    assert not failures, "\n\n".join(failures)


def test_every_operation_as_a_researcher(api_schema, researcher_token):
    @api_schema.auth()
    class ResearcherToken:
        """Schemathesis' own auth hook, so its checks know these credentials are real (and can
        take them away to see that the API then refuses)."""

        def get(self, case, context):
            return researcher_token

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Token {data}"}

    failures = check_every_operation(api_schema)
    assert not failures, "\n\n".join(failures)
