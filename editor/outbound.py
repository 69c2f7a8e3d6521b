"""The one httpx client factory for every call the studio makes to another server: the vendor
adapters (editor.vendors.http adds their per-call budgets) and the API's webhooks; and the rate
budget each vendor key's calls count against (jobs and key checks alike).

Clients never follow redirects, never take a proxy or credentials from the environment (a
caller may name a proxy explicitly), pool a bounded number of connections and carry our
User-Agent; every request passes its own timeout.
"""

from __future__ import annotations

import ipaddress
import threading

import httpx
from django.conf import settings

from limiter import core as limiter

USER_AGENT = "photo-studio/0.1 (+self-hosted)"
LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=8, keepalive_expiry=30.0)
# For a request that passes none of its own: short, as most outbound calls are.
DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=10.0, pool=30.0)

_shared: httpx.Client | None = None
_shared_lock = threading.Lock()


def make_client(
    transport: httpx.BaseTransport | None = None, proxy: str | None = None
) -> httpx.Client:
    """A client with our limits. Tests pass an ``httpx.MockTransport``; ``proxy`` is an egress
    proxy's URL, which then makes every connection (and resolves every name)."""
    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        limits=LIMITS,
        follow_redirects=False,
        trust_env=False,  # no proxy or netrc surprises from the worker's environment
        headers={"User-Agent": USER_AGENT},
        transport=transport,
        proxy=proxy or None,
    )


def pin(
    request: httpx.Request, address: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> httpx.Request:
    """``request``, made to connect to ``address`` and nowhere else, with no look-up of its
    host name: the address is the one a policy checked (editor.addresses), and a second look-up
    could answer differently (DNS rebinding).

    Only the connection moves. The URL's host becomes the address, which is all httpcore dials;
    the ``Host`` header, set from the name when the request was built, stays; for https the
    ``sni_hostname`` extension makes httpcore send the name in TLS SNI and verify the
    certificate against the name (Python's ssl checks the server_hostname it is given), so a
    certificate for the name is still required. Send a pinned request on a client of its own:
    a pool keys connections by the address, and must not hand a connection made (and verified)
    for one name to a request for another name at the same address.
    """
    name = request.url.raw_host.decode("ascii")
    request.url = request.url.copy_with(host=str(address))
    if request.url.scheme == "https":
        request.extensions = {**request.extensions, "sni_hostname": name}
    return request


def shared_client() -> httpx.Client:
    """One pooled client per process (httpx clients are thread-safe)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = make_client()
        return _shared


# --- A vendor's rate budget per key ---------------------------------------------------------


def vendor_rate(vendor: str) -> limiter.Rate:
    """A vendor's budget per key: PicWish documents 2 requests a second, polls included;
    AILabTools documents none (settings)."""
    if vendor == "picwish":
        return limiter.Rate(settings.PICWISH_QPS, 1.0)
    return limiter.Rate.parse(settings.AILABTOOLS_RATE)


def vendor_budget(vendor: str, secret: str) -> str:
    """The rate budget every call made with this key counts against (jobs and checks alike)."""
    return limiter.budget_name("vendor", vendor, limiter.secret(secret))
