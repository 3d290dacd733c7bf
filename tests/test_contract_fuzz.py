"""schemathesis against the served OpenAPI document, in process: no input makes a 5xx, and
every answer (status, content type, body) is the one the document declares. Anonymous, and
with a secretary's token over a demo fund."""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.accounts.models import Role
from backend.accounts.services import find_user, grant_role
from backend.extensions import db
from tests.permissions import login

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
#: examples per operation: enough to reach every status an operation answers, within CI time
FUZZ = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

pytestmark = pytest.mark.usefixtures("demo")


@pytest.fixture(scope="module")
def api_schema(app: Flask) -> schemathesis.schemas.BaseSchema:
    """The app's own OpenAPI document, called through WSGI."""
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


@pytest.fixture(scope="module")
def secretary(app: Flask, demo: dict[str, int]) -> dict[str, str]:
    """Headers of a secretary of the first demo fund."""
    client = app.test_client()
    answer = login(client, "fuzzing_secretary")
    with app.app_context():
        user = find_user(str(answer["user"]["id"]))
        assert user is not None
        grant_role(user, Role.SECRETARY, 1)
        db.session.commit()
    return {"Authorization": f"Bearer {answer['token']}"}


def fuzz(api_schema: schemathesis.schemas.BaseSchema, headers: dict[str, str],
         skip: frozenset[str] = frozenset()) -> list[str]:  # fmt: skip
    """Run every operation's generated cases; the failures, one line each."""
    failures = []
    tried = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.label in skip:
            continue

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        tried += 1
        try:
            run()
        except Exception as exc:  # every operation is tried; all failures are reported
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    assert tried >= 30, f"only {tried} operations in the document"
    return failures


def test_anonymous_callers_get_only_documented_answers(api_schema) -> None:
    failures = fuzz(api_schema, {})
    assert not failures, "\n\n".join(failures)


def test_a_secretary_gets_only_documented_answers(api_schema, secretary: dict[str, str]) -> None:
    # Deleting the account would end the run's login; its own tests cover it.
    failures = fuzz(api_schema, secretary, skip=frozenset({"DELETE /api/v1/me"}))
    assert not failures, "\n\n".join(failures)
