"""Vendor keys: what a key must look like, adding, changing and deleting one (each written to the
audit log), and counting a job's credits against a key's monthly cap.

The vault page, the API and the admin all take the rules from here. A secret goes in and never
comes back out: it is encrypted at once (``VendorKey.set_secret``), and the audit log keeps the
vendor, the label and the last four characters, never the key.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import audit, periods, quotas
from accounts.models import AuditAction, User
from editor import keycheck
from editor.models import Job, KeyCheck, Vendor, VendorKey, plain_text

SECRET_MIN = 8
SECRET_MAX = 512
# Visible ASCII only: vendors send keys in HTTP headers, and a pasted key with a space, a line
# break or a "smart" character in it is a copying mistake, not a key.
SECRET_CHARACTERS = re.compile(r"[!-~]+")
# The database column is a 32-bit integer; no vendor account holds anywhere near this many.
CAP_MAX = 1_000_000_000
DUPLICATE_LABEL = gettext_lazy("Another of your %(vendor)s keys already has this label.")


class KeyRefused(Exception):
    """A key change that cannot be made; ``field`` names the input that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def secret_widget() -> forms.PasswordInput:
    """Every form that takes a secret (the vault, the admin): never rendered back, never
    remembered or corrected by the browser."""
    return forms.PasswordInput(
        render_value=False,
        attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off"},
    )


def clean_secret(secret: str) -> str:
    if len(secret) < SECRET_MIN:
        raise forms.ValidationError(
            _("An API key has at least %(min)d characters.") % {"min": SECRET_MIN}
        )
    if len(secret) > SECRET_MAX:
        raise forms.ValidationError(
            _("An API key has at most %(max)d characters.") % {"max": SECRET_MAX}
        )
    if not SECRET_CHARACTERS.fullmatch(secret):
        raise forms.ValidationError(
            _("An API key has only visible characters, without spaces. Paste it again.")
        )
    return secret


def duplicate_label(vendor: str) -> str:
    return DUPLICATE_LABEL % {"vendor": Vendor(vendor).label}


def label_taken(
    owner_id: int | None, vendor: str, label: str, *, but: VendorKey | None = None
) -> bool:
    keys = VendorKey.objects.filter(owner_id=owner_id, vendor=vendor, label=label)
    if but is not None:
        keys = keys.exclude(pk=but.pk)
    return keys.exists()


def default_label(owner: User, vendor: str) -> str:
    """``"AILabTools key"``, or ``"AILabTools key 2"`` and so on when that one is taken."""
    base = _("%(vendor)s key") % {"vendor": Vendor(vendor).label}
    taken = set(
        VendorKey.objects.filter(owner=owner, vendor=vendor).values_list("label", flat=True)
    )
    label, number = base, 1
    while label in taken:
        number += 1
        label = f"{base} {number}"
    return label


def details(key: VendorKey, **extra: Any) -> dict[str, Any]:
    """What the audit log keeps about a person's key: never the key itself, nor its ciphertext."""
    return {
        "vendor": key.vendor,
        "label": key.label,
        "last_four": key.last_four,
        "monthly_credit_cap": key.monthly_credit_cap,
        **extra,
    }


def add(
    owner: User,
    *,
    vendor: str,
    label: str,
    secret: str,
    monthly_credit_cap: int | None,
    request: HttpRequest,
) -> VendorKey:
    """A new key of the person's, recorded in the audit log. ``label`` empty: a default one.
    Raises KeyRefused for a secret that cannot be a key, one its vendor refuses
    (editor.keycheck), or a label already taken (also when another request takes it at the
    same moment)."""
    try:
        clean_secret(secret)
    except forms.ValidationError as error:
        raise KeyRefused("secret", " ".join(error.messages)) from None
    label = plain_text(label).strip() or default_label(owner, vendor)
    if label_taken(owner.pk, vendor, label):
        raise KeyRefused("label", duplicate_label(vendor))
    outcome = check_with_vendor(vendor, secret)
    key = VendorKey(owner=owner, vendor=vendor, label=label, monthly_credit_cap=monthly_credit_cap)
    key.set_secret(secret)
    now = timezone.now()
    keycheck.record(key, outcome, now)
    try:
        with transaction.atomic():
            key.save()
            audit.record(AuditAction.KEY_ADDED, key, request=request, details=details(key))
    except IntegrityError:
        raise KeyRefused("label", duplicate_label(vendor)) from None
    keycheck.remember_credits(key, outcome, now)
    return key


def check_with_vendor(vendor: str, secret: str) -> keycheck.Outcome:
    """The vendor's word on a secret about to be saved; raises KeyRefused with the vendor's
    reason when it refuses the key, so a wrong key is never saved."""
    outcome = keycheck.ask(vendor, secret)
    if outcome.status == KeyCheck.REFUSED:
        raise KeyRefused("secret", outcome.reason)
    return outcome


def change(
    key: VendorKey,
    *,
    label: str,
    monthly_credit_cap: int | None,
    secret: str = "",
    request: HttpRequest,
) -> None:
    """Relabel, re-cap and (with ``secret``) replace a key, recording each in the audit log:
    the secret replaced, and the label or cap changed (old and new values), one event each.
    Raises KeyRefused (and changes nothing) when the label is taken meanwhile or the vendor
    refuses the new secret."""
    outcome = check_with_vendor(key.vendor, secret) if secret else None
    changed: dict[str, list[Any]] = {}
    label = plain_text(label).strip() or key.label
    for name, after in (("label", label), ("monthly_credit_cap", monthly_credit_cap)):
        before = getattr(key, name)
        if before != after:
            changed[name] = [before, after]
    previous_last_four = key.last_four
    key.label = label
    key.monthly_credit_cap = monthly_credit_cap
    fields = ["label", "monthly_credit_cap"]
    if secret:
        key.set_secret(secret)
        # The old key's error says nothing about the new one.
        key.last_error = ""
        fields += ["ciphertext", "last_four", "last_error"]
    if outcome is not None:
        key.checked_at = key.checked_credits = None
        fields += keycheck.record(key, outcome, timezone.now())
        fields += ["checked_at", "checked_credits"]
        fields = list(dict.fromkeys(fields))
    try:
        with transaction.atomic():
            key.save(update_fields=fields)
            if secret:
                audit.record(
                    AuditAction.KEY_REPLACED,
                    key,
                    request=request,
                    details=details(key, previous_last_four=previous_last_four),
                )
            if changed:
                audit.record(
                    AuditAction.KEY_CHANGED,
                    key,
                    request=request,
                    details=details(key, changes=changed),
                )
    except IntegrityError:
        key.refresh_from_db()
        raise KeyRefused("label", duplicate_label(key.vendor)) from None


def delete(key: VendorKey, *, request: HttpRequest) -> None:
    with transaction.atomic():
        # Recorded first: the event keeps the key's id, which the delete clears.
        audit.record(AuditAction.KEY_DELETED, key, request=request, details=details(key))
        key.delete()


# --- A key's monthly credit cap --------------------------------------------------------------


def charge(key: VendorKey, credits: int, now: dt.datetime) -> None:
    """Count a job's credits on its key: one conditional UPDATE that refuses to pass the key's
    monthly cap (if it has one), after moving the key's count to this month. Raises
    quotas.QuotaExceeded ("key_cap") when the cap would be passed."""
    month = periods.month_of(now)
    VendorKey.objects.filter(pk=key.pk, credits_month__lt=month).update(
        credits_month=month, credits_this_month=0
    )
    if not credits:
        return
    charged = (
        VendorKey.objects.filter(pk=key.pk, credits_month=month)
        .filter(
            Q(monthly_credit_cap__isnull=True)
            | Q(monthly_credit_cap__gte=F("credits_this_month") + credits)
        )
        .update(credits_this_month=F("credits_this_month") + credits)
    )
    if charged:
        return
    key.refresh_from_db(fields=["monthly_credit_cap", "credits_month", "credits_this_month"])
    cap = key.monthly_credit_cap or 0
    resets = periods.next_month(month)
    values = {
        "needed": credits,
        "label": key.label,
        "vendor": key.get_vendor_display(),
        "left": max(0, cap - key.credits_this_month),
        "cap": cap,
        "time": quotas.when(resets),
    }
    if key.is_house_key:
        message = _(
            "This job needs %(needed)d credits and the studio's %(vendor)s key has %(left)d "
            "of its monthly %(cap)d left. It resets on %(time)s."
        )
    else:
        message = _(
            "This job needs %(needed)d credits and your key “%(label)s” has %(left)d of its "
            "monthly cap of %(cap)d left. The cap resets on %(time)s; you can raise it in your "
            "vault."
        )
    raise quotas.QuotaExceeded("key_cap", message % values, resets)


def refund(job: Job) -> None:
    """A job that did not succeed gives its credits back to its key, within the month they
    were counted in (like the quota's refund)."""
    if job.key_id is None or not job.credits:
        return
    VendorKey.objects.filter(
        pk=job.key_id,
        credits_month=job.charged_on.replace(day=1),
        credits_this_month__gte=job.credits,
    ).update(credits_this_month=F("credits_this_month") - job.credits)
