"""Webhooks: POST /api/v1/jobs may name a ``webhook_url``; when the job ends (succeeded, failed
or canceled) the studio POSTs the job's JSON (the schema of GET /api/v1/jobs/{id}) to it.

Signature: ``X-Studio-Signature: t=<unix time>,v1=<hex>`` where v1 is
HMAC-SHA256(key = hex SHA-256 of the API token that created the job, message = f"{t}.{body}").
The caller computes the key from their token; the studio keeps only that hash (api.models).
Also ``X-Studio-Event: job.ended`` and ``X-Studio-Delivery: <uuid>`` (the same for every try of
one delivery, so receivers can drop duplicates).

A delivery is tried at once, then again after 10 s, 1 min, 5 min, 30 min and 2 h on a network
error or an answer that is not 2xx. Calls go through the studio's one httpx client factory
(editor.outbound: explicit timeouts, no redirects, no proxies from the environment). Nothing
here logs a webhook URL: it may carry the receiver's own secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import math
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
from celery import current_app
from django.conf import settings
from django.utils import timezone

from api.errors import ApiError
from api.models import Webhook
from api.schemas import job_out
from editor import outbound
from editor.models import ENDED_STATUSES, Job
from limiter import core as limiter

logger = logging.getLogger(__name__)

EVENT = "job.ended"
DELIVER_TASK = "api.tasks.deliver_webhook"
# Seconds a delivery waits when the limiter's store cannot be reached.
STORE_DOWN_WAIT = 10
# Seconds to wait before each retry; the first try is at once.
BACKOFF = (10, 60, 300, 1800, 7200)
MAX_ATTEMPTS = 1 + len(BACKOFF)
TIMEOUT = httpx.Timeout(10.0, connect=5.0, pool=10.0)
LOOPBACK_NAMES = frozenset({"localhost"})


def _refuse(message: str) -> ApiError:
    return ApiError(422, "invalid", f"webhook_url: {message}", errors={"webhook_url": [message]})


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The webhook URL if the studio may call it; else an ApiError 422. https only; plain http
    to a loopback host only when DEBUG or the sandbox is on (local receivers in development and
    tests). Addresses of the studio's own networks (private, link-local, loopback) are refused
    otherwise."""
    if len(url) > 2000:
        raise _refuse("At most 2000 characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise _refuse("Not a URL.") from None
    if not host or parts.username or parts.password:
        raise _refuse("Give an absolute https URL without user name or password.")
    local_allowed = bool(settings.DEBUG or settings.SANDBOX_ENABLED)
    if parts.scheme == "http" and not (local_allowed and _is_loopback(host)):
        raise _refuse("Webhooks are sent over https only.")
    if parts.scheme not in ("http", "https"):
        raise _refuse("Webhooks are sent over https only.")
    if _is_loopback(host) and not local_allowed:
        raise _refuse("The studio does not call its own host.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return url
    if not address.is_loopback and (
        address.is_private or address.is_link_local or address.is_reserved
    ):
        raise _refuse("The studio does not call addresses of private networks.")
    return url


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return bool(
        address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def unreachable_reason(url: str) -> str:
    """Why the studio must not call ``url`` now, or "": a host name can resolve to an address of
    the studio's own networks even though it passed check_url (looked up right before each try;
    a name that changes its answer between this look-up and the connection is not caught)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    local_allowed = bool(settings.DEBUG or settings.SANDBOX_ENABLED)
    try:
        found = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return "The receiver's host name does not resolve."
    for _family, _type, _proto, _name, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address.is_loopback:
            if not local_allowed:
                return "The receiver's host name points at the studio itself."
        elif _internal(address):
            return "The receiver's host name points into a private network."
    return ""


def sign(token_hash: str, timestamp: int, body: bytes) -> str:
    """The X-Studio-Signature header value for a body."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(token_hash.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def job_ended(sender: Any, job_id: str, status: str, **kwargs: Any) -> None:
    """editor.signals.job_ended receiver: start a new delivery for the job's webhook, if any."""
    webhook = Webhook.objects.filter(job_id=job_id).only("pk").first()
    if webhook is None:
        return
    delivery = uuid.uuid4()
    Webhook.objects.filter(pk=webhook.pk).update(
        delivery=delivery, attempts=0, last_status=None, last_error="", delivered_at=None
    )
    _schedule(str(webhook.pk), str(delivery), 0, countdown=0)


def _schedule(webhook_id: str, delivery: str, attempt: int, countdown: int) -> None:
    # Sent by name: api.tasks imports this module, not the other way round.
    current_app.send_task(DELIVER_TASK, (webhook_id, delivery, attempt), countdown=countdown)


def _receiver_wait(url: str) -> int:
    """Seconds until this receiver may get another delivery (``WEBHOOK_RATE`` per receiver URL,
    across every worker); 0 to send now. With the limiter's store down, a short wait: nothing
    is sent without a budget."""
    rate = limiter.Rate.parse(settings.WEBHOOK_RATE)
    try:
        slot = limiter.take(limiter.budget_name("webhook", limiter.secret(url)), rate)
    except limiter.StoreDown as error:
        logger.warning("webhook delivery waits: %s", error)
        return STORE_DOWN_WAIT
    return 0 if slot.go else math.ceil(slot.wait)


def body_of(job: Job) -> bytes:
    payload = job_out(job, settings.SITE_URL).model_dump(mode="json")
    return json.dumps(payload, separators=(",", ":")).encode()


def deliver(webhook_id: str, delivery: str | None = None, attempt: int | None = None) -> bool:
    """One try of a delivery; schedules the next try when it fails and tries are left. Returns
    whether the receiver took it. ``delivery`` and ``attempt`` say which try the message is
    for (default: the current one): a stale or duplicate message claims nothing and does
    nothing, the way job messages carry a dispatch number."""
    webhook = Webhook.objects.filter(pk=webhook_id).select_related("job").first()
    if webhook is None or webhook.delivery is None or webhook.delivered_at is not None:
        return False
    if webhook.job.status not in ENDED_STATUSES:
        # Retried since it ended: the next end starts a new delivery.
        return False
    number = webhook.attempts if attempt is None else attempt
    current = str(webhook.delivery)
    if (delivery is not None and delivery != current) or number >= MAX_ATTEMPTS:
        return False
    wait = _receiver_wait(webhook.url)
    if wait:
        # The receiver's budget is spent: this same try, when its slot opens (not an attempt).
        _schedule(str(webhook.pk), current, number, countdown=wait)
        return False
    claimed = Webhook.objects.filter(
        pk=webhook.pk, delivery=webhook.delivery, attempts=number, delivered_at__isnull=True
    ).update(attempts=number + 1)
    if not claimed:
        return False

    body = body_of(webhook.job)
    headers = {
        "Content-Type": "application/json",
        "X-Studio-Event": EVENT,
        "X-Studio-Delivery": current,
        "X-Studio-Signature": sign(webhook.token_hash, int(time.time()), body),
    }
    status: int | None = None
    refused = unreachable_reason(webhook.url)
    if refused:
        Webhook.objects.filter(pk=webhook.pk, delivery=webhook.delivery).update(
            last_status=None, last_error=refused
        )
        logger.warning("webhook %s: not sent: %s", webhook.pk, refused)
        return False
    try:
        # Streamed and never read: the receiver's answer body is of no interest, and a huge
        # one must not be loaded.
        with outbound.shared_client().stream(
            "POST", webhook.url, content=body, headers=headers, timeout=TIMEOUT
        ) as answer:
            status = answer.status_code
        error = "" if 200 <= status < 300 else f"The receiver answered HTTP {status}."
    except httpx.HTTPError as failure:
        # The class only: httpx messages may quote the URL.
        error = f"Could not reach the receiver ({type(failure).__name__})."
    ok = not error
    Webhook.objects.filter(pk=webhook.pk, delivery=webhook.delivery).update(
        last_status=status, last_error=error, delivered_at=timezone.now() if ok else None
    )
    if ok:
        logger.info("webhook %s: delivered job %s", webhook.pk, webhook.job_id)
        return True
    if number + 1 < MAX_ATTEMPTS:
        _schedule(str(webhook.pk), current, number + 1, countdown=BACKOFF[number])
    logger.warning(
        "webhook %s: try %d of %d failed: %s", webhook.pk, number + 1, MAX_ATTEMPTS, error
    )
    return False
