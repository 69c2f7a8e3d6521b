"""Every page of the studio on a desktop and on a phone: a full-page screenshot of each in
``test-artifacts/screenshots/<page>-<viewport>.png`` for people to look at, and two checks that
need no eyes: nothing is wider than the screen, and every form control has a label.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from editor import operations
from editor.models import JobStatus
from tests.browser.steps import (
    DEVICES,
    SCREENSHOTS,
    add_key,
    field,
    job_of,
    log_in,
    open_operation,
    photo,
    run,
    screenshot,
    settle,
    sign_in,
    wait_for,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
]

# Form controls a person cannot reach by name: no <label for>, no wrapping <label>, no
# aria-label and no aria-labelledby. Hidden inputs and controls kept from assistive technology
# (aria-hidden, standing in for a richer widget) are not for people; an input button is named
# by its value.
UNLABELLED = """
() => Array.from(document.querySelectorAll("input, select, textarea"))
  .filter((el) => el.type !== "hidden" && !el.closest("[aria-hidden=true]"))
  .filter((el) => !(["submit", "button", "reset"].includes(el.type) && el.value.trim()))
  .filter((el) => !(el.labels && el.labels.length))
  .filter((el) => !(el.getAttribute("aria-label") || "").trim())
  .filter((el) => !(el.getAttribute("aria-labelledby") || "").trim())
  .map((el) => el.outerHTML.slice(0, 160))
"""


def run_colorize(page: Page, live_server: LiveServer, key: str, tmp_path: Path) -> None:
    form = open_operation(page, live_server, "colorize")
    form.locator("select[name=key]").select_option(label=f"{key} (••••{key[-4:]})")
    field(form, "file_image").set_input_files(photo(tmp_path / "old.jpg", gray=True))
    run(form)


def run_jobs(page: Page, live_server: LiveServer, tmp_path: Path) -> tuple[str, str]:
    """One colorization that succeeds and one that fails, through the worker and the
    sandbox; returns their pages' paths."""
    sign_in(page, live_server, "shooter")
    good, bad = "sandbox-shots-good", "sandbox-fault-state-7-shots-bad"
    for key in (good, bad):
        add_key(page, live_server, "picwish", key)
    run_colorize(page, live_server, good, tmp_path)
    wait_for(page, JobStatus.SUCCEEDED)
    succeeded = f"/jobs/{job_of(page).pk}/"
    run_colorize(page, live_server, bad, tmp_path)
    wait_for(page, JobStatus.FAILED)
    failed = f"/jobs/{job_of(page).pk}/"
    return succeeded, failed


def settled(page: Page) -> None:
    """Quiet, and every image in (the screenshots show them, offscreen ones included)."""
    settle(page)
    page.evaluate(
        "Promise.all(Array.from(document.images).filter((img) => !img.complete).map((img) =>"
        " new Promise((done) => { img.onload = img.onerror = done; })))"
    )


def shoot(page: Page, name: str, viewport: str, problems: list[str]) -> None:
    settled(page)
    screenshot(page, name, viewport)
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    allowed = int(DEVICES[viewport]["viewport"]["width"])
    if width > allowed:
        problems.append(f"{name}-{viewport}: {width}px wide on a {allowed}px screen")
    for control in page.evaluate(UNLABELLED):
        problems.append(f"{name}-{viewport}: no label for {control}")


def test_every_page_on_a_desktop_and_a_phone(
    browser: Browser,
    page: Page,
    live_server: LiveServer,
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    started = int(time.time() * 1000)
    succeeded, failed = run_jobs(page, live_server, tmp_path)
    signed_in = {
        "studio": "/studio/",
        "vault": "/vault/",
        **{f"operation-{op.slug}": f"/studio/{op.slug}/" for op in operations.OPERATIONS},
        "job-succeeded": succeeded,
        "job-failed": failed,
        "password-change": "/accounts/password/change/",
    }
    problems: list[str] = []
    for viewport, options in DEVICES.items():
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        visitor = context.new_page()
        try:
            for name, path in {
                "home": "/",
                "login": "/accounts/login/",
                "signup": "/accounts/signup/",
            }.items():
                visitor.goto(live_server.url + path)
                shoot(visitor, name, viewport, problems)

            log_in(visitor, live_server, "shooter")
            for name, path in signed_in.items():
                visitor.goto(live_server.url + path)
                expect(visitor.locator("main h1")).to_be_visible()
                shoot(visitor, name, viewport, problems)

            # Toasts: the studio page, told by the page before it that jobs were under way
            # (notify.js carries its feed cursor across pages), announces both jobs.
            visitor.evaluate(
                "since => sessionStorage.setItem('notify:cursor',"
                " JSON.stringify({since: since, at: Date.now()}))",
                started,
            )
            visitor.goto(live_server.url + "/studio/")
            toasts = visitor.locator("#toasts .toast")
            expect(toasts).to_have_count(2)
            expect(toasts.first).to_contain_text("Colorize finished.")
            expect(toasts.last).to_contain_text("Colorize failed.")
            shoot(visitor, "studio-toasts", viewport, problems)
        finally:
            context.close()

    shots = sorted(path.name for path in SCREENSHOTS.glob("*.png"))
    for name in ("home", "login", "signup", *signed_in, "studio-toasts"):
        for viewport in DEVICES:
            assert f"{name}-{viewport}.png" in shots
    assert not problems, "\n".join(problems)
