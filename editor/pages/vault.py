"""The key vault page: a person's vendor API keys, added, relabelled, capped, replaced and
deleted.

Every action works by HTMX (the view renders one fragment of ``editor/vault.html``) and as a plain
form post (a Django message and a redirect back to the page). A secret goes in and never comes
back out: forms never render it, and pages show only ``VendorKey.masked``. The rules and the
audit log entries are editor.keys', shared with the API. The studio's house keys (no owner) are
the admins' and never appear here.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts import periods
from accounts.http import AuthenticatedHttpRequest, HtmxHttpRequest
from accounts.models import User
from editor import access, keys
from editor.models import Vendor, VendorKey

TEMPLATE = "editor/vault.html"


def _cap_field() -> forms.IntegerField:
    return forms.IntegerField(
        label=gettext_lazy("Monthly credit cap"),
        required=False,
        min_value=1,
        max_value=keys.CAP_MAX,
        help_text=gettext_lazy(
            "Optional: jobs stop using this key once they would spend more vendor credits "
            "than this in a calendar month."
        ),
    )


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
        max_length=keys.SECRET_MAX,
        widget=keys.secret_widget(),
        help_text=gettext_lazy("Stored encrypted. Only its last four characters are shown again."),
    )
    monthly_credit_cap = _cap_field()

    def __init__(self, owner: User, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "vault-add-%s")
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_secret(self) -> str:
        return keys.clean_secret(self.cleaned_data["secret"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        vendor = cleaned.get("vendor")
        if vendor is None or "label" not in cleaned:
            return cleaned
        if not cleaned["label"]:
            cleaned["label"] = keys.default_label(self.owner, vendor)
        elif keys.label_taken(self.owner.pk, vendor, cleaned["label"]):
            self.add_error("label", keys.duplicate_label(vendor))
        return cleaned

    def save(self, request: AuthenticatedHttpRequest) -> VendorKey | None:
        """The new key, or None (with an error on the form) if another request took the label."""
        try:
            return keys.add(
                self.owner,
                vendor=self.cleaned_data["vendor"],
                label=self.cleaned_data["label"],
                secret=self.cleaned_data["secret"],
                monthly_credit_cap=self.cleaned_data.get("monthly_credit_cap"),
                request=request,
            )
        except keys.KeyRefused as refused:
            self.add_error(refused.field, refused.message)
            return None


class EditKeyForm(forms.Form):
    label = forms.CharField(label=gettext_lazy("Label"), max_length=100)
    secret = forms.CharField(
        label=gettext_lazy("New API key"),
        max_length=keys.SECRET_MAX,
        required=False,
        widget=keys.secret_widget(),
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
        if keys.label_taken(self.key.owner_id, self.key.vendor, label, but=self.key):
            raise forms.ValidationError(keys.duplicate_label(self.key.vendor))
        return label

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data["secret"]
        return keys.clean_secret(secret) if secret else ""

    @property
    def replaces_secret(self) -> bool:
        return bool(self.cleaned_data.get("secret"))

    def save(self, request: AuthenticatedHttpRequest) -> bool:
        """Save the edit (recorded in the audit log); False, with an error on the form, when
        another request took the label meanwhile."""
        try:
            keys.change(
                self.key,
                label=self.cleaned_data["label"],
                monthly_credit_cap=self.cleaned_data.get("monthly_credit_cap"),
                secret=self.cleaned_data.get("secret", ""),
                request=request,
            )
        except keys.KeyRefused as refused:
            self.add_error(refused.field, refused.message)
            return False
        return True


def _keys(user: User) -> QuerySet[VendorKey]:
    """The person's own keys, each with ``month_credits``: the credits its jobs were charged
    this month (the stored count belongs to an earlier month once a new one starts)."""
    month = periods.month_of(timezone.now())
    return VendorKey.objects.filter(owner=user).annotate(
        month_credits=Case(
            When(credits_month=month, then=F("credits_this_month")),
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def _row(request: AuthenticatedHttpRequest, key: VendorKey) -> VendorKey:
    """The key again, as the list shows it (with this month's credits)."""
    return _keys(request.user).get(pk=key.pk)


def _page(request: AuthenticatedHttpRequest, **context: Any) -> HttpResponse:
    context.setdefault("form", AddKeyForm(request.user))
    return render(request, TEMPLATE, {"keys": _keys(request.user), **_month(), **context})


def _month() -> dict[str, Any]:
    """When the keys' monthly counts start again, for the key rows."""
    return {"caps_reset": periods.next_month(periods.month_of(timezone.now()))}


@require_GET
@login_required
def vault(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@login_required
@vary_on_headers("HX-Request")
@sensitive_post_parameters("secret")
def add_key(request: HtmxHttpRequest) -> HttpResponse:
    user = request.user
    form = AddKeyForm(user, request.POST)
    key = form.save(request) if form.is_valid() else None
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
@vary_on_headers("HX-Request")
def key_row(request: HtmxHttpRequest, key_id: uuid.UUID) -> HttpResponse:
    key = access.get_key_for_user(request.user, key_id)
    if not request.htmx:
        return redirect(f"{reverse('editor:vault')}#key-{key.pk}")
    return render(request, f"{TEMPLATE}#key_row", {"key": _row(request, key), **_month()})


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
@sensitive_post_parameters("secret")
def edit_key(request: HtmxHttpRequest, key_id: uuid.UUID) -> HttpResponse:
    key = access.get_key_for_user(request.user, key_id)
    if request.method == "POST":
        form = EditKeyForm(key, request.POST)
        if form.is_valid() and form.save(request):
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


@require_POST
@login_required
@vary_on_headers("HX-Request")
def delete_key(request: HtmxHttpRequest, key_id: uuid.UUID) -> HttpResponse:
    key = access.get_key_for_user(request.user, key_id)
    label = key.label
    keys.delete(key, request=request)
    notice = _("Key “%(label)s” deleted.") % {"label": label}
    if request.htmx:
        return render(
            request,
            f"{TEMPLATE}#keys",
            {"keys": _keys(request.user), "notice": notice, **_month()},
        )
    messages.success(request, notice)
    return redirect("editor:vault")
