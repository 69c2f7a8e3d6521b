from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import vault
from editor.models import Vendor, VendorKey

SECRET = "sk-live-0123456789abcdef"


def _new_key() -> str:
    return Fernet.generate_key().decode()


def test_encrypt_then_decrypt_gives_the_secret_back(settings: SettingsWrapper) -> None:
    settings.VAULT_KEYS = [_new_key()]
    token = vault.encrypt(SECRET)
    assert SECRET not in token
    assert vault.decrypt(token) == SECRET


def test_each_encryption_is_different(settings: SettingsWrapper) -> None:
    settings.VAULT_KEYS = [_new_key()]
    assert vault.encrypt(SECRET) != vault.encrypt(SECRET)


def test_an_old_key_still_decrypts_until_rotation_and_not_after(
    settings: SettingsWrapper,
) -> None:
    old, new = _new_key(), _new_key()
    settings.VAULT_KEYS = [old]
    token = vault.encrypt(SECRET)

    settings.VAULT_KEYS = [new, old]
    assert vault.decrypt(token) == SECRET
    rotated = vault.rotate(token)
    assert rotated != token

    settings.VAULT_KEYS = [new]
    assert vault.decrypt(rotated) == SECRET
    with pytest.raises(vault.VaultError):
        vault.decrypt(token)


def test_the_first_key_encrypts(settings: SettingsWrapper) -> None:
    first, second = _new_key(), _new_key()
    settings.VAULT_KEYS = [first, second]
    token = vault.encrypt(SECRET)
    settings.VAULT_KEYS = [first]
    assert vault.decrypt(token) == SECRET


def test_a_foreign_token_is_a_vault_error(settings: SettingsWrapper) -> None:
    foreign = Fernet(_new_key()).encrypt(SECRET.encode()).decode()
    settings.VAULT_KEYS = [_new_key()]
    with pytest.raises(vault.VaultError) as raised:
        vault.decrypt(foreign)
    assert SECRET not in str(raised.value)
    with pytest.raises(vault.VaultError):
        vault.rotate(foreign)


def test_garbage_is_a_vault_error() -> None:
    with pytest.raises(vault.VaultError):
        vault.decrypt("not a fernet token")


@pytest.mark.django_db
def test_a_key_stores_ciphertext_and_last_four_and_never_shows_the_secret(alice: User) -> None:
    key = VendorKey(owner=alice, vendor=Vendor.PICWISH, label="Work")
    key.set_secret(SECRET)
    key.save()
    key.refresh_from_db()

    assert key.last_four == "cdef"
    assert key.masked == "••••cdef"
    assert SECRET not in key.ciphertext
    assert vault.decrypt(key.ciphertext) == SECRET
    assert SECRET not in str(key)
    assert SECRET not in repr(key)
    assert "••••cdef" in str(key)
