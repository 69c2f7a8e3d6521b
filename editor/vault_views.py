"""The key vault page: a person's vendor API keys, added, relabelled, capped, replaced and
deleted.

Every action works by HTMX (the view renders one fragment of ``editor/vault.html``) and as a plain
form post (a Django message and a redirect back to the page). A secret goes in and never comes
back out: forms never render it, and pages show only ``VendorKey.masked``. Each action is written
to the audit log (accounts.audit) with the key's vendor, label and last four characters, never
the key. The studio's house keys (no owner) are the admins' and never appear here.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit, quotas
from accounts.models import AuditAction, User
from editor.models import Vendor, VendorKey
from editor.views import HtmxHttpRequest

TEMPLATE = "editor/vault.html"

SECRET_MIN = 8
SECRET_MAX = 512
# Visible ASCII only: vendors send keys in HTTP headers, and a pasted key with a space, a line
# break or a "smart" character in it is a copying mistake, not a key.
SECRET_CHARACTERS = re.compile(r"[!-~]+")
DUPLICATE_LABEL = gettext_lazy("Another of your %(vendor)s keys already has this label.")


# The database column is a 32-bit integer; no vendor account holds anywhere near this many.
CAP_MAX = 1_000_000_000


def _cap_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=gettext_lazy("Monthly credit cap"),
        required=False,
        min_value=1,
        max_value=CAP_MAX,
        help_text=gettext_lazy(
            "Optional: jobs stop using this key once they would spend more vendor credits "
            "than this in a calendar month."
        ),
    )


def secret_widget() -> forms.PasswordInput:
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


class AddKeyForm(forms.Form):
    vendor = forms.ChoiceField(label=gettext_lazy("Vendor"), choices=Vendor.choices)
    label = forms.CharField(
        label=gettext_lazy("Label"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("Optional, to tell your keys apart, such as “Work”."),
    )
    secret = forms.CharField(
        label=gettext_lazy("API key"),
        max_length=SECRET_MAX,
        widget=secret_widget(),
        help_text=gettext_lazy("Stored encrypted. Only its last four characters are shown again."),
    )
    monthly_credit_cap = _cap_field()

    def __init__(self, owner: User, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "vault-add-%s")
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_secret(self) -> str:
        return clean_secret(self.cleaned_data["secret"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        vendor = cleaned.get("vendor")
        if vendor is None or "label" not in cleaned:
            return cleaned
        if not cleaned["label"]:
            cleaned["label"] = default_label(self.owner, vendor)
        elif VendorKey.objects.filter(
            owner=self.owner, vendor=vendor, label=cleaned["label"]
        ).exists():
            self.add_error("label", DUPLICATE_LABEL % {"vendor": Vendor(vendor).label})
        return cleaned

    def save(self) -> VendorKey | None:
        """The new key, or None (with an error on the form) if another request took the label."""
        key = VendorKey(
            owner=self.owner,
            vendor=self.cleaned_data["vendor"],
            label=self.cleaned_data["label"],
            monthly_credit_cap=self.cleaned_data.get("monthly_credit_cap"),
        )
        key.set_secret(self.cleaned_data["secret"])
        try:
            with transaction.atomic():
                key.save()
        except IntegrityError:
            self.add_error("label", DUPLICATE_LABEL % {"vendor": key.get_vendor_display()})
            return None
        return key


class EditKeyForm(forms.Form):
    label = forms.CharField(label=gettext_lazy("Label"), max_length=100)
    secret = forms.CharField(
        label=gettext_lazy("New API key"),
        max_length=SECRET_MAX,
        required=False,
        widget=secret_widget(),
        help_text=gettext_lazy("Leave blank to keep the current key."),
    )
    monthly_credit_cap = _cap_field()

    def __init__(self, key: VendorKey, *args: Any, **kwargs: Any) -> None:
        # Ids unique per key: several rows can be in edit mode beside the add form.
        kwargs.setdefault("auto_id", f"key-{key.pk}-%s")
        kwargs.setdefault(
            "initial", {"label": key.label, "monthly_credit_cap": key.monthly_credit_cap}
        )
        super().__init__(*args, **kwargs)
        self.key = key
        # The row has just turned into this form: put the cursor where the typing happens.
        self.fields["label"].widget.attrs["autofocus"] = True

    def clean_label(self) -> str:
        label: str = self.cleaned_data["label"]
        if (
            VendorKey.objects.filter(
                owner_id=self.key.owner_id, vendor=self.key.vendor, label=label
            )
            .exclude(pk=self.key.pk)
            .exists()
        ):
            raise forms.ValidationError(DUPLICATE_LABEL % {"vendor": self.key.get_vendor_display()})
        return label

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data["secret"]
        return clean_secret(secret) if secret else ""

    @property
    def replaces_secret(self) -> bool:
        return bool(self.cleaned_data.get("secret"))

    def save(self) -> bool:
        key = self.key
        # What changed, old and new, for the audit log (never the secret).
        self.changes: dict[str, list[Any]] = {}
        for name in ("label", "monthly_credit_cap"):
            before, after = getattr(key, name), self.cleaned_data.get(name)
            if before != after:
                self.changes[name] = [before, after]
        self.previous_last_four = key.last_four
        key.label = self.cleaned_data["label"]
        key.monthly_credit_cap = self.cleaned_data.get("monthly_credit_cap")
        fields = ["label", "monthly_credit_cap"]
        if self.replaces_secret:
            key.set_secret(self.cleaned_data["secret"])
            # The old key's error says nothing about the new one.
            key.last_error = ""
            fields += ["ciphertext", "last_four", "last_error"]
        try:
            with transaction.atomic():
                key.save(update_fields=fields)
        except IntegrityError:
            key.refresh_from_db()
            self.add_error("label", DUPLICATE_LABEL % {"vendor": key.get_vendor_display()})
            return False
        return True


def current_user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def get_key_for_user(request: HttpRequest, key_id: uuid.UUID) -> VendorKey:
    return get_object_or_404(VendorKey, pk=key_id, owner=current_user(request))


def _keys(user: User) -> QuerySet[VendorKey]:
    """The person's own keys, each with ``month_credits``: the credits its jobs were charged
    this month (the stored count belongs to an earlier month once a new one starts)."""
    month = quotas.month_of(timezone.now())
    return VendorKey.objects.filter(owner=user).annotate(
        month_credits=Case(
            When(credits_month=month, then=F("credits_this_month")),
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def _row(request: HttpRequest, key: VendorKey) -> VendorKey:
    """The key again, as the list shows it (with this month's credits)."""
    return _keys(current_user(request)).get(pk=key.pk)


def key_details(key: VendorKey, **extra: Any) -> dict[str, Any]:
    """What the audit log keeps about a key: never the key itself, nor its ciphertext."""
    return {
        "vendor": key.vendor,
        "label": key.label,
        "last_four": key.last_four,
        "monthly_credit_cap": key.monthly_credit_cap,
        **extra,
    }


def _page(request: HttpRequest, **context: Any) -> HttpResponse:
    user = current_user(request)
    context.setdefault("form", AddKeyForm(user))
    return render(request, TEMPLATE, {"keys": _keys(user), **_month(), **context})


def _month() -> dict[str, Any]:
    """When the keys' monthly counts start again, for the key rows."""
    return {"caps_reset": quotas.month_resets(quotas.month_of(timezone.now()))}


@require_GET
@login_required
def vault(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@login_required
@sensitive_post_parameters("secret")
def add_key(request: HtmxHttpRequest) -> HttpResponse:
    user = current_user(request)
    form = AddKeyForm(user, request.POST)
    with transaction.atomic():
        key = form.save() if form.is_valid() else None
        if key is not None:
            audit.record(AuditAction.KEY_ADDED, key, request=request, details=key_details(key))
    if key is None:
        if request.htmx:
            return render(request, f"{TEMPLATE}#add_form", {"form": form})
        return _page(request, form=form)
    notice = _("Key “%(label)s” saved. Only its last four characters are shown from now on.") % {
        "label": key.label
    }
    if request.htmx:
        # The fresh form replaces the old one; the list comes along out of band.
        return render(
            request,
            f"{TEMPLATE}#added",
            {"form": AddKeyForm(user), "keys": _keys(user), "notice": notice, **_month()},
        )
    messages.success(request, notice)
    return redirect("editor:vault")


@require_GET
@login_required
def key_row(request: HtmxHttpRequest, key_id: uuid.UUID) -> HttpResponse:
    key = get_key_for_user(request, key_id)
    if not request.htmx:
        return redirect(f"{reverse('editor:vault')}#key-{key.pk}")
    return render(request, f"{TEMPLATE}#key_row", {"key": _row(request, key), **_month()})


@require_http_methods(["GET", "POST"])
@login_required
@sensitive_post_parameters("secret")
def edit_key(request: HtmxHttpRequest, key_id: uuid.UUID) -> HttpResponse:
    key = get_key_for_user(request, key_id)
    if request.method == "POST":
        form = EditKeyForm(key, request.POST)
        if form.is_valid() and _save_and_record(request, form):
            if form.replaces_secret:
                notice = _("Key “%(label)s” replaced.") % {"label": key.label}
            else:
                notice = _("Key “%(label)s” saved.") % {"label": key.label}
            if request.htmx:
                return render(
                    request,
                    f"{TEMPLATE}#key_row",
                    {"key": _row(request, key), "row_notice": notice, **_month()},
                )
            messages.success(request, notice)
            return redirect("editor:vault")
    else:
        form = EditKeyForm(key)
    if request.htmx:
        return render(request, f"{TEMPLATE}#key_edit", {"key": key, "edit_form": form})
    return _page(request, editing=key, edit_form=form)


def _save_and_record(request: HttpRequest, form: EditKeyForm) -> bool:
    """Save an edit and write what it did to the audit log: the secret replaced, and the
    label or cap changed (old and new values), as one event each."""
    with transaction.atomic():
        if not form.save():
            return False
        key = form.key
        if form.replaces_secret:
            audit.record(
                AuditAction.KEY_REPLACED,
                key,
                request=request,
                details=key_details(key, previous_last_four=form.previous_last_four),
            )
        if form.changes:
            audit.record(
                AuditAction.KEY_CHANGED,
                key,
                request=request,
                details=key_details(key, changes=form.changes),
            )
    return True


@require_POST
@login_required
def delete_key(request: HtmxHttpRequest, key_id: uuid.UUID) -> HttpResponse:
    key = get_key_for_user(request, key_id)
    label = key.label
    with transaction.atomic():
        # Recorded first: the event keeps the key's id, which the delete clears.
        audit.record(AuditAction.KEY_DELETED, key, request=request, details=key_details(key))
        key.delete()
    notice = _("Key “%(label)s” deleted.") % {"label": label}
    if request.htmx:
        return render(
            request,
            f"{TEMPLATE}#keys",
            {"keys": _keys(current_user(request)), "notice": notice, **_month()},
        )
    messages.success(request, notice)
    return redirect("editor:vault")
