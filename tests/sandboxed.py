"""The vendor sandbox on a loopback port for in-process tests that call a vendor over HTTP
(a key checked as it is saved). Modules use it by mark:
``pytestmark = [..., pytest.mark.usefixtures("sandboxed")]`` with both fixtures imported."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django import Settings as SettingsWrapper

from editor.sandbox import server
from editor.sandbox.state import STATE


@pytest.fixture(scope="module")
def sandbox() -> Iterator[server.RunningSandbox]:
    running = server.start("127.0.0.1", 0)
    yield running
    running.stop()


@pytest.fixture
def sandboxed(settings: SettingsWrapper, sandbox: server.RunningSandbox) -> server.RunningSandbox:
    """Vendor calls go to the sandbox, whose state (credits, rate windows) starts fresh; rate
    budgets on the database, so each test's roll-back forgets them."""
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_URL = sandbox.url
    settings.RATE_LIMIT_URL = ""
    STATE.reset()
    return sandbox
