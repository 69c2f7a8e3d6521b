"""Result files, handed out as a cloud bucket's signed URLs that expire, or inline as base64.

``store`` keeps a result in the sandbox's memory and signs its URL; ``result_file`` serves it
until it expires, then answers the bucket's XML errors.
"""

from __future__ import annotations

import base64
import secrets
import time
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from editor.sandbox.callers import Caller
from editor.sandbox.faults import delay, find, gateway_error, shape
from editor.sandbox.gateway import finish
from editor.sandbox.state import STATE


def store(caller: Caller, data: bytes, image_format: str, *, after: float = 0.0) -> str:
    """Keep a result and return its signed URL, valid for SANDBOX_RESULT_TTL seconds from the
    moment it exists (``after`` seconds from now, for an async task still running)."""
    expired = caller.faults.get("expired") or find(caller.faults.result, "expired")
    lifetime = 0.0 if expired else after + settings.SANDBOX_RESULT_TTL
    stored = STATE.add_result(data, image_format, lifetime=lifetime, faults=caller.faults.result)
    return f"{caller.public_url}/results/{stored.token}.{stored.ext}?{stored.query}"


def inline(data: bytes) -> str:
    """A result carried in the answer itself, as base64 text."""
    return base64.b64encode(data).decode("ascii")


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _storage_error(
    status: int, code: str, message: str, *, expires: float | None = None
) -> HttpResponse:
    """The XML error a cloud bucket answers for a bad or expired signed URL."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<Error>",
        f"  <Code>{code}</Code>",
        f"  <Message>{escape(message)}</Message>",
        f"  <RequestId>{secrets.token_hex(12).upper()}</RequestId>",
    ]
    if expires is not None:
        lines += [
            f"  <Expires>{_iso(expires)}</Expires>",
            f"  <ServerTime>{_iso(time.time())}</ServerTime>",
        ]
    lines.append("</Error>")
    return HttpResponse("\n".join(lines) + "\n", status=status, content_type="application/xml")


@csrf_exempt
@require_GET
def result_file(request: HttpRequest, token: str, ext: str) -> HttpResponseBase:
    """A signed result URL: the bytes until SANDBOX_RESULT_TTL passes, then 403 AccessDenied."""
    stored = STATE.get_result(token)
    if stored is None or stored.ext != ext:
        return finish(_storage_error(404, "NoSuchKey", "The specified key does not exist."))
    delay(stored.faults)
    if http := find(stored.faults, "http"):
        return finish(gateway_error(http.number))
    signature_ok = request.GET.get("Signature") == stored.signature
    if not signature_ok or request.GET.get("Expires") != str(int(stored.expires_at)):
        return finish(
            _storage_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        )
    data = stored.data
    if data is None:
        return finish(
            _storage_error(403, "AccessDenied", "Request has expired.", expires=stored.expires_at)
        )
    response = HttpResponse(data, content_type=stored.media_type)
    return finish(shape(finish(response), stored.faults))
