"""The only module that encrypts and decrypts vendor API keys.

MultiFernet over ``VAULT_KEYS`` (newest first): the first key encrypts, every key decrypts, and
``rotate`` re-encrypts under the first. ``SECRET_KEY`` is never used, so rotating one does not
touch the other. Decryption happens only in the worker, right before a vendor call.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class VaultError(Exception):
    """A stored key could not be decrypted (VAULT_KEYS lost or changed)."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.VAULT_KEYS))


def encrypt(secret: str) -> str:
    return _current().encrypt(secret.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise VaultError(
            "This key cannot be decrypted with the configured VAULT_KEYS; add it again."
        ) from None


def rotate(ciphertext: str) -> str:
    try:
        return _current().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        raise VaultError("A stored key cannot be decrypted with any of VAULT_KEYS.") from None
