"""The remaining vendor credits of a person's AILabTools keys, as the vault shows them.

Keys are decrypted only in a worker (ARCHITECTURE.md), so the web process never asks the vendor
itself: the vault's fragment (editor.pages.credits) asks for a check once (``request_check``),
the ``check_credits`` task runs ``check`` in a worker, which queries the vendor
(vendor-contracts.md §1.5) and leaves the figure in the cache for ``CREDITS_CACHE_SECONDS``, and
the fragment polls until the figure is there.

Cache entries are named by the key's id and a digest of its ciphertext, so replacing a key's
secret starts a fresh check instead of showing the old key's balance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from editor import vault
from editor.models import Vendor, VendorKey
from editor.vendors.ailabtools.adapter import AILabToolsAdapter
from editor.vendors.base import VendorError, adapter_for

CHECK_TASK = "editor.tasks.check_credits"
# PicWish documents no credit query (vendor-contracts.md §6): its keys show nothing.
CHECKABLE_VENDORS = frozenset({Vendor.AILABTOOLS})
# Vendor codes that mean the key itself was refused (§1.3: 401 and 403).
REFUSED_CODES = frozenset(
    {"ERROR_APPLICATIONS_NOT_EXISTS", "ERROR_USER_NOT_EXISTS", "ERROR_USER_LOCKED"}
)
# A check nobody answered within this many seconds (no worker running, a vendor that hangs)
# stops the fragment's polling; the person can ask again.
WAIT_SECONDS = 30
# How long a requested check blocks another request for the same key.
PENDING_SECONDS = 120
# A temporary failure (a timeout, the vendor busy) is remembered only this long.
RETRY_SECONDS = 60

OK = "ok"
REFUSED = "refused"  # the vendor does not accept the key
UNREADABLE = "unreadable"  # the vault cannot decrypt it (VAULT_KEYS changed)
FAILED = "failed"  # anything else; ``message`` says what


@dataclass(frozen=True)
class Figure:
    """What the last check found."""

    outcome: str
    checked_at: dt.datetime
    balance: int = 0
    total: int | None = None
    message: str = ""  # for FAILED: the adapter's message, which never holds the key

    @classmethod
    def from_cache(cls, value: object) -> Figure | None:
        if not isinstance(value, dict):
            return None
        try:
            return cls(**value)
        except TypeError:  # an entry written by an older shape of this class
            return None

    def to_cache(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "checked_at": self.checked_at,
            "balance": self.balance,
            "total": self.total,
            "message": self.message,
        }


def _name(key: VendorKey, kind: str) -> str:
    version = hashlib.sha256(key.ciphertext.encode()).hexdigest()[:16]
    return f"vendor-credits:{kind}:{key.pk}:{version}"


def cached(key: VendorKey) -> Figure | None:
    return Figure.from_cache(cache.get(_name(key, "figure")))


def pending_since(key: VendorKey) -> float | None:
    """When a check of this key was requested (Unix time), if one is under way."""
    value = cache.get(_name(key, "pending"))
    return float(value) if isinstance(value, int | float) else None


def request_check(key: VendorKey) -> bool:
    """Ask a worker to check the key, unless a check is already under way. Returns whether a
    task was sent."""
    if not cache.add(_name(key, "pending"), time.time(), timeout=PENDING_SECONDS):
        return False
    # Sent by name: editor.tasks imports this module, not the other way round.
    current_app.send_task(CHECK_TASK, (str(key.pk),))
    return True


def remember(key: VendorKey, figure: Figure) -> None:
    """Keep a figure read elsewhere (a key checked as it was saved, editor.keycheck)."""
    cache.set(_name(key, "figure"), figure.to_cache(), timeout=settings.CREDITS_CACHE_SECONDS)


def forget(key: VendorKey) -> None:
    """Drop what is known, so the next look asks the vendor again."""
    cache.delete_many([_name(key, "figure"), _name(key, "pending")])


def check(key_id: str) -> Figure | None:
    """In a worker: ask the vendor what the key has left and cache the answer. None when the
    key is gone or its vendor has no credit query."""
    key = VendorKey.objects.filter(pk=key_id, vendor__in=CHECKABLE_VENDORS).first()
    if key is None:
        return None
    now = timezone.now()
    keep = settings.CREDITS_CACHE_SECONDS
    try:
        # The only place this module decrypts a key: in the worker, right before the call.
        balance = adapter_for(AILabToolsAdapter, vault.decrypt(key.ciphertext)).query_credits()
    except vault.VaultError:
        figure = Figure(UNREADABLE, now)
    except VendorError as error:
        if error.code in REFUSED_CODES:
            figure = Figure(REFUSED, now)
        else:
            figure = Figure(FAILED, now, message=error.message)
            if error.retryable:
                keep = min(keep, RETRY_SECONDS)
    else:
        pool = balance.universal
        figure = Figure(
            OK, now, balance=pool.balance if pool else 0, total=pool.total if pool else None
        )
    cache.set(_name(key, "figure"), figure.to_cache(), timeout=keep)
    cache.delete(_name(key, "pending"))
    return figure
