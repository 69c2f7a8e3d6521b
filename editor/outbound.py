"""The one httpx client factory for every call the studio makes to another server: the vendor
adapters (editor.vendors.http adds their per-call budgets) and the API's webhooks.

Clients never follow redirects, never take a proxy or credentials from the environment, pool a
bounded number of connections and carry our User-Agent; every request passes its own timeout.
"""

from __future__ import annotations

import threading

import httpx

USER_AGENT = "photo-studio/0.1 (+self-hosted)"
LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=8, keepalive_expiry=30.0)
# For a request that passes none of its own: short, as most outbound calls are.
DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=10.0, pool=30.0)

_shared: httpx.Client | None = None
_shared_lock = threading.Lock()


def make_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A client with our limits. Tests pass an ``httpx.MockTransport``."""
    return httpx.Client(
        timeout=DEFAULT_TIMEOUT,
        limits=LIMITS,
        follow_redirects=False,
        trust_env=False,  # no proxy or netrc surprises from the worker's environment
        headers={"User-Agent": USER_AGENT},
        transport=transport,
    )


def shared_client() -> httpx.Client:
    """One pooled client per process (httpx clients are thread-safe)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = make_client()
        return _shared
