"""A key checked with its vendor when it is saved, and again later when the vendor could not be
reached then.

Saving a key (editor.keys) makes one cheap authenticated call where the vendor has one:
AILabTools' credit query (vendor-contracts.md §1.5), which costs nothing and answers 401 for a
wrong key. PicWish documents no call that reads an account or checks a key without running (and
paying for) a task (§6), so its keys are marked "can't be checked before use" rather than
guessed at. The check at save time runs in the web process on the secret the person just typed,
before it is encrypted: nothing is decrypted there (ARCHITECTURE.md), and the call has the short
``CallKind.CHECK`` budget so a slow vendor holds the page for seconds, not minutes.

A vendor that cannot be reached (a timeout, a refused connection, a 5xx, its rate limit) does
not refuse the key: it is saved "not checked yet" and checked again by the worker, from the
periodic ``recheck_keys`` task and when a job next uses it. Tasks carry the key's id, never the
key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from celery import current_app
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import languages
from editor import credits, outbound, vault
from editor.models import KeyCheck, Vendor, VendorKey
from editor.vendors.ailabtools.adapter import AILabToolsAdapter
from editor.vendors.base import VendorError, adapter_for
from editor.vendors.http import CallKind
from limiter import core as limiter

CHECK_TASK = "editor.tasks.check_key"
CHECKABLE_VENDORS = frozenset({Vendor.AILABTOOLS})
# Keys sent for a check per run of the periodic task: a backlog drains over several runs.
RECHECK_BATCH = 200
# How long one requested check stands for every other request of the same key.
PENDING_SECONDS = 60


@dataclass(frozen=True)
class Outcome:
    """What one check found. ``reason``: the vendor's words for a refusal, or why the vendor
    could not be asked (never the key)."""

    status: KeyCheck
    credits: int | None = None
    total: int | None = None
    reason: str = ""


def ask(vendor: str, secret: str) -> Outcome:
    """Ask the vendor about ``secret``: CHECKED with its credits, REFUSED with the vendor's
    reason, UNCHECKED when it could not be asked now, UNCHECKABLE for a vendor with no check."""
    if vendor not in CHECKABLE_VENDORS:
        return Outcome(KeyCheck.UNCHECKABLE)
    # A check is a call like any other on this key: it waits its turn in the key's budget, and
    # when there is none now (jobs are using the key) it is simply done later.
    try:
        slot = limiter.take(outbound.vendor_budget(vendor, secret), outbound.vendor_rate(vendor))
    except limiter.StoreDown:
        return Outcome(KeyCheck.UNCHECKED, reason=_("The studio's rate limiter is unavailable."))
    if not slot.go:
        return Outcome(KeyCheck.UNCHECKED, reason=_("The key is busy with jobs."))
    try:
        balance = adapter_for(AILabToolsAdapter, secret).query_credits(kind=CallKind.CHECK)
    except VendorError as error:
        # The adapter's message never holds the key; for a refusal it carries the vendor's own
        # explanation (editor.vendors.ailabtools.errors).
        if error.code in credits.REFUSED_CODES:
            return Outcome(KeyCheck.REFUSED, reason=error.message)
        return Outcome(KeyCheck.UNCHECKED, reason=error.message)
    pool = balance.universal
    return Outcome(
        KeyCheck.CHECKED,
        credits=pool.balance if pool else 0,
        total=pool.total if pool else None,
    )


def record(key: VendorKey, outcome: Outcome, now: dt.datetime) -> list[str]:
    """Put ``outcome`` on ``key`` (unsaved); returns the fields changed."""
    key.check_status = outcome.status
    fields = ["check_status"]
    if outcome.status in (KeyCheck.CHECKED, KeyCheck.REFUSED):
        key.checked_at = now
        key.checked_credits = outcome.credits
        fields += ["checked_at", "checked_credits"]
    if outcome.status == KeyCheck.REFUSED:
        key.last_error = outcome.reason[:500]
        fields.append("last_error")
    return fields


def remember_credits(key: VendorKey, outcome: Outcome, now: dt.datetime) -> None:
    """Hand a balance just read to the vault's credit figure (editor.credits), so the row does
    not ask the vendor a second time right after the key was saved."""
    if outcome.status == KeyCheck.CHECKED and outcome.credits is not None:
        credits.remember(key, credits.Figure(credits.OK, now, outcome.credits, outcome.total))


def request(key_id: object) -> bool:
    """Ask a worker to check a key (by id), unless a check of it was asked for moments ago: a
    burst of jobs on one unchecked key asks once. Returns whether a task was sent."""
    if not cache.add(f"key-check:pending:{key_id}", 1, timeout=PENDING_SECONDS):
        return False
    current_app.send_task(CHECK_TASK, (str(key_id),))
    return True


def used(key: VendorKey) -> None:
    """A job just worked with ``key``. One saved "not checked yet" is checked now too (its next
    use). One a later check refused has just been accepted by the vendor after all (an account
    re-enabled since): the refusal is stale, so the key goes back to "not checked yet" and is
    checked again, rather than showing "refused" on a key that works. The job spent credits,
    so the balance kept from the last check is stale: the vault asks again."""
    credits.forget(key)
    if key.check_status == KeyCheck.REFUSED:
        VendorKey.objects.filter(pk=key.pk, check_status=KeyCheck.REFUSED).update(
            check_status=KeyCheck.UNCHECKED
        )
    elif key.check_status != KeyCheck.UNCHECKED:
        return
    request(key.pk)


def check_again(key_id: str) -> Outcome | None:
    """In a worker: check a key saved "not checked yet". None when it is gone, already
    checked, or cannot be decrypted (the vault says so on its own)."""
    key = VendorKey.objects.filter(pk=key_id, check_status=KeyCheck.UNCHECKED).first()
    if key is None:
        return None
    try:
        secret = vault.decrypt(key.ciphertext)
    except vault.VaultError:
        return None
    with languages.speaking_to(key.owner):  # the refusal's words are kept for the owner
        outcome = ask(key.vendor, secret)
    now = timezone.now()
    fields = record(key, outcome, now)
    # Only a key still unchecked with the same secret: a replaced secret was checked itself.
    VendorKey.objects.filter(
        pk=key.pk, check_status=KeyCheck.UNCHECKED, ciphertext=key.ciphertext
    ).update(**{name: getattr(key, name) for name in fields})
    remember_credits(key, outcome, now)
    return outcome


def recheck_due() -> int:
    """The periodic task: send a check for every key still "not checked yet" (a batch a run),
    but one already asked for moments ago. Returns how many were sent."""
    ids = list(
        VendorKey.objects.filter(check_status=KeyCheck.UNCHECKED, vendor__in=CHECKABLE_VENDORS)
        .order_by("created_at")
        .values_list("pk", flat=True)[:RECHECK_BATCH]
    )
    return sum(request(key_id) for key_id in ids)
