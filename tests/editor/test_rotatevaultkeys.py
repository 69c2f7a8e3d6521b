from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import vault
from editor.models import ShareLink, Vendor, VendorKey
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def _add(owner: User, label: str, secret: str) -> VendorKey:
    key = VendorKey(owner=owner, vendor=Vendor.AILABTOOLS, label=label)
    key.set_secret(secret)
    key.save()
    return key


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rotatevaultkeys", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_rotates_every_key_to_the_newest_vault_key(
    settings: SettingsWrapper, alice: User, bob: User
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.VAULT_KEYS = [old]
    secrets = {f"key {n}": f"secret-number-{n:04d}" for n in range(5)}
    for label, secret in secrets.items():
        _add(alice if label.endswith(("1", "3")) else bob, label, secret)

    settings.VAULT_KEYS = [new, old]
    out, err = _run("--batch-size", "2")

    assert "Rotated 5 key(s); 0 could not be decrypted." in out
    settings.VAULT_KEYS = [new]
    for key in VendorKey.objects.all():
        assert vault.decrypt(key.ciphertext) == secrets[key.label]
    for secret in secrets.values():
        assert secret not in out + err


def test_counts_keys_it_cannot_decrypt_and_carries_on(
    settings: SettingsWrapper, alice: User
) -> None:
    lost, old, new = (Fernet.generate_key().decode() for _ in range(3))
    settings.VAULT_KEYS = [lost]
    orphan = _add(alice, "orphan", "secret-from-a-lost-key")
    settings.VAULT_KEYS = [old]
    good = [_add(alice, f"good {n}", f"secret-still-good-{n}") for n in range(3)]

    settings.VAULT_KEYS = [new, old]
    out, err = _run("--batch-size", "1", "-v", "2")

    assert "Rotated 3 key(s); 1 could not be decrypted." in out
    assert str(orphan.pk) in err
    orphan_before = orphan.ciphertext
    orphan.refresh_from_db()
    assert orphan.ciphertext == orphan_before
    settings.VAULT_KEYS = [new]
    for key in good:
        key.refresh_from_db()
        assert vault.decrypt(key.ciphertext).startswith("secret-still-good-")
    assert "secret-" not in out + err


def test_with_no_keys_says_so() -> None:
    out, _ = _run()
    assert "Rotated 0 key(s); 0 could not be decrypted." in out


def test_rotates_share_link_tokens_so_their_owners_can_still_copy_them(
    settings: SettingsWrapper, alice: User
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.VAULT_KEYS = [old]
    result = make_job(alice).results.get()
    links = [ShareLink.create(result, lifetime=None) for _ in range(3)]

    settings.VAULT_KEYS = [new, old]
    out, err = _run("--batch-size", "2")

    assert "Rotated 3 share link(s); 0 could not be decrypted." in out
    settings.VAULT_KEYS = [new]
    for link, token in links:
        link.refresh_from_db()
        assert link.token == token
        assert ShareLink.find(token) == link
        assert token not in out + err
