"""Every page a person sees works under the Content-Security-Policy in a real browser: no
``securitypolicyviolation`` event and no console error, while each page's scripts run (a photo
preview from a blob: URL, an htmx swap, the before/after slider, the admin's own scripts).

The policy itself is checked header by header in tests/config/test_security_headers.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect
from pytest_django.live_server_helper import LiveServer

from editor import operations
from editor.models import ShareLink
from tests.browser.steps import add_key, assert_loaded, log_in, photo
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db(transaction=True)

# Reported to Python as they happen, so none is lost to a navigation.
LISTEN = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.reportViolation([event.violatedDirective, event.blockedURI, event.sourceFile + ":"
    + event.lineNumber, location.pathname].join(" "));
});
"""


class Watch:
    """What went wrong on the pages visited so far."""

    def __init__(self, page: Page) -> None:
        self.violations: list[str] = []
        self.errors: list[str] = []
        page.expose_function("reportViolation", self._violation)
        page.add_init_script(LISTEN)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _violation(self, text: str) -> None:
        self.violations.append(text)

    def _console(self, message: ConsoleMessage) -> None:
        # Django's admin pages name no icon, so the browser asks for /favicon.ico: not ours.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.errors.append(f"{message.text} at {message.location.get('url')}")

    def assert_clean(self, page: Page) -> None:
        # Violations are dispatched as tasks: let the page's queue drain first.
        page.evaluate("new Promise(resolve => setTimeout(resolve, 50))")
        assert self.violations == [], self.violations
        assert self.errors == [], self.errors


def visit(page: Page, watch: Watch, url: str) -> None:
    response = page.goto(url)
    assert response is not None
    assert response.status == 200, url
    assert "script-src 'self'" in (response.header_value("content-security-policy") or "")
    page.wait_for_load_state("load")
    watch.assert_clean(page)


def test_every_page_runs_under_the_policy(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    watch = Watch(page)
    base = live_server.url

    # Signed out: the entrance pages.
    visit(page, watch, base + "/accounts/signup/")
    visit(page, watch, base + "/accounts/login/")
    person = make_user("csp")
    person.is_staff = person.is_superuser = True
    person.save()
    log_in(page, live_server, "csp")
    watch.assert_clean(page)

    # The vault: adding a key is an htmx swap.
    add_key(page, live_server, "picwish", "sandbox-csp-picwish")
    watch.assert_clean(page)

    # Every operation page; the first one gets a photo, previewed from a blob: URL.
    for number, operation in enumerate(operations.OPERATIONS):
        visit(page, watch, f"{base}/studio/{operation.slug}/")
        if number == 0:
            chosen = page.locator("#operation-form input[type=file]").first
            chosen.set_input_files(str(photo(tmp_path / "photo.jpg")))
            preview = page.locator("[data-preview]").first
            assert_loaded(preview)
            assert str(preview.get_attribute("src")).startswith("blob:")
            watch.assert_clean(page)

    # A job with a result: its page, with the before/after slider moved by keyboard.
    job = make_job(person)
    visit(page, watch, f"{base}/jobs/{job.pk}/")
    divider = page.locator("[data-compare-divider]")
    expect(divider).to_be_visible()
    before = divider.get_attribute("aria-valuenow")
    divider.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(divider).not_to_have_attribute("aria-valuenow", str(before))
    watch.assert_clean(page)

    # The studio and the gallery; a filter change swaps the results by htmx.
    visit(page, watch, base + "/studio/")
    visit(page, watch, base + "/gallery/")
    with page.expect_response(lambda response: "/gallery/" in response.url):
        page.locator("#gallery-filters select").first.select_option(index=1)
    page.wait_for_function("() => !document.querySelector('#gallery-results.htmx-request')")
    watch.assert_clean(page)

    for path in ("/usage/", "/shares/", "/account/tokens/", "/accounts/password/change/"):
        visit(page, watch, base + path)

    # A public share page with the original: the slider again, without a session.
    result = job.results.get()
    _link, token = ShareLink.create(result, lifetime=dt.timedelta(days=1), include_original=True)
    visit(page, watch, f"{base}/s/{token}/")
    assert_loaded(page.locator("img").first)

    # The admin: its index, the studio dashboard and a change page with its widgets.
    visit(page, watch, base + "/admin/")
    visit(page, watch, base + "/admin/dashboard/")
    visit(page, watch, f"{base}/admin/accounts/user/{person.pk}/change/")
    visit(page, watch, base + "/admin/editor/job/")
    page.locator("#action-toggle").check()  # the admin's actions.js
    expect(page.locator(".action-counter")).to_contain_text("1 of 1")
    watch.assert_clean(page)


def test_a_violation_would_be_seen(page: Page, live_server: LiveServer) -> None:
    """The listener works: an inline style added to a page is reported."""
    watch = Watch(page)
    visit(page, watch, live_server.url + "/accounts/login/")
    page.evaluate(
        "document.head.insertAdjacentHTML('beforeend', '<style>body { color: red }</style>')"
    )
    page.evaluate("new Promise(resolve => setTimeout(resolve, 100))")
    assert any(violation.startswith("style-src") for violation in watch.violations)
