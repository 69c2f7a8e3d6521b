"""The adapters against the sandbox over real HTTP, one fault kind at a time (no worker)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from pytest_django import Settings as SettingsWrapper

from editor import outbound
from editor.sandbox import server
from editor.sandbox.state import STATE
from editor.vendors import http
from editor.vendors.ailabtools.adapter import AILabToolsAdapter
from editor.vendors.base import Done, InputImage, Pending, VendorAdapter, VendorError, VendorRequest
from editor.vendors.picwish import PicWishAdapter
from tests.images import make_image

pytestmark = pytest.mark.integration

PHOTO = InputImage(make_image((200, 150), color=(90, 90, 90)), "image/jpeg", "image.jpg")
STYLE = InputImage(make_image((120, 120), color=(200, 60, 40)), "image/jpeg", "style.jpg")
RETOUCH = VendorRequest("retouch", {"image": PHOTO, "style": STYLE})
COLORIZE = VendorRequest("colorize", {"image": PHOTO}, {"format": "png"})
ADVANCED = VendorRequest("expression_advanced", {"image": PHOTO}, {"expression": "natural_smile"})


@pytest.fixture(scope="module")
def sandbox() -> Iterator[server.RunningSandbox]:
    running = server.start("127.0.0.1", 0)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _fast(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch, sandbox: server.RunningSandbox
) -> None:
    STATE.reset()
    settings.SANDBOX_URL = sandbox.url  # its result links are allowed like a vendor's
    settings.SANDBOX_TASK_MS = 100
    settings.SANDBOX_FAULT_TIMEOUT_S = 3.0
    settings.SANDBOX_FAULT_DRIP_INTERVAL_S = 0.3
    settings.PICWISH_QPS = 100  # the run() loop polls without waiting; 429s are tested apart
    settings.SANDBOX_PICWISH_QPS = 100
    budget = http.CallBudget(httpx.Timeout(1.0), 1.5, 1_000_000)
    for kind in http.CallKind:
        monkeypatch.setitem(http.BUDGETS, kind, budget)


POLL_EVERY_S = 0.02  # 50 polls a second: under the sandbox's 100 QPS set above
RUN_LIMIT_S = 10.0


def run(adapter: VendorAdapter, request: VendorRequest) -> Done:
    """Submit, then poll until done, as the pipeline would (without its long waits: the
    sandbox's tasks take 100 ms here)."""
    outcome = adapter.submit(request)
    deadline = time.monotonic() + RUN_LIMIT_S
    while time.monotonic() < deadline:
        if isinstance(outcome, Done):
            return outcome
        assert isinstance(outcome, Pending)
        time.sleep(POLL_EVERY_S)
        outcome = adapter.poll(outcome.task_ref)
    raise AssertionError("never finished")


def ailab(sandbox: server.RunningSandbox, key: str) -> AILabToolsAdapter:
    return AILabToolsAdapter(api_key=key, client=outbound.make_client(), base_url=sandbox.url)


def picwish(sandbox: server.RunningSandbox, key: str) -> PicWishAdapter:
    return PicWishAdapter(api_key=key, client=outbound.make_client(), base_url=sandbox.url)


@pytest.mark.parametrize("key", ["sandbox-ok", "sandbox-legacy-ok", "sandbox-fault-latency-300-x"])
def test_retouch_succeeds_in_both_envelope_generations(
    sandbox: server.RunningSandbox, key: str
) -> None:
    done = run(ailab(sandbox, key), RETOUCH)
    assert done.media_type in {"image/jpeg", "image/png"}


def test_async_operations_succeed(sandbox: server.RunningSandbox) -> None:
    assert run(picwish(sandbox, "sandbox-p"), COLORIZE).media_type == "image/png"
    assert run(ailab(sandbox, "sandbox-a"), ADVANCED).images


@pytest.mark.parametrize(
    ("key", "code", "retryable"),
    [
        ("wrong-key", "ERROR_APPLICATIONS_NOT_EXISTS", False),
        ("sandbox-fault-error-ERROR_NOT_ENOUGH_CREDITS-x", "ERROR_NOT_ENOUGH_CREDITS", False),
        ("sandbox-fault-error-ERROR_NO_FACE_IN_FILE-x", "ERROR_NO_FACE_IN_FILE", False),
        (
            "sandbox-fault-error-ERROR_CONTENT_NON_COMPLIANCE-x",
            "ERROR_CONTENT_NON_COMPLIANCE",
            False,
        ),
        ("sandbox-fault-error-AI_SERVICE_ERROR-x", "AI_SERVICE_ERROR", True),
        (
            "sandbox-legacy-fault-error-ERROR_NOT_ENOUGH_CREDITS-x",
            "ERROR_NOT_ENOUGH_CREDITS",
            False,
        ),
        ("sandbox-fault-ratelimit-x", "EXCEEDING_LIMITS", True),
        ("sandbox-fault-http-502-x", None, True),
        ("sandbox-fault-http-503-x", None, True),
        ("sandbox-fault-timeout-x", "timeout", True),
        ("sandbox-fault-badjson-x", "bad_response", True),
        ("sandbox-fault-truncated-x", "bad_response", True),
        ("sandbox-fault-drip-x", "timeout", True),
        ("sandbox-fault-oversize-2-x", "too_large", False),
        ("sandbox-fault-oversize-2-stream-x", "too_large", False),
        ("sandbox-resultfault-expired-x", "result_expired", False),
        ("sandbox-resultfault-http-503-x", "download_503", True),
    ],
)
def test_each_fault_is_classified(
    sandbox: server.RunningSandbox, key: str, code: str | None, retryable: bool
) -> None:
    with pytest.raises(VendorError) as caught:
        run(ailab(sandbox, key), RETOUCH)
    error = caught.value
    assert error.retryable is retryable, error
    if code:
        assert error.code == code
    assert key not in error.message
    assert "://" not in error.message


@pytest.mark.parametrize(
    ("key", "code", "retryable"),
    [
        ("wrong-key", "unauthorized", False),
        ("sandbox-fault-state-7-x", "state_-7", False),
        ("sandbox-fault-state-8-x", "state_-8", False),
        ("sandbox-fault-ratelimit-x", "rate_limited", True),
        ("sandbox-fault-http-500-x", None, True),
        ("sandbox-fault-badjson-x", "bad_response", True),
        ("sandbox-fault-expired-x", "result_expired", False),
    ],
)
@pytest.mark.parametrize("blocking", [False, True], ids=["async", "sync"])
def test_each_picwish_fault_is_classified(
    sandbox: server.RunningSandbox,
    settings: SettingsWrapper,
    key: str,
    code: str | None,
    retryable: bool,
    blocking: bool,
) -> None:
    settings.PICWISH_SYNC = blocking
    if blocking and code == "state_-8":
        # A timeout told in the answer to the blocking call made no task to wait on: the same
        # call may simply be made again (as for a submit), unlike a task that timed out.
        retryable = True
    with pytest.raises(VendorError) as caught:
        run(picwish(sandbox, key), COLORIZE)
    assert caught.value.retryable is retryable, caught.value
    if code:
        assert caught.value.code == code


def test_a_failed_async_task_is_reported(sandbox: server.RunningSandbox) -> None:
    with pytest.raises(VendorError) as caught:
        run(ailab(sandbox, "sandbox-fault-taskfail-x"), ADVANCED)
    assert not caught.value.retryable


def test_the_retired_endpoint_points_to_the_built_in_engine(
    sandbox: server.RunningSandbox,
) -> None:
    request = VendorRequest("color_migration", {"image": PHOTO}, {"mode": "AUTO", "degree": 0.4})
    with pytest.raises(VendorError) as caught:
        run(ailab(sandbox, "sandbox-x"), request)
    assert "built-in engine" in caught.value.message
    # Before the retirement, both documented contracts worked; the adapter still speaks them.
    assert run(ailab(sandbox, "sandbox-colormig-x"), request).images


def test_the_credit_query_follows_what_the_key_spends(sandbox: server.RunningSandbox) -> None:
    adapter = ailab(sandbox, "sandbox-credits-100-x")
    before = adapter.query_credits().universal
    assert before is not None
    assert (before.balance, before.total) == (100, 100)
    run(adapter, RETOUCH)
    run(adapter, ADVANCED)
    after = adapter.query_credits().universal
    assert after is not None
    assert after.balance == 100 - 3 - 15


@pytest.mark.parametrize(
    ("key", "code", "retryable"),
    [
        ("wrong-key", "ERROR_APPLICATIONS_NOT_EXISTS", False),
        ("sandbox-fault-error-ERROR_USER_LOCKED-x", "ERROR_USER_LOCKED", False),
        ("sandbox-fault-ratelimit-x", "EXCEEDING_LIMITS", True),
        ("sandbox-fault-http-502-x", "http_502", True),
        ("sandbox-fault-badjson-x", "bad_response", True),
        ("sandbox-fault-drip-x", "timeout", True),
    ],
)
def test_credit_query_faults_are_classified(
    sandbox: server.RunningSandbox, key: str, code: str, retryable: bool
) -> None:
    with pytest.raises(VendorError) as caught:
        ailab(sandbox, key).query_credits()
    assert (caught.value.code, caught.value.retryable) == (code, retryable)
    assert key not in caught.value.message
