"""Reading a submission from a multipart request, for ``POST /jobs`` (one photo) and
``POST /batches`` (many photos, one operation): the operation, its parameters and its photos as
editor.submissions' validator takes them, and its refusals as API errors. Both endpoints read
alike, so a field means the same on either.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _

from accounts.http import AuthenticatedHttpRequest
from api.errors import ApiError
from editor import operations, submissions, uploads
from editor.models import display_name
from editor.submissions import Photo, Submission, SubmissionInvalid

# Request fields that are not parameters of the operation.
FIXED_FIELDS = frozenset({"operation", "provider", "key", "webhook_url"})


def invalid(errors: dict[str, list[str]]) -> ApiError:
    """A 422 ``invalid`` naming the first field's first problem, with every field's."""
    field, messages = next(iter(errors.items()))
    return ApiError(422, "invalid", f"{field}: {messages[0]}", errors=errors)


def operation_of(data: QueryDict) -> operations.Operation:
    slug = data.get("operation", "")
    if not slug:
        raise invalid({"operation": [_("This field is required.")]})
    try:
        return operations.get(slug)
    except KeyError:
        known = ", ".join(o.slug for o in operations.OPERATIONS)
        unknown = _("Unknown operation %(slug)s. Known: %(known)s.") % {
            "slug": repr(slug),
            "known": known,
        }
        raise invalid({"operation": [unknown]}) from None


def values(request: HttpRequest, operation: operations.Operation) -> dict[str, Any]:
    """The operation's parameters as sent. Anything the operation does not declare is refused,
    so a typo is an error rather than a default silently used; a parameter not sent takes its
    declared default (the page sends every field filled with it, a script what it changes)."""
    params = {param.name: param for param in operation.params}
    roles = {spec.role for spec in operation.files}
    # A file part without a file name arrives as a plain field: say what to send instead.
    as_text = sorted(role for role in roles if role in request.POST)
    if as_text:
        raise invalid(
            {
                role: [_("Send the photo as a file (a multipart part with a file name).")]
                for role in as_text
            }
        )
    unknown = sorted(
        {name for name in request.POST if name not in FIXED_FIELDS and name not in params}
        | {name for name in request.FILES if name not in roles}
    )
    if unknown:
        raise invalid(
            {
                name: [
                    _("%(operation)s takes no field %(field)s.")
                    % {"operation": operation.slug, "field": repr(name)}
                ]
                for name in unknown
            }
        )
    found: dict[str, Any] = {}
    for name, param in params.items():
        sent = request.POST.getlist(name)
        if sent and param.kind == "colors":
            # Comma-separated, or the field repeated: both read as the page's "A, B" text.
            found[name] = ",".join(sent)
        elif sent:
            found[name] = sent[-1]
        elif param.default not in (None, ""):
            default = param.default
            found[name] = ",".join(default) if isinstance(default, tuple) else str(default)
    return found


def photos(
    request: HttpRequest, operation: operations.Operation, *, many: str = ""
) -> dict[str, list[Photo]]:
    """The photos sent, by file role, as the validator takes them: one per role, except the
    role named by ``many`` (a batch's photos), which may repeat."""
    found: dict[str, list[Photo]] = {}
    for spec in operation.files:
        sent = request.FILES.getlist(spec.role)
        for upload in sent:
            if uploads.too_large(upload):
                raise ApiError(
                    413,
                    "too_large",
                    _("%(role)s: the file is larger than %(size)s MB.")
                    % {"role": spec.role, "size": settings.UPLOAD_MAX_MB},
                    max_bytes=settings.UPLOAD_MAX_BYTES,
                )
        if len(sent) > 1 and spec.role != many:
            message = (
                _("Send one photo per job.") if not many else _("Send one photo for every job.")
            )
            raise invalid({spec.role: [message]})
        if sent:
            found[spec.role] = [Photo(upload, display_name(upload.name)) for upload in sent]
    return found


def submission(
    request: AuthenticatedHttpRequest, operation: operations.Operation, *, many: str = ""
) -> Submission:
    """The body as a validated submission (editor.submissions, as the pages check it), or the
    422 that lists its field errors."""
    try:
        return submissions.validate(
            operation,
            request.user,
            provider=request.POST.get("provider") or None,
            values=values(request, operation),
            photos=photos(request, operation, many=many),
            key=request.POST.get("key") or None,
        )
    except SubmissionInvalid as refused:
        raise refusal(refused) from None


def refusal(refused: SubmissionInvalid) -> ApiError:
    """A field's error first (a bad ``key`` explains a missing key), then the submission's."""
    if refused.errors:
        return invalid(refused.errors)
    if refused.code in ("no_key", "not_in_plan"):
        return ApiError(422, refused.code, refused.message)
    return invalid({"request": [refused.message]})


_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["operation", "image"],
                    "properties": {
                        "operation": {"type": "string", "description": "An operation's slug."},
                        "provider": {
                            "type": "string",
                            "description": "One of the operation's providers; default: the "
                            "first one your plan allows.",
                        },
                        "key": {
                            "type": "string",
                            "format": "uuid",
                            "description": "The id of one of your vault keys; default: your "
                            "most recently used key for the vendor, else the studio's house "
                            "key if your plan includes it.",
                        },
                        "webhook_url": {
                            "type": "string",
                            "format": "uri",
                            "description": "https URL called when the job ends (see the "
                            "API description).",
                        },
                        "image": {"type": "string", "format": "binary"},
                        "style": {"type": "string", "format": "binary"},
                        "ref": {"type": "string", "format": "binary"},
                        "mask": {"type": "string", "format": "binary"},
                    },
                    "additionalProperties": {"type": "string"},
                }
            }
        },
    }
}


def body_schema(*, many: str = "") -> dict[str, Any]:
    """The multipart body as the OpenAPI document shows it (``openapi_extra``); with ``many``,
    that file role is an array of photos."""
    body = copy.deepcopy(_BODY)
    if many:
        schema = body["requestBody"]["content"]["multipart/form-data"]["schema"]
        schema["properties"][many] = {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "The photos: the field repeated, one part per photo.",
        }
    return body
