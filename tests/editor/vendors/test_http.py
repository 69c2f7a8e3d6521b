from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from pytest_django import Settings as SettingsWrapper

from editor.outbound import make_client
from editor.vendors import http
from editor.vendors.base import VendorError
from editor.vendors.http import CallKind, Origin, call, download_result
from tests.images import make_image

VENDOR = (Origin.parse("https://*.vendor.test"),)


def client_for(handler: httpx.MockTransport) -> httpx.Client:
    return make_client(transport=handler)


def test_client_never_follows_redirects_and_ignores_proxy_environment() -> None:
    client = make_client()
    assert client.follow_redirects is False
    assert client._trust_env is False


def test_every_call_kind_has_explicit_timeouts() -> None:
    for kind in CallKind:
        timeout = http.BUDGETS[kind].timeout
        assert None not in (timeout.connect, timeout.read, timeout.write, timeout.pool)
    assert (http.BUDGETS[CallKind.PROCESS].timeout.read or 0) >= 120  # diffusion takes minutes


def test_a_call_cap_cuts_every_time_but_not_the_byte_cap(settings: SettingsWrapper) -> None:
    assert http.budget_for(CallKind.PROCESS) == http.BUDGETS[CallKind.PROCESS]
    assert http.longest_step_seconds() == 330 + 120
    settings.VENDOR_CALL_MAX_SECONDS = 3
    budget = http.budget_for(CallKind.PROCESS)
    timeout = budget.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (3, 3, 3, 3)
    assert budget.deadline == 3
    assert budget.max_bytes == http.BUDGETS[CallKind.PROCESS].max_bytes
    assert http.budget_for(CallKind.POLL).timeout.connect == 3  # 10 s before
    assert http.longest_step_seconds() == 6


def test_call_sends_the_kind_timeout() -> None:
    seen: list[dict[str, float]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={})

    call(
        client_for(httpx.MockTransport(handler)),
        "GET",
        "https://api.vendor.test/x",
        kind=CallKind.PROCESS,
        vendor_label="V",
    )
    assert seen[0]["read"] == http.BUDGETS[CallKind.PROCESS].timeout.read


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "network"),
        (httpx.RemoteProtocolError("cut"), "network"),
    ],
)
def test_transport_failures_become_retryable_vendor_errors(
    error: httpx.HTTPError, code: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(VendorError) as caught:
        call(
            client_for(httpx.MockTransport(handler)),
            "GET",
            "https://a.test/",
            kind=CallKind.POLL,
            vendor_label="V",
        )
    assert caught.value.retryable
    assert caught.value.code == code


def test_body_over_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        http.BUDGETS, CallKind.POLL, http.CallBudget(httpx.Timeout(5.0), 10.0, 1000)
    )

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 200

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    with pytest.raises(VendorError) as caught:
        call(
            client_for(httpx.MockTransport(handler)),
            "GET",
            "https://a.test/",
            kind=CallKind.POLL,
            vendor_label="V",
        )
    assert caught.value.code == "too_large"


def test_declared_length_over_the_cap_is_refused_before_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        http.BUDGETS, CallKind.POLL, http.CallBudget(httpx.Timeout(5.0), 10.0, 1000)
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "5000000"}, content=b"x")

    with pytest.raises(VendorError, match="larger than we accept"):
        call(
            client_for(httpx.MockTransport(handler)),
            "GET",
            "https://a.test/",
            kind=CallKind.POLL,
            vendor_label="V",
        )


def test_a_slow_drip_body_hits_the_total_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        http.BUDGETS, CallKind.POLL, http.CallBudget(httpx.Timeout(5.0), 0.05, 10_000)
    )

    def drip() -> Iterator[bytes]:
        import time

        for _ in range(20):
            time.sleep(0.01)
            yield b"."

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip())

    with pytest.raises(VendorError) as caught:
        call(
            client_for(httpx.MockTransport(handler)),
            "GET",
            "https://a.test/",
            kind=CallKind.POLL,
            vendor_label="V",
        )
    assert caught.value.code == "timeout"
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://cdn.vendor.test/r.png?sig=1", True),
        ("https://vendor.test/r.png", True),
        ("https://evilvendor.test/r.png", False),
        ("https://cdn.vendor.test.evil.test/r.png", False),
        ("http://cdn.vendor.test/r.png", False),
        ("https://cdn.vendor.test:8443/r.png", False),
        ("https://user:pw@cdn.vendor.test/r.png", False),
        ("https://127.0.0.1/r.png", False),
        ("file:///etc/passwd", False),
        ("http://127.0.0.1:9000/results/x.png", True),
        ("http://127.0.0.1:9001/results/x.png", False),
    ],
)
def test_result_hosts_are_allow_listed(settings: SettingsWrapper, url: str, allowed: bool) -> None:
    settings.VENDOR_RESULT_HOSTS = ["http://127.0.0.1:9000"]
    assert http.origin_allowed(url, VENDOR) is allowed


def test_plain_http_origins_are_only_for_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Origin.parse("http://cdn.example.com")
    assert Origin.parse("http://[::1]:9000").port == 9000


def test_download_fetches_and_sniffs_the_image() -> None:
    png = make_image(fmt="PNG")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Type": "application/octet-stream"}, content=png
        )

    image = download_result(
        client_for(httpx.MockTransport(handler)),
        "https://cdn.vendor.test/a?sig=x",
        vendor_origins=VENDOR,
        vendor_label="V",
    )
    assert image.media_type == "image/png"
    assert image.data == png


def test_download_refuses_a_host_off_the_list_without_a_request() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("must not be called")

    with pytest.raises(VendorError) as caught:
        download_result(
            client_for(httpx.MockTransport(handler)),
            "https://attacker.test/a.png",
            vendor_origins=VENDOR,
            vendor_label="V",
        )
    assert caught.value.code == "result_host_not_allowed"
    assert "attacker" not in caught.value.message


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [(403, "result_expired", False), (302, "download_302", False), (503, "download_503", True)],
)
def test_download_failures_are_classified(status: int, code: str, retryable: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Location": "https://x.test/"}, content=b"<Error/>")

    with pytest.raises(VendorError) as caught:
        download_result(
            client_for(httpx.MockTransport(handler)),
            "https://cdn.vendor.test/a?sig=secret",
            vendor_origins=VENDOR,
            vendor_label="V",
        )
    assert (caught.value.code, caught.value.retryable) == (code, retryable)
    assert "secret" not in caught.value.message


def test_download_refuses_a_body_that_is_not_an_image() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>not an image</html>")

    with pytest.raises(VendorError, match="not a JPEG, PNG or WebP"):
        download_result(
            client_for(httpx.MockTransport(handler)),
            "https://cdn.vendor.test/a",
            vendor_origins=VENDOR,
            vendor_label="V",
        )


def test_httpx_loggers_do_not_print_request_lines() -> None:
    # httpx logs each URL (signed result links included) at INFO.
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpcore").isEnabledFor(logging.INFO)
