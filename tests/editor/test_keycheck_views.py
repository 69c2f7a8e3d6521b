"""The vault page and the admin with keys checked on entry (editor.keycheck), against the
sandbox over HTTP: a wrong key is a field error in the vendor's words and is not saved; a saved
key's row says what the vendor said."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from editor import keycheck
from editor.models import KeyCheck, VendorKey
from tests.pages import HTMX
from tests.sandboxed import sandbox, sandboxed  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandboxed")]

WRONG = "sandbox-fault-error-ERROR_APPLICATIONS_NOT_EXISTS-page"
DOWN = "sandbox-fault-http-503-page"


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def add(client: Client, secret: str, vendor: str = "ailabtools") -> str:
    response = client.post(
        reverse("editor:vault_add"), {"vendor": vendor, "label": "Work", "secret": secret}, **HTMX
    )
    assert response.status_code == 200
    return response.content.decode()


def test_a_wrong_key_is_refused_with_the_vendors_reason(alice_client: Client) -> None:
    content = add(alice_client, WRONG)
    assert "AILabTools did not accept your API key" in content
    assert 'aria-invalid="true"' in content
    assert WRONG not in content
    assert not VendorKey.objects.exists()


def test_a_good_key_shows_its_credits(alice_client: Client) -> None:
    content = add(alice_client, "sandbox-credits-5000-page")
    assert "Checked, 5,000 credits" in content
    assert 'data-check="checked"' in content
    assert VendorKey.objects.get().check_status == KeyCheck.CHECKED


def test_an_unreachable_vendor_saves_the_key_not_checked_yet(alice_client: Client) -> None:
    content = add(alice_client, DOWN)
    assert "Not checked yet." in content
    assert "could not be reached" in content
    key = VendorKey.objects.get()
    assert key.check_status == KeyCheck.UNCHECKED
    # A later check that the vendor answers shows on the page.
    VendorKey.objects.filter(pk=key.pk).update(check_status=KeyCheck.UNCHECKED)
    outcome = keycheck.Outcome(KeyCheck.CHECKED, credits=12)
    fields = keycheck.record(key, outcome, key.created_at)
    key.save(update_fields=fields)
    page = alice_client.get(reverse("editor:vault")).content.decode()
    assert "Checked, 12 credits" in page


def test_a_picwish_key_says_it_cannot_be_checked_before_use(alice_client: Client) -> None:
    content = add(alice_client, "pw-key-0123456789", vendor="picwish")
    assert "be checked before use" in content
    assert VendorKey.objects.get().check_status == KeyCheck.UNCHECKABLE


def test_replacing_with_a_wrong_key_keeps_the_old_one(alice_client: Client) -> None:
    add(alice_client, "sandbox-credits-80-first")
    key = VendorKey.objects.get()
    response = alice_client.post(
        reverse("editor:vault_edit", args=[key.pk]),
        {"label": "Work", "secret": WRONG},
        **HTMX,
    )
    assert "AILabTools did not accept your API key" in response.content.decode()
    key.refresh_from_db()
    assert key.checked_credits == 80
    assert key.last_four == "irst"


def test_the_admin_refuses_a_wrong_house_key(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("admin:editor_vendorkey_add"),
        {"vendor": "ailabtools", "label": "House", "secret": WRONG},
    )
    assert response.status_code == 200
    assert "AILabTools did not accept your API key" in response.content.decode()
    assert not VendorKey.objects.exists()

    response = admin_client.post(
        reverse("admin:editor_vendorkey_add"),
        {"vendor": "ailabtools", "label": "House", "secret": "sandbox-credits-900-house"},
    )
    assert response.status_code == 302
    key = VendorKey.objects.get()
    assert key.check_status == KeyCheck.CHECKED
    assert key.checked_credits == 900
