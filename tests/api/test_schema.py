"""Schemathesis against our own OpenAPI document, in process (WSGI), as a person with a sandbox
key, a finished job and a share link: every operation in the document, whatever its router, must
answer without a server error and with a response its schema describes.

Bounded and deterministic: a fixed number of examples per operation, derandomized, no example
database, no network (the WSGI app is called directly).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django import Settings as SettingsWrapper
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import User
from config.wsgi import application
from editor.models import ShareLink, VendorKey
from tests.api.conftest import token_for
from tests.factories import make_job

pytestmark = pytest.mark.django_db

EXAMPLES = 15


@pytest.fixture
def in_process(settings: SettingsWrapper) -> Iterator[None]:
    """Serve the WSGI app inside the test's transaction: Django's test client does the same
    (without this, the end of each request would close the test's database connection)."""
    settings.ALLOWED_HOSTS = ["*"]
    # Every operation gets its examples answered, not just the first 120 (the rate limit's
    # own answer is documented and covered in test_auth).
    settings.API_RATE_LIMIT = "100000/m/key"
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(alice: User) -> dict[str, str]:
    """Real ids for path parameters, so that examples reach the owner's side too."""
    key = VendorKey(owner=alice, vendor="picwish", label="Sandbox")
    key.set_secret("sandbox-picwish-0123456789")
    key.save()
    job = make_job(alice)
    link, _token = ShareLink.create(job.results.get(), lifetime=dt.timedelta(days=1))
    return {"job_id": str(job.pk), "key_id": str(key.pk), "share_id": str(link.pk)}


def _with_real_ids(strategy: Any, ids: dict[str, str]) -> Any:
    def swap(pair: tuple[Any, bool]) -> Any:
        case, use_real = pair
        if use_real and case.path_parameters:
            for name in case.path_parameters:
                if name in ids:
                    case.path_parameters[name] = ids[name]
        return case

    return st.tuples(strategy, st.booleans()).map(swap)


def test_every_operation_answers_as_documented(
    in_process: None, alice: User, seeded: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    checked = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"The document has an operation schemathesis cannot read: {result.err()}")
        operation = result.ok()
        checked.append(f"{operation.method.upper()} {operation.path}")

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_with_real_ids(operation.as_strategy(), seeded))
        def check(case: Any) -> None:
            case.call_and_validate(
                headers=headers,
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
                # A WSGI server always gives the client's address (audit and rate limits use it).
                environ_base={"REMOTE_ADDR": "127.0.0.1"},
            )

        check()
    # The document has every router's operations (and this test saw them all).
    for expected in (
        "GET /api/v1/operations",
        "POST /api/v1/batches",
        "GET /api/v1/keys",
        "POST /api/v1/keys",
        "DELETE /api/v1/keys/{key_id}",
        "POST /api/v1/jobs/{job_id}/shares",
        "GET /api/v1/shares",
        "DELETE /api/v1/shares/{share_id}",
        "GET /api/v1/usage",
    ):
        assert expected in checked
