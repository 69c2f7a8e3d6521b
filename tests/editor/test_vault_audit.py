"""Every vault action is written to the audit log (who, what, which key: vendor, label, last
four), and no field of any event ever holds the key or its ciphertext."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent, User
from editor.models import Vendor, VendorKey
from tests.factories import OTHER_SECRET, SECRET, make_key
from tests.pages import HTMX

pytestmark = pytest.mark.django_db


def assert_no_secret(*secrets: str) -> None:
    """No field of any audit event holds any of the secrets or ciphertexts given."""
    assert AuditEvent.objects.exists()
    for event in AuditEvent.objects.all():
        for field in AuditEvent._meta.concrete_fields:
            value = getattr(event, field.attname)
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            for secret in secrets:
                assert secret not in text, f"{field.name} of {event} holds a secret"


def only_event() -> AuditEvent:
    event: AuditEvent = AuditEvent.objects.get()
    return event


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_adding_a_key_is_recorded(
    alice_client: Client, alice: User, headers: dict[str, Any]
) -> None:
    alice_client.post(
        reverse("editor:vault_add"),
        {"vendor": Vendor.AILABTOOLS, "label": "Work", "secret": SECRET, "monthly_credit_cap": "9"},
        REMOTE_ADDR="203.0.113.7",
        **headers,
    )
    key = VendorKey.objects.get()
    event = only_event()
    assert event.action == AuditAction.KEY_ADDED
    assert (event.actor, event.actor_name) == (alice, "alice")
    assert (event.target_type, event.target_id) == ("editor.VendorKey", str(key.pk))
    assert event.details == {
        "vendor": "ailabtools",
        "label": "Work",
        "last_four": SECRET[-4:],
        "monthly_credit_cap": 9,
    }
    assert event.ip == "203.0.113.7"
    assert_no_secret(SECRET, key.ciphertext)


def test_a_refused_add_records_nothing(alice_client: Client) -> None:
    alice_client.post(reverse("editor:vault_add"), {"vendor": "nope", "secret": SECRET})
    assert not AuditEvent.objects.exists()


def test_replacing_the_secret_is_recorded_without_either_secret(
    alice_client: Client, alice: User
) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    old_ciphertext = key.ciphertext
    alice_client.post(
        reverse("editor:vault_edit", args=[key.pk]), {"label": "Work", "secret": OTHER_SECRET}
    )
    key.refresh_from_db()
    event = only_event()
    assert event.action == AuditAction.KEY_REPLACED
    assert event.details["last_four"] == OTHER_SECRET[-4:]
    assert event.details["previous_last_four"] == SECRET[-4:]
    assert_no_secret(SECRET, OTHER_SECRET, old_ciphertext, key.ciphertext)


def test_changing_label_and_cap_is_recorded_with_old_and_new_values(
    alice_client: Client, alice: User
) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    alice_client.post(
        reverse("editor:vault_edit", args=[key.pk]),
        {"label": "Personal", "monthly_credit_cap": "40"},
        **HTMX,
    )
    event = only_event()
    assert event.action == AuditAction.KEY_CHANGED
    assert event.details["changes"] == {
        "label": ["Work", "Personal"],
        "monthly_credit_cap": [None, 40],
    }
    assert event.details["label"] == "Personal"
    assert_no_secret(SECRET, key.ciphertext)


def test_replacing_and_relabelling_at_once_records_both(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    alice_client.post(
        reverse("editor:vault_edit", args=[key.pk]), {"label": "New", "secret": OTHER_SECRET}
    )
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        AuditAction.KEY_REPLACED,
        AuditAction.KEY_CHANGED,
    }
    key.refresh_from_db()
    assert_no_secret(SECRET, OTHER_SECRET, key.ciphertext)


def test_saving_an_unchanged_key_records_nothing(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    alice_client.post(reverse("editor:vault_edit", args=[key.pk]), {"label": "Work"})
    assert not AuditEvent.objects.exists()


def test_deleting_a_key_is_recorded_and_outlives_it(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Old")
    key_id, ciphertext = key.pk, key.ciphertext
    alice_client.post(reverse("editor:vault_delete", args=[key.pk]), **HTMX)
    assert not VendorKey.objects.filter(pk=key_id).exists()
    event = only_event()
    assert event.action == AuditAction.KEY_DELETED
    assert event.target_id == str(key_id)
    assert event.details == {
        "vendor": "ailabtools",
        "label": "Old",
        "last_four": SECRET[-4:],
        "monthly_credit_cap": None,
    }
    assert "Old" in event.target_label
    assert_no_secret(SECRET, ciphertext)


def test_someone_elses_key_records_nothing(client: Client, alice: User, bob: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    client.force_login(bob)
    client.post(reverse("editor:vault_delete", args=[key.pk]))
    client.post(reverse("editor:vault_edit", args=[key.pk]), {"label": "Mine now"})
    assert not AuditEvent.objects.exists()
