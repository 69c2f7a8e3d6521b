"""Playwright against Debian's Chromium (Playwright's own browser downloads fail here)."""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.steps import ARTIFACTS, DEVICES

# The real pipeline's fixtures (a Celery worker, the sandbox, the media they share), for the
# browser tests that run jobs.
from tests.integration.conftest import (  # noqa: F401
    launcher,
    sandbox,
    shared_media,
    worker,
    worker_env,
)

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_failed_key] = report.failed
    return report


_failed_key = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing")
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    # Playwright's sync API keeps an event loop in this thread while the browser is open, and
    # Django's ORM refuses to run beside one unless told it is safe, which it is here: the tests
    # drive the browser synchronously.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def device(request: pytest.FixtureRequest) -> str:
    """The desktop, unless the test is parametrized over devices (``steps.EVERY_DEVICE``)."""
    return str(getattr(request, "param", "desktop"))


@pytest.fixture
def page(browser: Browser, device: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page on ``device``; when the test fails, a screenshot of it is kept in test-artifacts."""
    context = browser.new_context(**DEVICES[device])
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    if request.node.stash.get(_failed_key, False):
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
