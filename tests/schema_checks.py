"""Generated requests to every operation of an OpenAPI schema (schemathesis), as a loop inside a
test rather than schemathesis' parametrisation: `from_fixture` is broken by pytest 9, and a schema
loaded at import time makes every test session (the fast lane too, which deselects these tests)
build the Django app and generate the cases while it collects."""

from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings


def check_every_operation(schema, *, max_examples: int, **validate) -> list[str]:
    """The failures, one line per operation that failed; `validate` goes to call_and_validate."""
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @hypothesis_settings(
            max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def check(case):
            case.call_and_validate(**validate)

        try:
            check()
        except Exception as failure:  # noqa: BLE001 - collected and reported with the operation's name
            failures.append(f"{operation.label}: {str(failure)[:1500]}")
    return failures
