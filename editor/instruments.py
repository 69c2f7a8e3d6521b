"""The studio's Prometheus instruments that count as things happen, in whichever process they
happen: web requests, vendor calls (and the vendors' 429s), and waits for a key's rate budget.
What is better read from the database when scraped (jobs, the waiting line, storage, workers'
heartbeats) is editor.metrics'.

Every web and worker process has its own copy of these counters. With
``PROMETHEUS_MULTIPROC_DIR`` set (to a folder every process of the host shares, emptied before
they start: `make run` does so), prometheus_client writes them to files there and the metrics
endpoint adds them up; without it, a scrape sees only the web process that answered it. Labels
are kept few and bounded: a view's name rather than its path, a call's kind rather than its URL.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Seconds: from a 1 ms page to a vendor's 5-minute synchronous call.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

http_requests = Counter(
    "studio_http_requests",
    "Web requests answered, by view, method and status code.",
    ("view", "method", "status"),
)
http_seconds = Histogram(
    "studio_http_request_seconds",
    "Time to answer a web request, by view.",
    ("view",),
    buckets=BUCKETS,
)
vendor_calls = Counter(
    "studio_vendor_calls",
    "Requests to vendors, by vendor, kind of call (submit, process, poll, download) and outcome "
    "(the HTTP status, or timeout/network/too_large when there was none).",
    ("vendor", "endpoint", "status"),
)
vendor_seconds = Histogram(
    "studio_vendor_call_seconds",
    "Time a vendor took to answer, by vendor and kind of call.",
    ("vendor", "endpoint"),
    buckets=BUCKETS,
)
vendor_throttled = Counter(
    "studio_vendor_throttled", "Vendor answers saying a key went too fast (429).", ("vendor",)
)
limiter_waits = Counter(
    "studio_limiter_waits",
    "Vendor calls that had to wait for their key's rate budget, by provider.",
    ("provider",),
)
limiter_wait_seconds = Histogram(
    "studio_limiter_wait_seconds",
    "How long a vendor call waited for its key's rate budget, by provider.",
    ("provider",),
    buckets=BUCKETS,
)


def vendor_call(vendor: str, endpoint: str, status: str, seconds: float) -> None:
    """One request to a vendor ended, however it ended."""
    vendor = vendor.lower()
    vendor_calls.labels(vendor, endpoint, status).inc()
    vendor_seconds.labels(vendor, endpoint).observe(seconds)
    if status == "429":
        vendor_throttled.labels(vendor).inc()


def limiter_waited(provider: str, seconds: float) -> None:
    """A vendor call was put off until its key's rate budget had room."""
    limiter_waits.labels(provider).inc()
    limiter_wait_seconds.labels(provider).observe(seconds)
