"""``/api/v1/keys``: the caller's own vendor keys, through the vault page's form and audit
details, so a key added here is checked and recorded exactly as one added on the page.

A secret goes in and never comes back: answers carry only ``masked`` and ``last_four``. The
studio's house keys (no owner) are the admins' and are never listed.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from accounts import audit
from accounts.models import AuditAction, User
from api.errors import ApiError, Error, not_found
from editor.models import Vendor, VendorKey
from editor.vault_views import CAP_MAX, SECRET_MAX, AddKeyForm, key_details

router = Router(tags=["keys"])


class KeyOut(Schema):
    id: uuid.UUID
    vendor: str
    label: str
    masked: str
    last_four: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    last_error: str
    monthly_credit_cap: int | None


class KeyIn(Schema):
    vendor: Vendor
    secret: str = Field(..., max_length=SECRET_MAX, json_schema_extra={"writeOnly": True})
    label: str = Field("", max_length=100, description="Optional; like “PicWish key 2” if empty.")
    monthly_credit_cap: int | None = Field(None, ge=1, le=CAP_MAX)


def current_user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def describe(key: VendorKey) -> KeyOut:
    return KeyOut(
        id=key.pk,
        vendor=key.vendor,
        label=key.label,
        masked=key.masked,
        last_four=key.last_four,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        last_error=key.last_error,
        monthly_credit_cap=key.monthly_credit_cap,
    )


@router.get("/keys", response={200: list[KeyOut], 401: Error}, summary="Your vendor keys")
def list_keys(request: HttpRequest) -> list[KeyOut]:
    return [describe(key) for key in VendorKey.objects.filter(owner=current_user(request))]


def _form_error(form: AddKeyForm) -> ApiError:
    field, problems = next(iter(form.errors.as_data().items()))
    message = " ".join(str(message) for problem in problems for message in problem.messages)
    return ApiError(422, "invalid", f"{field}: {message}", field=field)


@router.post(
    "/keys",
    response={201: KeyOut, 401: Error, 422: Error},
    summary="Add a vendor key",
    description="The secret is stored encrypted and never returned; answers show its last four "
    "characters. A label another of your keys for the vendor has is a 422.",
)
def add_key(request: HttpRequest, body: KeyIn) -> Status[KeyOut]:
    form = AddKeyForm(
        current_user(request),
        {
            "vendor": body.vendor.value,
            "label": body.label,
            "secret": body.secret,
            "monthly_credit_cap": body.monthly_credit_cap or "",
        },
    )
    with transaction.atomic():
        key = form.save() if form.is_valid() else None
        if key is not None:
            audit.record(AuditAction.KEY_ADDED, key, request=request, details=key_details(key))
    if key is None:
        raise _form_error(form)
    return Status(201, describe(key))


@router.delete(
    "/keys/{key_id}",
    response={204: None, 401: Error, 404: Error},
    summary="Delete a vendor key",
)
def delete_key(request: HttpRequest, key_id: uuid.UUID) -> HttpResponse:
    key = VendorKey.objects.filter(pk=key_id, owner=current_user(request)).first()
    if key is None:
        raise not_found("No such key.")
    with transaction.atomic():
        # Recorded first: the event keeps the key's id, which the delete clears.
        audit.record(AuditAction.KEY_DELETED, key, request=request, details=key_details(key))
        key.delete()
    return HttpResponse(status=204)
