"""``Idempotency-Key`` on every POST of the API, as the IETF httpapi draft "The Idempotency-Key
HTTP Header Field" describes it (Stripe's API behaves alike): a client that did not get an
answer sends the same request again with the same key, and the work is done once.

- The key is 1 to 255 printable ASCII characters (a UUID is the usual choice); anything else is
  a 400 ``invalid_idempotency_key``. Keys are per person (the token's owner): one person's key
  never reaches another person's answers, and the same key from two people is two keys.
- The first request with a key inserts its record *before* the work and commits it: the unique
  constraint on (owner, key) lets exactly one of two racing requests in, on SQLite and
  PostgreSQL alike (no read-then-write). The other finds the record in flight: a 409
  ``idempotency_key_in_flight``.
- The work and the answer kept on the record commit in one transaction, so a request whose rows
  exist has its answer kept. A request refused or failed keeps nothing: its record is deleted
  and the same request may be sent again with the same key (a quota may have freed up).
- The same key again within ``API_IDEMPOTENCY_SECONDS`` (24 h by default): with the same request
  (method, path, query, form fields or JSON body, each file's name and SHA-256), the kept
  status, headers and body, marked ``Idempotent-Replayed: true``; with a different one, a 422
  ``idempotency_key_reused``.
- A record left in flight by a request that died (a killed web process) is taken over after
  ``IN_FLIGHT_SECONDS``; one older than ``API_IDEMPOTENCY_SECONDS`` is expired (taken over, and
  deleted within the hour by api.tasks.purge_idempotency_keys).

Views opt in with ``@idempotent`` under their ``@router.post``, which also documents the header
on the operation (api.api adds the answers).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Status
from ninja.operation import Operation
from ninja.renderers import JSONRenderer
from ninja.utils import contribute_operation_callback

from api.auth import token_of
from api.errors import ApiError
from api.models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_LENGTH = 255
# A request still in flight after this long died (gunicorn's --timeout, 60 s in the README,
# kills one long before): another request with its key may take the record over.
IN_FLIGHT_SECONDS = 300
PRINTABLE = re.compile(r"[\x20-\x7e]+")
# The answers are rendered as the API renders them (ninja's JSON renderer, StudioAPI's).
RENDERER = JSONRenderer()
CONTENT_TYPE = f"{RENDERER.media_type}; charset={RENDERER.charset}"
# Headers of an answer that are not kept: the length is the body's.
UNKEPT_HEADERS = frozenset({"content-length"})

PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": (
        "Optional. A key of your own for this request (1 to 255 printable ASCII characters, a "
        "UUID for example): sending the same request again with the same key within a day "
        "(the studio's API_IDEMPOTENCY_SECONDS) gives the first answer again (with "
        "`Idempotent-Replayed: true`) instead of doing the work twice. The same key with a "
        "different request is a 422 `idempotency_key_reused`; while the first request is "
        "still running, a 409 `idempotency_key_in_flight`. An answer that is an error is not "
        "kept."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH, "pattern": "^[ -~]+$"},
}
# What an operation taking the header may answer besides its own answers (api.api adds them).
ANSWERS = {
    400: "The Idempotency-Key header is empty, too long or not printable ASCII.",
    409: "A request with this Idempotency-Key is still being processed.",
    422: "This Idempotency-Key was used for a different request.",
}

P = ParamSpec("P")


# --- The key and the request ---------------------------------------------------------------


def _bad_key(message: str) -> ApiError:
    return ApiError(400, "invalid_idempotency_key", message)


def key_of(request: HttpRequest) -> str | None:
    """The request's idempotency key, None when it sends none; a malformed one is a 400."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key:
        raise _bad_key(
            _(
                "The Idempotency-Key header is empty. Send 1 to 255 printable ASCII characters, "
                "such as a UUID, or leave the header out."
            )
        )
    if len(key) > MAX_LENGTH:
        raise _bad_key(
            _(
                "The Idempotency-Key header is %(length)d characters long; it may have at most "
                "%(most)d."
            )
            % {"length": len(key), "most": MAX_LENGTH}
        )
    if not PRINTABLE.fullmatch(key):
        raise _bad_key(
            _(
                "The Idempotency-Key header may hold only printable ASCII characters (letters, "
                "digits, punctuation and spaces)."
            )
        )
    return key


def _file_digest(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _canonical_body(body: bytes) -> bytes:
    """A JSON body with its keys sorted and no spaces, so that formatting is not a different
    request; any other body as sent."""
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        return body


def fingerprint(request: HttpRequest) -> str:
    """What makes two requests the same request: method, path, query, and the form fields and
    files (each file's name and SHA-256) or the body. Hex SHA-256; each part is written with
    its length, so that no two different requests write the same stream."""
    digest = hashlib.sha256()

    def write(*parts: str | bytes) -> None:
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            digest.update(len(data).to_bytes(8, "big"))
            digest.update(data)

    write(request.method or "", request.path)
    for name, sent in sorted(request.GET.lists()):
        write("query", name, str(len(sent)), *sent)
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name, sent in sorted(request.POST.lists()):
            write("field", name, str(len(sent)), *sent)
        for name, uploads in sorted(request.FILES.lists()):
            write("files", name, str(len(uploads)))
            for upload in uploads:
                write(upload.name or "", _file_digest(upload))
    else:
        write("body", _canonical_body(request.body))
    return digest.hexdigest()


# --- The record ------------------------------------------------------------------------------


def _reused(found: IdempotencyKey) -> ApiError:
    return ApiError(
        422,
        "idempotency_key_reused",
        _(
            "This Idempotency-Key was already used for a different request (%(request)s, "
            "with other fields, files or body). Send a new key with a new request."
        )
        % {"request": found.request},
    )


def _in_flight() -> ApiError:
    return ApiError(
        409,
        "idempotency_key_in_flight",
        _(
            "A request with this Idempotency-Key is still being processed. Wait a moment and "
            "send it again to get its answer."
        ),
    )


def _claim(owner_id: int, key: str, line: str, digest: str) -> IdempotencyKey | HttpResponse:
    """The record of this key for this request, ours to do the work under; or the kept answer
    to send again. Raises ApiError 409 (in flight) or 422 (a different request)."""
    found: IdempotencyKey | None = None
    for _try in range(2):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    owner_id=owner_id, key=key, request=line, fingerprint=digest, created_at=now
                )
        except IntegrityError:
            found = IdempotencyKey.objects.filter(owner_id=owner_id, key=key).first()
        if found is not None:
            break
        # Deleted between the insert and the read (released, or purged): insert again.
    if found is None:
        raise _in_flight()
    expired = found.created_at <= now - dt.timedelta(seconds=settings.API_IDEMPOTENCY_SECONDS)
    abandoned = found.in_flight and found.created_at <= now - dt.timedelta(
        seconds=IN_FLIGHT_SECONDS
    )
    if expired or abandoned:
        return _take_over(found, line, digest, now)
    if found.fingerprint != digest:
        raise _reused(found)
    if found.in_flight:
        raise _in_flight()
    return _replay(found)


def _take_over(found: IdempotencyKey, line: str, digest: str, now: dt.datetime) -> IdempotencyKey:
    """Start afresh on a record that expired or whose request died: a compare-and-set on its
    ``attempt``, so that of two requests taking it over one wins and the other is in flight."""
    attempt = uuid.uuid4()
    fresh = {
        "attempt": attempt,
        "request": line,
        "fingerprint": digest,
        "status": None,
        "body": b"",
        "headers": {},
        "created_at": now,
    }
    if not IdempotencyKey.objects.filter(pk=found.pk, attempt=found.attempt).update(**fresh):
        raise _in_flight()
    for name, value in fresh.items():
        setattr(found, name, value)
    return found


def _keep(claim: IdempotencyKey, response: HttpResponse) -> None:
    """Write the answer on the record, in the transaction that did the work. A record taken over
    meanwhile (this request ran past IN_FLIGHT_SECONDS) is no longer ours: the work rolls back."""
    headers = {
        name: value for name, value in response.items() if name.lower() not in UNKEPT_HEADERS
    }
    kept = IdempotencyKey.objects.filter(
        pk=claim.pk, attempt=claim.attempt, status__isnull=True
    ).update(status=response.status_code, body=response.content, headers=headers)
    if not kept:
        raise _in_flight()


def _release(claim: IdempotencyKey) -> None:
    """Nothing was done (an error, a refusal): the key is free for the same request again."""
    try:
        IdempotencyKey.objects.filter(
            pk=claim.pk, attempt=claim.attempt, status__isnull=True
        ).delete()
    except DatabaseError:
        # The database is what failed: the record is taken over after IN_FLIGHT_SECONDS.
        logger.warning("could not release idempotency key record %s", claim.pk, exc_info=True)


def _replay(found: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(found.body), status=found.status, content_type=CONTENT_TYPE)
    for name, value in found.headers.items():
        response[name] = value
    response[REPLAYED] = "true"
    return response


def purge(now: dt.datetime) -> int:
    """Delete the records older than ``API_IDEMPOTENCY_SECONDS``; returns how many."""
    cutoff = now - dt.timedelta(seconds=settings.API_IDEMPOTENCY_SECONDS)
    deleted, _counts = IdempotencyKey.objects.filter(created_at__lte=cutoff).delete()
    return deleted


# --- The decorator ---------------------------------------------------------------------------


def _render(request: HttpRequest, result: Any, temporal: HttpResponse | None) -> HttpResponse:
    """A view's result as ninja answers it: ``Status(code, schema)`` or a bare schema (200)
    rendered by the API's JSON renderer, on the view's temporal response when it took one (its
    headers, such as ``Location``, go with the answer)."""
    if isinstance(result, HttpResponse):
        return result
    if isinstance(result, HttpResponseBase):
        raise TypeError("an idempotent view answers with a body that can be kept")
    status, value = (
        (result.status_code, result.value) if isinstance(result, Status) else (200, result)
    )
    response = temporal if temporal is not None else HttpResponse(content_type=CONTENT_TYPE)
    response.status_code = status
    response.content = (
        b"" if value is None else RENDERER.render(request, value, response_status=status)
    )
    return response


def _document(operation: Operation) -> None:
    """Put the header among the operation's parameters in the OpenAPI document."""
    extra = dict(operation.openapi_extra or {})
    extra["parameters"] = [*extra.get("parameters", []), PARAMETER]
    operation.openapi_extra = extra


def _temporal(values: Iterable[Any]) -> HttpResponse | None:
    return next((value for value in values if isinstance(value, HttpResponse)), None)


def idempotent(view: Callable[P, Any]) -> Callable[P, Any]:
    """Honour ``Idempotency-Key`` on a POST view (placed under its ``@router.post``)."""

    @functools.wraps(view)
    def run(*args: P.args, **kwargs: P.kwargs) -> Any:
        request = args[0]
        assert isinstance(request, HttpRequest)
        key = key_of(request)
        if key is None:
            return view(*args, **kwargs)
        owner_id = token_of(request).owner_id
        line = f"{request.method} {request.path}"[:300]
        claim = _claim(owner_id, key, line, fingerprint(request))
        if isinstance(claim, HttpResponse):
            return claim
        try:
            with transaction.atomic():
                response = _render(request, view(*args, **kwargs), _temporal(kwargs.values()))
                done = 200 <= response.status_code < 300
                if done:
                    _keep(claim, response)
        except BaseException:
            _release(claim)
            raise
        if not done:
            _release(claim)
        return response

    # ninja reads the view's parameters from its signature: give it the view's own, with the
    # annotations resolved in the view's module (this module does not import its schemas).
    run.__signature__ = inspect.signature(view, eval_str=True)  # type: ignore[attr-defined]
    contribute_operation_callback(run, _document)
    return run
