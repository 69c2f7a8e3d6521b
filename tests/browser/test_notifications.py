"""Step 4: when a job ends, the person hears of it on any page of the studio: a toast with a link
to the job, a badge on the tab's title and favicon, and a browser notification if they allowed
them. A real worker runs the job against the sandbox; ``static/js/notify.js`` polls the job feed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from editor.models import JobStatus

# The real worker and the sandbox it calls (see test_operations).
from tests.browser.steps import (
    JOB_TIMEOUT,
    add_key,
    field,
    job_of,
    open_operation,
    photo,
    run,
    sign_in,
    wait_for,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
]

# Every Notification the page creates is recorded instead of shown.
NOTIFICATION_SPY = """
window.__notifications = [];
(function () {
  var Real = window.Notification;
  function Spy(title, options) {
    options = options || {};
    window.__notifications.push({ title: title, body: options.body, tag: options.tag });
  }
  Object.defineProperty(Spy, "permission", { get: function () { return Real.permission; } });
  Spy.requestPermission = function (callback) { return Real.requestPermission(callback); };
  window.Notification = Spy;
})();
"""

# A tab the person is not looking at: in another tab or another window.
IN_THE_BACKGROUND = """
Object.defineProperty(Document.prototype, "visibilityState", { get: () => "hidden" });
Object.defineProperty(Document.prototype, "hidden", { get: () => true });
Document.prototype.hasFocus = function () { return false; };
"""


def notifications(page: Page) -> list[dict[str, Any]]:
    return list(page.evaluate("window.__notifications"))


def favicon(page: Page) -> str:
    return str(page.locator("link#favicon").get_attribute("href"))


def test_a_job_that_ends_is_announced_on_its_page_and_on_every_other_page(
    page: Page, live_server: LiveServer, settings: SettingsWrapper, tmp_path: Path
) -> None:
    settings.SANDBOX_TASK_MS = 6000  # long enough to open a second page while the job runs
    context = page.context
    context.grant_permissions(["notifications"], origin=live_server.url)
    context.add_init_script(NOTIFICATION_SPY)
    sign_in(page, live_server, "waiter")
    add_key(page, live_server, "picwish", "sandbox-notify-colorize")
    form = open_operation(page, live_server, "colorize")
    field(form, "file_image").set_input_files(photo(tmp_path / "old.jpg", gray=True))
    run(form)
    job = job_of(page)
    job_url = f"/jobs/{job.pk}/"
    expect(page.locator("body")).to_have_attribute("data-active-jobs", "1")
    expect(page).to_have_title(re.compile(r"^Colorize · (Queued|Running|Waiting on vendor) · "))
    assert favicon(page).endswith("/favicon.svg")

    # The studio, open in another tab the person is not looking at.
    studio = context.new_page()
    studio.add_init_script(IN_THE_BACKGROUND)
    studio.goto(live_server.url + "/studio/")
    expect(studio.locator("body")).to_have_attribute("data-active-jobs", "1")
    expect(studio).to_have_title("Studio · Photo Studio")
    expect(studio.locator(".toast")).to_have_count(0)

    # The job page: its status fragment shows the end, and the feed's news is said in the
    # page, not in a toast over the result linking to the page already open.
    wait_for(page, JobStatus.SUCCEEDED)
    ended = page.locator("#job-ended")
    expect(ended).to_contain_text("Colorize finished.", timeout=10_000)
    expect(ended).to_have_attribute("role", "status")
    expect(page.locator("#toasts .toast")).to_have_count(0)
    expect(page).to_have_title("✓ Colorize · Succeeded · Photo Studio")
    assert favicon(page).endswith("/favicon-done.svg")
    # The person is looking at this tab: the toast is enough, no system notification.
    assert notifications(page) == []

    # The other tab: toast, badge and a browser notification.
    other_toast = studio.locator("#toasts .toast")
    expect(other_toast).to_have_count(1, timeout=JOB_TIMEOUT)
    expect(other_toast).to_contain_text("Colorize finished.")
    expect(studio).to_have_title("✓ Studio · Photo Studio")
    assert favicon(studio).endswith("/favicon-done.svg")
    assert notifications(studio) == [
        {"title": "Colorize finished.", "body": "Photo Studio", "tag": f"job-{job.pk}"}
    ]

    # Looking at the tab again takes the badge off.
    page.locator("h1").click()
    expect(page).to_have_title("Colorize · Succeeded · Photo Studio")
    assert favicon(page).endswith("/favicon.svg")

    # The tab nobody looks at keeps its toast until they come back to it.
    expect(other_toast).to_have_count(1)

    # The toast's link leads to the job; the announcement is not repeated on the next page.
    other_toast.get_by_role("link", name="View job").click()
    expect(studio).to_have_url(live_server.url + job_url)
    studio.wait_for_timeout(500)
    expect(studio.locator(".toast")).to_have_count(0)
    expect(studio).to_have_title("Colorize · Succeeded · Photo Studio")
    expect(studio.locator("body")).to_have_attribute("data-active-jobs", "0")


def test_a_failed_job_badges_the_tab_with_a_cross_and_offers_notifications(
    page: Page, live_server: LiveServer, settings: SettingsWrapper, tmp_path: Path
) -> None:
    settings.SANDBOX_TASK_MS = 4000
    sign_in(page, live_server, "failer")
    permission = page.evaluate("Notification.permission")
    add_key(page, live_server, "picwish", "sandbox-fault-state-7-notify")
    form = open_operation(page, live_server, "colorize")
    field(form, "file_image").set_input_files(photo(tmp_path / "old.jpg", gray=True))
    run(form)

    # Never asked on load: only a button, shown while a job runs, asks.
    assert permission == "default"
    offer = page.locator("#notify-offer")
    expect(offer).to_be_visible()
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    offer.get_by_role("button", name="Enable notifications").click()
    expect(offer).to_be_hidden()
    assert page.evaluate("Notification.permission") == "granted"

    wait_for(page, JobStatus.FAILED)
    expect(page.locator("#job-ended")).to_contain_text("Colorize failed.", timeout=10_000)
    expect(page).to_have_title("✕ Colorize · Failed · Photo Studio")
    assert favicon(page).endswith("/favicon-failed.svg")

    # A failed job on another page: a toast, which the person can dismiss.
    page.goto(live_server.url + "/studio/")
    # As if the job ended while the person moved here (a fresh tab session, a cursor before it).
    page.evaluate(
        "sessionStorage.clear();"
        "sessionStorage.setItem('notify:cursor', JSON.stringify({since: 0, at: Date.now()}))"
    )
    page.reload()
    toast = page.locator("#toasts .toast")
    expect(toast).to_contain_text("Colorize failed.", timeout=10_000)
    expect(toast).to_have_class(re.compile(r"\btoast--failed\b"))
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)


def test_signed_out_pages_do_not_poll(page: Page, live_server: LiveServer) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server.url + "/")
    page.wait_for_timeout(500)
    assert not [url for url in requests if "/jobs/feed/" in url]
    expect(page.locator("#notify-offer")).to_have_count(0)
