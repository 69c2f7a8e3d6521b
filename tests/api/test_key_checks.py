"""``POST /api/v1/keys`` checks the key with its vendor first (editor.keycheck), against the
sandbox over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from editor import tasks
from editor.models import VendorKey
from tests.api.conftest import ApiClient
from tests.sandboxed import sandbox, sandboxed  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandboxed")]

KEYS = "/api/v1/keys"
WRONG = "sandbox-fault-error-ERROR_APPLICATIONS_NOT_EXISTS-api"


def add(client: ApiClient, secret: str) -> Any:
    payload = {"vendor": "ailabtools", "secret": secret}
    return client.post(KEYS, json.dumps(payload), content_type="application/json")


def test_a_wrong_key_is_a_422_on_the_secret_with_the_vendors_reason(
    alice_api: ApiClient,
) -> None:
    response = add(alice_api, WRONG)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "secret"
    assert "AILabTools did not accept your API key" in json.dumps(body)
    assert WRONG not in response.content.decode()
    assert not VendorKey.objects.exists()


def test_a_good_key_answers_its_credits(alice_api: ApiClient) -> None:
    response = add(alice_api, "sandbox-credits-321-api")
    assert response.status_code == 201
    body = response.json()
    assert body["check_status"] == "checked"
    assert body["credits"] == 321
    assert body["checked_at"] is not None


def test_an_unreachable_vendor_answers_unchecked_and_a_later_check_updates_it(
    alice_api: ApiClient,
) -> None:
    response = add(alice_api, "sandbox-fault-flaky-1-credits-55-api")
    assert response.status_code == 201
    body = response.json()
    assert body["check_status"] == "unchecked"
    assert body["credits"] is None
    tasks.check_key(body["id"])
    (listed,) = alice_api.get(KEYS).json()
    assert listed["check_status"] == "checked"
    assert listed["credits"] == 55
