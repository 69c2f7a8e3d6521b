"""Webhooks: POST /api/v1/jobs may name a ``webhook_url``; when the job ends (succeeded, failed
or canceled) the studio POSTs the job's JSON (the schema of GET /api/v1/jobs/{id}) to it.

Signature: ``X-Studio-Signature: t=<unix time>,v1=<hex>`` where v1 is
HMAC-SHA256(key = hex SHA-256 of the API token that created the job, message = f"{t}.{body}").
The caller computes the key from their token; the studio keeps only that hash (api.models).
Also ``X-Studio-Event: job.ended`` and ``X-Studio-Delivery: <uuid>`` (the same for every try of
one delivery, so receivers can drop duplicates).

A delivery is tried at once, then again after 10 s, 1 min, 5 min, 30 min and 2 h on a network
error or an answer that is not 2xx (redirects are not followed). Calls go through the studio's
one httpx client factory (editor.outbound: explicit timeouts, no redirects, no proxies from the
environment). Nothing here logs a webhook URL: it may carry the receiver's own secret.

Receivers are on the public internet only (editor.addresses, the one address policy): the URL
is checked when given and again before each try; the host is looked up once per try and the
call connects only to the addresses checked (no second look-up for DNS rebinding to turn
inward). A refused address ends the delivery at once; a network error is retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import time
import uuid
from typing import Any

import httpx
from celery import current_app
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import languages
from api.errors import ApiError
from api.models import Webhook
from api.schemas import job_out
from editor import addresses, outbound
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
# A % that does not start a two-digit hex escape.
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _refuse(message: str) -> ApiError:
    return ApiError(422, "invalid", f"webhook_url: {message}", errors={"webhook_url": [message]})


def receiver_url(url: str) -> httpx.URL:
    """``url`` read the way the HTTP client reads it, if the studio may call it; else
    addresses.Refused saying why. The same check runs when the URL is given and before each
    try (a stored URL is never trusted to have passed it). https only; plain http only to an
    IP literal in WEBHOOK_ALLOWED_NETWORKS (local receivers in development and tests). A host
    name is not looked up here: its addresses are checked right before each try."""
    if len(url) > 2000:
        raise addresses.Refused(_("At most 2000 characters."))
    # httpx would quietly escape these (a space becomes %20, a stray % stays as it is), so the
    # URL called would not be the one given: refused, for the caller to write it out.
    if any(character.isspace() or not character.isprintable() for character in url):
        raise addresses.Refused(_("A URL cannot contain spaces or control characters."))
    if _BAD_ESCAPE.search(url):
        raise addresses.Refused(
            _("Each %(sign)s in a URL must start an escape such as %(example)s.")
            % {"sign": "%", "example": "%20"}
        )
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise addresses.Refused(_("Not a valid URL.")) from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise addresses.Refused(_("Give an absolute https URL."))
    if parsed.userinfo:
        raise addresses.Refused(_("Give an absolute https URL without user name or password."))
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise addresses.Refused(_("Not a valid port number."))
    allowed = settings.WEBHOOK_ALLOWED_NETWORKS
    literal = addresses.canonical_host(parsed.raw_host.decode("ascii"))
    if literal is not None:
        addresses.check(literal, allowed)
    local = literal is not None and any(literal in network for network in allowed)
    if parsed.scheme != "https" and not local:
        raise addresses.Refused(_("Webhooks are sent over https only."))
    return parsed


def check_url(url: str) -> str:
    """The webhook URL as the HTTP client reads it (receiver_url), to store: parsed and
    normalised once, here. Else an ApiError 422 that names the field."""
    try:
        return str(receiver_url(url))
    except addresses.Refused as refusal:
        raise _refuse(str(refusal)) from None


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
        delivery=delivery,
        attempts=0,
        last_status=None,
        last_error="",
        last_attempt_at=None,
        delivered_at=None,
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
    webhook = Webhook.objects.filter(pk=webhook_id).select_related("job__owner").first()
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
    retryable = True
    # The reason is kept for the job's owner to read (GET /api/v1/jobs/{id}): in their words.
    with languages.speaking_to(webhook.job.owner):
        try:
            status = _post(webhook.url, body, headers)
            error = _answer_error(status)
        except addresses.Refused as refusal:
            # Waiting will not make the address public: no more tries.
            error, retryable = _("Not sent: %(reason)s") % {"reason": refusal}, False
        except addresses.Unresolved as failure:
            error = str(failure)
        except (
            httpx.HTTPError,
            httpx.InvalidURL,
            httpx.StreamError,
            OSError,
            ValueError,
        ) as failure:
            # The class only: httpx messages may quote the URL, which may carry the receiver's
            # secret.
            error = _("Could not reach the receiver (%(error)s).") % {
                "error": type(failure).__name__
            }
        except Exception as failure:
            # Anything else the client raises is this try's failure, recorded and retried like
            # the rest, never a task that dies with a traceback (which would quote the URL).
            error = _("The delivery failed (%(error)s).") % {"error": type(failure).__name__}
    ok = not error
    now = timezone.now()
    Webhook.objects.filter(pk=webhook.pk, delivery=webhook.delivery).update(
        last_status=status,
        last_error=error,
        last_attempt_at=now,
        delivered_at=now if ok else None,
    )
    if ok:
        logger.info("webhook %s: delivered job %s", webhook.pk, webhook.job_id)
        return True
    if retryable and number + 1 < MAX_ATTEMPTS:
        _schedule(str(webhook.pk), current, number + 1, countdown=BACKOFF[number])
    logger.warning(
        "webhook %s: try %d of %d failed: %s", webhook.pk, number + 1, MAX_ATTEMPTS, error
    )
    return False


def _answer_error(status: int) -> str:
    if 200 <= status < 300:
        return ""
    if 300 <= status < 400:
        return _("The receiver answered HTTP %(status)d (redirects are not followed).") % {
            "status": status
        }
    return _("The receiver answered HTTP %(status)d.") % {"status": status}


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to the receiver; its answer's status. Refused or Unresolved (from
    editor.addresses) before anything is sent; httpx errors as they come.

    Direct calls look the host up once and connect only to the addresses that look-up gave
    and the policy checked (outbound.pin: no second look-up for a rebinding name to answer).
    With WEBHOOK_PROXY_URL the proxy connects and looks names up, so it must keep receivers
    off internal networks itself; the URL check still refuses internal IP literals."""
    parsed = receiver_url(url)
    proxy = settings.WEBHOOK_PROXY_URL
    if proxy:
        with outbound.make_client(proxy=proxy) as client:
            request = client.build_request(
                "POST", parsed, content=body, headers=headers, timeout=TIMEOUT
            )
            return _status(client, request)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    target = addresses.resolve(
        parsed.raw_host.decode("ascii"), port, settings.WEBHOOK_ALLOWED_NETWORKS
    )
    *others, last = target.addresses
    for address in others:
        try:
            return _post_to(address, parsed, body, headers)
        except httpx.ConnectError:
            continue  # nothing was sent (no connection): the next checked address
    return _post_to(last, parsed, body, headers)


def _post_to(
    address: addresses.IPAddress, url: httpx.URL, body: bytes, headers: dict[str, str]
) -> int:
    # A client per try: pinned connections must not be pooled across names (outbound.pin).
    with outbound.make_client() as client:
        request = client.build_request("POST", url, content=body, headers=headers, timeout=TIMEOUT)
        return _status(client, outbound.pin(request, address))


def _status(client: httpx.Client, request: httpx.Request) -> int:
    # Streamed and never read: the receiver's answer body is of no interest, and a huge one
    # must not be loaded.
    answer = client.send(request, stream=True)
    try:
        return answer.status_code
    finally:
        answer.close()
