"""``/api/v1/keys``: the caller's own vendor keys, through editor.keys, so a key added here is
checked and recorded in the audit log exactly as one added on the vault page.

A secret goes in and never comes back: answers carry only ``masked`` and ``last_four``. The
studio's house keys (no owner) are the admins' and are never listed.
"""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from ninja import Router, Status

from accounts.http import AuthenticatedHttpRequest
from api.errors import ApiError
from api.idempotency import idempotent
from api.schemas import Error, KeyIn, KeyOut
from editor import access, keys
from editor.models import KeyCheck, VendorKey

router = Router(tags=["keys"])


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
        check_status=KeyCheck(key.check_status),
        checked_at=key.checked_at,
        credits=key.checked_credits,
    )


@router.get("/keys", response={200: list[KeyOut], 401: Error}, summary="Your vendor keys")
def list_keys(request: AuthenticatedHttpRequest) -> list[KeyOut]:
    return [describe(key) for key in VendorKey.objects.filter(owner=request.user)]


@router.post(
    "/keys",
    response={201: KeyOut, 401: Error, 422: Error},
    summary="Add a vendor key",
    description="The secret is stored encrypted and never returned; answers show its last four "
    "characters. A label another of your keys for the vendor has is a 422. The key is checked "
    "with its vendor first (AILabTools: a credit query): a key the vendor refuses is a 422 with "
    "the vendor's reason on the secret field and is not saved; a vendor that cannot be reached "
    'saves it with check_status "unchecked", checked again later.',
)
@idempotent
def add_key(request: AuthenticatedHttpRequest, body: KeyIn) -> Status[KeyOut]:
    try:
        key = keys.add(
            request.user,
            vendor=body.vendor.value,
            # Trimmed as the vault page's form fields trim them.
            label=body.label.strip(),
            secret=body.secret.strip(),
            monthly_credit_cap=body.monthly_credit_cap,
            request=request,
        )
    except keys.KeyRefused as refused:
        raise ApiError(
            422, "invalid", f"{refused.field}: {refused.message}", field=refused.field
        ) from None
    return Status(201, describe(key))


@router.delete(
    "/keys/{key_id}",
    response={204: None, 401: Error, 404: Error},
    summary="Delete a vendor key",
)
def delete_key(request: AuthenticatedHttpRequest, key_id: uuid.UUID) -> HttpResponse:
    key = access.get_key_for_user(request.user, key_id)
    keys.delete(key, request=request)
    return HttpResponse(status=204)
