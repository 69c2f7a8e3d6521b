"""Personal access tokens: stored hashed, sent as a bearer token, revocable, rate limited; and
every error is JSON with a code and a message."""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from api.models import PREFIX, ApiToken, token_hash
from tests.api.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db

OPERATIONS = "/api/v1/operations"


def test_a_token_is_stored_as_a_hash_only(alice: User) -> None:
    made, token = ApiToken.create(alice, "backup script")
    assert token.startswith(PREFIX)
    assert len(token) == len(PREFIX) + 43  # 32 random bytes
    assert made.token_hash == token_hash(token)
    stored = ApiToken.objects.get()
    for value in (stored.name, stored.token_hash, stored.hint, str(stored), repr(stored)):
        assert token not in value
    assert stored.masked == f"{PREFIX}{token[len(PREFIX) : len(PREFIX) + 6]}…"


def test_a_valid_token_opens_the_api_and_is_marked_used(alice: User) -> None:
    token = token_for(alice)
    response = ApiClient(token).get(OPERATIONS)
    assert response.status_code == 200
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer pst_unknown", "Basic YWxpY2U6cGFzc3dvcmQ=", "Bearer " + "x" * 300],
)
def test_no_or_a_wrong_token_is_401_in_json(header: str | None) -> None:
    client = ApiClient(None)
    headers = {"Authorization": header} if header else None
    response = client.get(OPERATIONS, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "Bearer" in response.json()["message"]
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_revoked_token_is_401(alice: User) -> None:
    token = token_for(alice)
    ApiToken.objects.get().revoke()
    assert ApiClient(token).get(OPERATIONS).status_code == 401


def test_a_session_alone_does_not_open_the_api(alice: User) -> None:
    client = ApiClient(None)
    client.client.force_login(alice)
    assert client.get(OPERATIONS).status_code == 401


def test_each_token_has_its_own_rate_limit(alice: User, settings: SettingsWrapper) -> None:
    settings.API_RATE_LIMIT = "3/m/key"
    first, second = ApiClient(token_for(alice)), ApiClient(token_for(alice, "other"))
    assert [first.get(OPERATIONS).status_code for _ in range(3)] == [200] * 3
    limited = first.get(OPERATIONS)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    # When the oldest of the three leaves the window (a minute, and the limiter's margin).
    assert 60 <= int(limited["Retry-After"]) <= 63
    assert f"Try again in {limited['Retry-After']} seconds." in limited.json()["message"]
    assert second.get(OPERATIONS).status_code == 200


def test_a_rate_limit_store_that_is_down_is_a_503_not_a_free_pass(
    alice: User, settings: SettingsWrapper
) -> None:
    settings.RATE_LIMIT_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    answer = ApiClient(token_for(alice)).get(OPERATIONS)
    assert answer.status_code == 503
    assert answer.json()["code"] == "unavailable"


def test_the_openapi_document_and_docs_need_no_token(client: Client) -> None:
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    schema = document.json()
    assert schema["info"]["title"] == "Photo Studio API"
    assert "/api/v1/operations" in schema["paths"]
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    assert client.get("/api/v1/docs").status_code == 200


def test_every_operation_behind_a_token_documents_401_and_429(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("security"), f"{method} {path} needs a token"
            assert {"401", "429"} <= set(operation["responses"]), f"{method} {path}"
