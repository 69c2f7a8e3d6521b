"""/api/v1/keys: the caller's vault keys, added and deleted as on the vault page; the secret
never comes back out, nor reaches the audit log or the logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from accounts.models import AuditAction, AuditEvent, User
from api.models import ApiToken
from editor import vault
from editor.models import VendorKey
from tests.api.conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db

SECRET = "sk-live-0123456789abcdefWXYZ"
KEYS = "/api/v1/keys"


def add(client: ApiClient, **body: object) -> Any:
    payload = {"vendor": "picwish", "secret": SECRET, **body}
    return client.post(KEYS, json.dumps(payload), content_type="application/json")


def house_key() -> VendorKey:
    key = VendorKey(owner=None, vendor="ailabtools", label="House")
    key.set_secret("house-secret-123456")
    key.save()
    return key


def test_adding_a_key_answers_201_without_the_secret(
    alice_api: ApiClient, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = add(alice_api, label="Work", monthly_credit_cap=50)
    assert response.status_code == 201
    body = response.json()
    key = VendorKey.objects.get(owner=alice)
    assert body["id"] == str(key.pk)
    assert body["vendor"] == "picwish"
    assert body["label"] == "Work"
    assert body["last_four"] == "WXYZ"
    assert body["masked"] == key.masked
    assert body["monthly_credit_cap"] == 50
    assert vault.decrypt(key.ciphertext) == SECRET
    assert SECRET not in response.content.decode()
    assert "ciphertext" not in body
    event = AuditEvent.objects.get(action=AuditAction.KEY_ADDED)
    assert event.details["label"] == "Work"
    assert event.details["last_four"] == "WXYZ"
    assert SECRET not in json.dumps(event.details) + event.target_label
    assert SECRET not in caplog.text


def test_an_empty_label_gets_the_vaults_default(alice_api: ApiClient) -> None:
    assert add(alice_api).json()["label"] == "PicWish key"
    assert add(alice_api, secret="another-key-9999").json()["label"] == "PicWish key 2"


def test_a_taken_label_is_422(alice_api: ApiClient, alice: User) -> None:
    assert add(alice_api, label="Work").status_code == 201
    response = add(alice_api, label="Work", secret="different-secret-1")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert "already has this label" in response.json()["message"]
    assert VendorKey.objects.filter(owner=alice).count() == 1


@pytest.mark.parametrize("secret", ["short", "has a space in it", "x" * 513])
def test_a_bad_secret_is_422_and_not_echoed(alice_api: ApiClient, secret: str) -> None:
    response = add(alice_api, secret=secret)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert secret not in response.content.decode()
    assert not VendorKey.objects.exists()


def test_an_unknown_vendor_is_422(alice_api: ApiClient) -> None:
    assert add(alice_api, vendor="openai").status_code == 422


def test_the_list_has_only_the_callers_keys_and_no_house_keys(
    alice_api: ApiClient, bob_api: ApiClient
) -> None:
    house_key()
    add(alice_api, label="Mine")
    listed = alice_api.get(KEYS)
    assert listed.status_code == 200
    assert [key["label"] for key in listed.json()] == ["Mine"]
    assert SECRET not in listed.content.decode()
    assert "house-secret" not in listed.content.decode()
    assert set(listed.json()[0]) == {
        "id",
        "vendor",
        "label",
        "masked",
        "last_four",
        "created_at",
        "last_used_at",
        "last_error",
        "monthly_credit_cap",
        "check_status",
        "checked_at",
        "credits",
    }
    assert bob_api.get(KEYS).json() == []


def test_deleting_a_key(alice_api: ApiClient, alice: User) -> None:
    key_id = add(alice_api).json()["id"]
    response = alice_api.delete(f"{KEYS}/{key_id}")
    assert response.status_code == 204
    assert not VendorKey.objects.filter(owner=alice).exists()
    event = AuditEvent.objects.get(action=AuditAction.KEY_DELETED)
    assert event.target_id == key_id
    assert SECRET not in json.dumps(event.details)
    assert alice_api.delete(f"{KEYS}/{key_id}").status_code == 404


def test_someone_elses_key_is_404(alice_api: ApiClient, bob_api: ApiClient) -> None:
    key_id = add(alice_api).json()["id"]
    response = bob_api.delete(f"{KEYS}/{key_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert VendorKey.objects.filter(pk=key_id).exists()


def test_a_house_key_cannot_be_deleted(alice_api: ApiClient) -> None:
    key = house_key()
    assert alice_api.delete(f"{KEYS}/{key.pk}").status_code == 404
    assert VendorKey.objects.filter(pk=key.pk).exists()


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_no_token_or_a_revoked_one_is_401(alice: User, method: str) -> None:
    key = VendorKey(owner=alice, vendor="picwish", label="Mine")
    key.set_secret(SECRET)
    key.save()
    token = token_for(alice)
    ApiToken.objects.get().revoke()
    for client in (ApiClient(None), ApiClient(token)):
        if method == "get":
            response = client.get(KEYS)
        elif method == "post":
            response = add(client)
        else:
            response = client.delete(f"{KEYS}/{key.pk}")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"
    assert VendorKey.objects.filter(owner=alice).count() == 1


def test_a_label_with_a_nul_byte_is_refused(alice: User, alice_api: ApiClient) -> None:
    payload = {"vendor": "picwish", "secret": "sandbox-secret-1234", "label": "mine\x00"}
    response = alice_api.post(KEYS, json.dumps(payload), content_type="application/json")
    assert response.status_code == 422
    assert not VendorKey.objects.exists()
