"""Fault injection for the sandbox, chosen per request by markers in the API key.

A key is split on ``-``; a segment ``fault`` starts a marker for the API answers, a segment
``resultfault`` one for result downloads (``/results/...``) of results made with that key.
Several markers may be combined; anything else in the key is free text, so tests make keys
unique with a suffix::

    sandbox-fault-latency-800-alice
    sandbox-fault-error-ERROR_NOT_ENOUGH_CREDITS-x
    sandbox-legacy-fault-drip-resultfault-truncated-x

API markers (``fault-<kind>[-<arg>]``):

``latency-<ms>``
    wait that many milliseconds, then answer normally.
``timeout``
    wait ``SANDBOX_FAULT_TIMEOUT_S`` seconds (default 40, longer than a client's read timeout),
    then answer normally if anyone is still listening.
``error-<CODE>``
    AILabTools: the error envelope for that ``error_detail.code`` with the HTTP status the
    vendor's table gives it (contracts section 1.3; unknown codes get 500). PicWish: ``CODE`` is
    an HTTP status (or an AILabTools code, for its status) answered as ``{"status", "message"}``.
``http-<status>``
    a gateway's HTML error page with that status (400-599), not the vendor's JSON.
``flaky-<n>``
    the first ``n`` requests made with this exact key get a 503 HTML page, later ones succeed.
``ratelimit[-<n>]``
    429 with ``Retry-After: 1``: AILabTools ``EXCEEDING_LIMITS``, PicWish
    ``{"status":429,...}``. Always, or with ``n`` only for the first ``n`` requests made with
    this exact key (a storm that passes). ``flaky`` and ``ratelimit-<n>`` count the same
    requests.
``badjson``
    200 with a body that is not valid JSON.
``truncated``
    the real answer cut in half under a Content-Length for all of it, then the connection closes.
``drip``
    the real answer sent ``SANDBOX_FAULT_DRIP_BYTES`` (16) bytes every
    ``SANDBOX_FAULT_DRIP_INTERVAL_S`` (1.0) seconds, so only a total deadline stops it.
``oversize[-<mb>|-stream]``
    200 with a body of ``mb`` MB (default 200): declared in Content-Length, or with ``stream``
    undeclared (the connection closes at the end) so only a running byte count catches it.
``expired``
    result URLs made for this key are expired from the start (403 AccessDenied XML).
``state-<n>``
    PicWish: the task ends with ``state`` ``-n`` (``state-7`` gives -7, an invalid image).
``taskfail``
    AILabTools async tasks end failed: ``task_status`` 3 with ``PROCESSING_FAILURE``, and
    ``PROCESS_FAILED`` on the legacy query.

Result markers (``resultfault-<kind>[-<arg>]``): ``latency``, ``timeout``, ``http``,
``truncated``, ``drip``, ``oversize`` and ``expired``, as above, applied to the download.

A ``fault`` segment followed by a kind not listed here is answered with a plain 400 naming the
marker, so a typo does not pass silently as a healthy answer.

Besides faults, three plain markers change the answers: ``legacy`` (AILabTools answers the legacy
envelope generation), ``colormig`` (the retired HD color migration answers as it used to) and
``credits-<n>`` (the AILabTools account starts with ``n`` credits instead of 100,000, so a test
can run it dry: ``sandbox-credits-30-x``).

Keys are checked as they are saved in the vault with the AILabTools credit query
(editor.keycheck), which the sandbox answers like any call, faults included: a key the vendor
refuses is ``sandbox-fault-error-ERROR_APPLICATIONS_NOT_EXISTS-x`` (401 with the vendor's
reason), an unreachable vendor ``sandbox-fault-http-503-x``, and one that comes back for the
later check ``sandbox-fault-flaky-1-x``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

from django.conf import settings
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse

# An internal header the sandbox server turns into "Connection: close" (an application may not
# send hop-by-hop headers itself); see editor.sandbox.server.
CLOSE_CONNECTION_HEADER: Final = "X-Sandbox-Close-Connection"

MB: Final = 1024 * 1024
API_KINDS: Final = frozenset(
    {
        "latency",
        "timeout",
        "error",
        "http",
        "flaky",
        "ratelimit",
        "badjson",
        "truncated",
        "drip",
        "oversize",
        "expired",
        "state",
        "taskfail",
    }
)
RESULT_KINDS: Final = frozenset(
    {"latency", "timeout", "http", "truncated", "drip", "oversize", "expired"}
)
_NUMBER_ARG: Final = frozenset({"latency", "http", "flaky", "state"})
_TEXT_ARG: Final = frozenset({"error"})


def _optional_arg(kind: str, part: str) -> bool:
    """Whether ``part`` is the argument a kind may go without: oversize-<mb>|-stream and
    ratelimit-<n>."""
    if kind == "oversize":
        return part.isdigit() or part == "stream"
    return kind == "ratelimit" and part.isdigit()


class UnknownFault(ValueError):
    """A fault marker the sandbox does not know, or one with a bad argument."""


@dataclass(frozen=True)
class Fault:
    kind: str
    arg: str = ""

    @property
    def number(self) -> int:
        return int(self.arg) if self.arg.lstrip("-").isdigit() else 0


@dataclass(frozen=True)
class Faults:
    api: tuple[Fault, ...] = ()
    result: tuple[Fault, ...] = ()

    def get(self, kind: str) -> Fault | None:
        return find(self.api, kind)


def find(faults: tuple[Fault, ...], kind: str) -> Fault | None:
    return next((fault for fault in faults if fault.kind == kind), None)


def parse(key: str) -> Faults:
    """The fault markers in an API key (see the module docstring)."""
    parts = key.split("-")
    api: list[Fault] = []
    result: list[Fault] = []
    i = 0
    while i < len(parts):
        scope = parts[i].lower()
        if scope not in {"fault", "resultfault"}:
            i += 1
            continue
        allowed = API_KINDS if scope == "fault" else RESULT_KINDS
        kind = parts[i + 1].lower() if i + 1 < len(parts) else ""
        if kind not in allowed:
            raise UnknownFault(f"unknown sandbox fault marker {scope}-{kind!r}")
        i += 2
        arg = ""
        if kind in _NUMBER_ARG or kind in _TEXT_ARG:
            if kind == "state" and i + 1 < len(parts) and parts[i] == "":
                i += 1  # "state--7": the minus sign split off as an empty segment
            arg = parts[i] if i < len(parts) else ""
            i += 1
            if kind in _NUMBER_ARG and not arg.isdigit():
                raise UnknownFault(f"sandbox fault {scope}-{kind} needs a number")
            if kind == "http" and not 400 <= int(arg) <= 599:
                raise UnknownFault("sandbox fault http-<status> needs a status from 400 to 599")
            if kind == "error" and not arg:
                raise UnknownFault("sandbox fault error-<CODE> needs a code")
            arg = arg.upper()
        elif i < len(parts) and _optional_arg(kind, parts[i]):
            arg = parts[i]
            i += 1
        (api if scope == "fault" else result).append(Fault(kind, arg))
    return Faults(tuple(api), tuple(result))


def counted(faults: Faults) -> bool:
    """Whether the answer depends on how many requests the key has made."""
    limited = faults.get("ratelimit")
    return faults.get("flaky") is not None or (limited is not None and bool(limited.arg))


def rate_limited(faults: Faults, request_number: int) -> bool:
    """Whether the ``ratelimit`` marker refuses this request (the key's ``request_number``th)."""
    limited = faults.get("ratelimit")
    if limited is None:
        return False
    return not limited.arg or request_number <= limited.number


# --- Settings (read per request: tests shorten them) -----------------------------------------


def timeout_seconds() -> float:
    return float(settings.SANDBOX_FAULT_TIMEOUT_S)


def drip_bytes() -> int:
    return max(1, int(settings.SANDBOX_FAULT_DRIP_BYTES))


def drip_interval() -> float:
    return float(settings.SANDBOX_FAULT_DRIP_INTERVAL_S)


# --- Behaviour -------------------------------------------------------------------------------


def delay(faults: tuple[Fault, ...]) -> None:
    """Sleep for ``latency`` and ``timeout`` markers."""
    if latency := find(faults, "latency"):
        time.sleep(latency.number / 1000)
    if find(faults, "timeout"):
        time.sleep(timeout_seconds())


def gateway_error(status: int) -> HttpResponse:
    """What a proxy in front of an API answers: HTML, not the vendor's JSON."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = (
        f"<html><head><title>{status} {phrase}</title></head><body>"
        f"<center><h1>{status} {phrase}</h1></center><hr><center>sandbox gateway</center>"
        "</body></html>\n"
    )
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


def bad_json(prefix: str) -> HttpResponse:
    """A 200 whose JSON stops half way, as a broken proxy or a crashed encoder leaves it."""
    return HttpResponse(prefix, status=200, content_type="application/json")


def unknown_marker(error: UnknownFault) -> HttpResponse:
    return HttpResponse(
        f"{error} (see editor/sandbox/faults.py)\n", status=400, content_type="text/plain"
    )


def shape(response: HttpResponseBase, faults: tuple[Fault, ...]) -> HttpResponseBase:
    """Apply the body faults (``oversize``, ``truncated``, ``drip``) to a finished answer."""
    if not isinstance(response, HttpResponse):
        return response
    if oversize := find(faults, "oversize"):
        return _oversize(response, oversize.arg)
    if find(faults, "truncated"):
        return _truncated(response)
    if find(faults, "drip"):
        return _drip(response)
    return response


def _copy_headers(source: HttpResponse, target: HttpResponseBase) -> HttpResponseBase:
    for name, value in source.items():
        if name.lower() != "content-length":
            target[name] = value
    return target


def _truncated(response: HttpResponse) -> HttpResponseBase:
    body = response.content
    cut = HttpResponse(body[: len(body) // 2], status=response.status_code)
    _copy_headers(response, cut)
    cut["Content-Length"] = str(max(len(body), 1))
    cut[CLOSE_CONNECTION_HEADER] = "1"
    return cut


def _drip_chunks(body: bytes, size: int, interval: float) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        if start:
            time.sleep(interval)
        yield body[start : start + size]


def _drip(response: HttpResponse) -> HttpResponseBase:
    body = response.content
    slow = StreamingHttpResponse(
        _drip_chunks(body, drip_bytes(), drip_interval()), status=response.status_code
    )
    _copy_headers(response, slow)
    slow["Content-Length"] = str(len(body))
    return slow


def _filler(total: int) -> Iterator[bytes]:
    chunk = b" " * (64 * 1024)
    sent = 0
    while sent < total:
        piece = chunk[: total - sent]
        sent += len(piece)
        yield piece


def _oversize(response: HttpResponse, arg: str) -> HttpResponseBase:
    total = (int(arg) if arg.isdigit() else 200) * MB
    big = StreamingHttpResponse(_filler(total), status=200)
    _copy_headers(response, big)
    if arg != "stream":
        big["Content-Length"] = str(total)
    return big
