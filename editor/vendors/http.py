"""The two ways adapters talk to a vendor: a bounded call and a bounded result download from an
allow-listed host, on clients from editor.outbound.

Every call has explicit connect/read/write/pool timeouts for its kind, a byte cap on the body
and a total deadline (a slow-drip body cannot hold a worker thread past it). Redirects are never
followed. Nothing here logs a URL: result URLs are signed and count as secrets.
"""

from __future__ import annotations

import enum
import ipaddress
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from editor import images, instruments
from editor.vendors.base import BAD_RESPONSE, ResultImage, VendorError


class CallKind(enum.Enum):
    SUBMIT = "submit"  # upload and a quick answer (an asynchronous task is created)
    PROCESS = "process"  # synchronous processing: a diffusion extender may take minutes
    POLL = "poll"  # a small JSON status answer
    DOWNLOAD = "download"  # fetching a result image
    CHECK = "check"  # a key checked while a person waits for the page (editor.keycheck)


@dataclass(frozen=True)
class CallBudget:
    timeout: httpx.Timeout
    deadline: float  # seconds for the whole call, body included
    max_bytes: int


MB = 1024 * 1024
BUDGETS: dict[CallKind, CallBudget] = {
    CallKind.SUBMIT: CallBudget(httpx.Timeout(60.0, connect=10.0, pool=30.0), 120.0, 64 * MB),
    CallKind.PROCESS: CallBudget(httpx.Timeout(300.0, connect=10.0, pool=30.0), 330.0, 96 * MB),
    CallKind.POLL: CallBudget(httpx.Timeout(20.0, connect=10.0, pool=30.0), 30.0, 64 * MB),
    CallKind.DOWNLOAD: CallBudget(httpx.Timeout(30.0, connect=10.0, pool=30.0), 120.0, 64 * MB),
    # Short: a vendor that does not answer soon is "not checked yet", checked again later.
    CallKind.CHECK: CallBudget(httpx.Timeout(5.0, connect=3.0, pool=3.0), 8.0, 1 * MB),
}


def budget_for(kind: CallKind) -> CallBudget:
    """The kind's budget, with every time in it cut to settings.VENDOR_CALL_MAX_SECONDS when
    that is set (the byte cap stays)."""
    budget = BUDGETS[kind]
    cap = float(settings.VENDOR_CALL_MAX_SECONDS)
    if cap <= 0:
        return budget

    def cut(seconds: float | None) -> float:
        return cap if seconds is None else min(seconds, cap)

    timeout = budget.timeout
    return CallBudget(
        httpx.Timeout(
            connect=cut(timeout.connect),
            read=cut(timeout.read),
            write=cut(timeout.write),
            pool=cut(timeout.pool),
        ),
        cut(budget.deadline),
        budget.max_bytes,
    )


def longest_step_seconds() -> float:
    """The longest a job's vendor step can take: its slowest call (a synchronous one that
    answers with the result) and then the download of that result. A job's lease must be
    longer (editor.checks), or the sweeper hands a live step to a second worker, which calls
    the vendor again."""
    calls = (CallKind.SUBMIT, CallKind.PROCESS, CallKind.POLL)
    return max(budget_for(kind).deadline for kind in calls) + budget_for(CallKind.DOWNLOAD).deadline


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
    body: bytes


def call(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    kind: CallKind,
    vendor_label: str,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
) -> Answer:
    """Send one request and read its whole body within the kind's budget; counted for the
    metrics page by vendor, kind and outcome (editor.instruments)."""
    started = time.monotonic()
    outcome = "error"
    try:
        answer = _call(
            client,
            method,
            url,
            kind=kind,
            vendor_label=vendor_label,
            headers=headers,
            params=params,
            data=data,
            files=files,
        )
    except VendorError as error:
        outcome = error.code or "error"
        raise
    else:
        outcome = str(answer.status)
        return answer
    finally:
        instruments.vendor_call(vendor_label, kind.value, outcome, time.monotonic() - started)


def _call(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    kind: CallKind,
    vendor_label: str,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
) -> Answer:
    budget = budget_for(kind)
    request = client.build_request(
        method, url, headers=headers, params=params, data=data, files=files, timeout=budget.timeout
    )
    started = time.monotonic()
    status: int | None = None  # known once the status line is in
    try:
        response = client.send(request, stream=True)
        status = response.status_code
        try:
            body = _read_capped(response, budget, started, vendor_label)
        finally:
            response.close()
    except httpx.TimeoutException:
        raise VendorError(
            _("%(vendor)s did not answer in time.") % {"vendor": vendor_label},
            retryable=True,
            code="timeout",
        ) from None
    except httpx.RemoteProtocolError:
        if status == 200 and kind in (CallKind.SUBMIT, CallKind.PROCESS):
            # The vendor took the request and began a successful answer: as unreadable as a
            # garbled one, and it may have been billed (the pipeline does not resend it).
            raise VendorError(
                _("%(vendor)s answered, but its answer broke off before it was complete.")
                % {"vendor": vendor_label},
                retryable=True,
                code=BAD_RESPONSE,
            ) from None
        # We reached the vendor, and its server hung up mid-answer (a truncated body or a
        # dropped connection): "could not reach" would send the person to check their network.
        raise VendorError(
            _("%(vendor)s broke off the connection before its answer was complete.")
            % {"vendor": vendor_label},
            retryable=True,
            code="network",
        ) from None
    except httpx.TransportError:
        raise VendorError(
            _("Could not reach %(vendor)s.") % {"vendor": vendor_label},
            retryable=True,
            code="network",
        ) from None
    return Answer(response.status_code, response.headers, body)


def _read_capped(
    response: httpx.Response, budget: CallBudget, started: float, vendor_label: str
) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > budget.max_bytes:
        raise VendorError(
            _("%(vendor)s sent an answer larger than we accept (%(size)d MB).")
            % {"vendor": vendor_label, "size": int(declared) // MB},
            retryable=False,
            code="too_large",
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > budget.max_bytes:
            raise VendorError(
                _("%(vendor)s sent an answer larger than we accept (%(size)d MB).")
                % {"vendor": vendor_label, "size": budget.max_bytes // MB},
                retryable=False,
                code="too_large",
            )
        if time.monotonic() - started > budget.deadline:
            raise VendorError(
                _("%(vendor)s was too slow sending its answer.") % {"vendor": vendor_label},
                retryable=True,
                code="timeout",
            )
        chunks.append(chunk)
    return b"".join(chunks)


# --- Result downloads ----------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Origin:
    """An allowed result origin; the host may start with ``*.`` to allow subdomains."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Origin:
        parts = urlsplit(text.strip())
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise ValueError(f"not an origin: {text!r}")
        host = parts.hostname.lower()
        if parts.scheme == "http" and not _is_loopback(host):
            raise ValueError(f"plain http is allowed only for loopback hosts: {text!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, host, port)

    def allows(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or port != self.port:
            return False
        if self.host.startswith("*."):
            return fnmatchcase(host, self.host) or host == self.host[2:]
        return host == self.host


def configured_result_origins() -> tuple[Origin, ...]:
    extra = [settings.SANDBOX_URL] if settings.SANDBOX_ENABLED else []
    return tuple(Origin.parse(item) for item in [*settings.VENDOR_RESULT_HOSTS, *extra])


def origin_allowed(url: str, vendor_origins: tuple[Origin, ...]) -> bool:
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password:
        return False
    scheme, host = parts.scheme, parts.hostname.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return False
    if scheme == "http" and not _is_loopback(host):
        return False
    return any(
        origin.allows(scheme, host, port)
        for origin in (*vendor_origins, *configured_result_origins())
    )


def image_from_bytes(data: bytes, vendor_label: str) -> ResultImage:
    """A result's type from its magic bytes: vendors do not always say, or say it right."""
    media = images.sniff(data)
    if media is None or media.format not in images.WRITTEN:
        raise VendorError(
            _("%(vendor)s returned something that is not a JPEG, PNG or WebP image.")
            % {"vendor": vendor_label},
            retryable=False,
            code="bad_result",
        )
    return ResultImage(data=data, media_type=media.mime)


def download_result(
    client: httpx.Client, url: str, *, vendor_origins: tuple[Origin, ...], vendor_label: str
) -> ResultImage:
    """Fetch a result image from an allow-listed origin, bounded in size and time."""
    if not origin_allowed(url, vendor_origins):
        raise VendorError(
            _(
                "%(vendor)s returned a result link on a host we do not download from. "
                "An administrator can allow it with VENDOR_RESULT_HOSTS."
            )
            % {"vendor": vendor_label},
            retryable=False,
            code="result_host_not_allowed",
        )
    answer = call(client, "GET", url, kind=CallKind.DOWNLOAD, vendor_label=vendor_label)
    if answer.status in {403, 404, 410}:
        raise VendorError(
            _("The result link from %(vendor)s has expired or is no longer available.")
            % {"vendor": vendor_label},
            retryable=False,
            code="result_expired",
        )
    if answer.status == 429 or answer.status >= 500:
        raise VendorError(
            _("%(vendor)s's file server is busy.") % {"vendor": vendor_label},
            retryable=True,
            code=f"download_{answer.status}",
        )
    if answer.status != 200:
        raise VendorError(
            _("Could not download the result from %(vendor)s (HTTP %(status)d).")
            % {"vendor": vendor_label, "status": answer.status},
            retryable=False,
            code=f"download_{answer.status}",
        )
    return image_from_bytes(answer.body, vendor_label)
