"""Issue 21, item 7: a newcomer's first journey, on a desktop and a phone. No console error on
any page; the job's own page says it finished in place (no toast over the result); the offer of
notifications comes once, on the page of the first job; the form sits beside the picture on a
wide screen and stacked on a phone. A real worker runs the jobs against the sandbox.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import ConsoleMessage, Error, FloatRect, Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from editor import jobs
from editor.models import Job, JobStatus
from tests.browser.steps import (
    EVERY_DEVICE,
    add_key,
    field,
    log_in,
    open_operation,
    photo,
    results,
    run,
    sign_in,
    wait_for,
)
from tests.factories import make_job, make_user

pytestmark = [pytest.mark.django_db(transaction=True)]


def collect_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{page.url}: {message.text}")

    def on_error(error: Error) -> None:
        errors.append(f"{page.url}: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    return errors


# Where the job's status section starts on the page (the document's own coordinates).
STATUS_TOP = "() => document.getElementById('job-status').getBoundingClientRect().top + scrollY"
# Kept the moment the status first shows an ended job: a mutation observer runs after the swap's
# own event handlers, before anything a later task (the feed, a timer) does.
STATUS_TOP_AT_END = f"""() => {{
    window.statusTopAtEnd = null;
    new MutationObserver(() => {{
        const section = document.getElementById("job-status");
        const ended = ["succeeded", "failed", "canceled"].includes(section?.dataset.status);
        if (ended && window.statusTopAtEnd === null) {{
            window.statusTopAtEnd = ({STATUS_TOP})();
        }}
    }}).observe(document.body, {{ childList: true, subtree: true, attributes: true }});
}}"""


def overlap(a: FloatRect, b: FloatRect) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


@EVERY_DEVICE
@pytest.mark.integration
@pytest.mark.usefixtures("worker")
def test_a_newcomers_journey(
    page: Page, device: str, live_server: LiveServer, settings: SettingsWrapper, tmp_path: Path
) -> None:
    settings.SANDBOX_TASK_MS = 1500
    errors = collect_errors(page)
    page.goto(live_server.url + "/accounts/login/")
    expect(page.get_by_label("Login:")).to_have_attribute("autocomplete", "username")
    sign_in(page, live_server, "newcomer")
    # No offer of notifications before there is anything to be notified of.
    expect(page.locator("#notify-offer")).to_have_count(0)
    add_key(page, live_server, "picwish", "sandbox-newcomer-colorize")

    form = open_operation(page, live_server, "colorize")
    picture = form.locator(".field--file_image").bounding_box()
    settings_box = form.locator("#saved-presets").bounding_box()
    assert picture
    assert settings_box
    if device == "desktop":  # side by side, the settings at the picture's height
        assert settings_box["x"] >= picture["x"] + picture["width"]
        assert settings_box["y"] < picture["y"] + picture["height"]
    else:  # stacked
        assert abs(settings_box["x"] - picture["x"]) < 2

    # Saving a preset, in place.
    panel = form.locator("#saved-presets")
    panel.get_by_text("Save these settings as a preset").click()
    panel.get_by_label("Preset name").fill("Mine")
    panel.get_by_role("button", name="Save preset").click()
    expect(form.locator("#saved-presets").get_by_role("status")).to_have_text(
        "Saved the preset “Mine”."
    )

    field(form, "file_image").set_input_files(photo(tmp_path / "old.jpg", gray=True))
    run(form)
    # The first job: notifications are offered now, on its page, once.
    offer = page.locator("#notify-offer")
    expect(offer).to_be_visible()
    page.evaluate(STATUS_TOP_AT_END)
    wait_for(page, JobStatus.SUCCEEDED)
    ended = page.locator("#job-ended")
    expect(ended).to_have_text("Colorize finished. Finished: the result is below.", timeout=10_000)
    # The line came with the end itself: nothing moved the status (and the links in it) once
    # it showed the end, not the line, the offer or the feed's word coming after.
    page.wait_for_timeout(500)
    assert page.evaluate(f"({STATUS_TOP})()") == page.evaluate("window.statusTopAtEnd")
    result = results(page).first
    expect(result).to_be_visible()
    page.wait_for_timeout(500)  # the feed's toast would have come by now
    expect(page.locator("#toasts .toast")).to_have_count(0)
    result_box = result.bounding_box()
    assert result_box
    for toast in page.locator("#toasts .toast").all():
        box = toast.bounding_box()
        assert box is None or not overlap(box, result_box)

    for path in ("/", "/studio/", "/gallery/", "/usage/", "/shares/", "/vault/"):
        page.goto(live_server.url + path)
        expect(page.locator("#notify-offer")).to_have_count(0)

    # The second job: not offered again.
    form = open_operation(page, live_server, "colorize")
    field(form, "file_image").set_input_files(photo(tmp_path / "again.jpg", gray=True))
    run(form)
    page.wait_for_timeout(300)
    expect(page.locator("#notify-offer")).to_be_hidden()
    wait_for(page, JobStatus.SUCCEEDED)
    expect(page.locator("#job-ended")).to_be_visible(timeout=10_000)

    assert errors == []


def test_out_of_credits_and_cancel_say_what_to_do_next(page: Page, live_server: LiveServer) -> None:
    """No worker: the jobs are set up as they end."""
    errors = collect_errors(page)
    user = make_user("broke")
    failed = make_job(user, JobStatus.FAILED)
    Job.objects.filter(pk=failed.pk).update(
        error_code="ERROR_NOT_ENOUGH_CREDITS", finished_at=timezone.now()
    )
    log_in(page, live_server, "broke")
    page.goto(f"{live_server.url}/jobs/{failed.pk}/")
    actions = page.locator(".job-actions")
    expect(actions.locator(".button--primary")).to_have_text("Check the key's balance")
    expect(actions.get_by_role("link", name="Choose another key")).to_be_visible()
    expect(actions.get_by_role("button", name="Retry")).to_have_class("button button--secondary")

    running = make_job(user, JobStatus.QUEUED)
    page.goto(f"{live_server.url}/jobs/{running.pk}/")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-refund")).to_have_text(
        "Canceled: the 1 credit it was charged was given back."
    )
    page.reload()
    expect(page.locator("#job-refund")).to_be_visible()

    # Another job's news on a job page: a toast in the page's flow, not over the photo.
    page.evaluate(
        "sessionStorage.clear();"
        "sessionStorage.setItem('notify:cursor', JSON.stringify({since: 0, at: Date.now()}))"
    )
    page.reload()
    toast = page.locator("#toasts .toast")
    expect(toast).to_contain_text("Colorize failed.")
    photo_box = page.locator("#job-status img").first.bounding_box()
    toast_box = toast.bounding_box()
    assert photo_box
    assert toast_box
    assert not overlap(toast_box, photo_box)
    assert errors == []


@pytest.mark.usefixtures("worker")
def test_a_job_against_an_unreachable_vendor_says_when_it_gives_up(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    """Issue 20, item 4: the vendor answers every call with a gateway's 503 page (as when it
    cannot be reached); the job page says which try this is, when the next one comes and when
    the job gives up, as a time a person reads and a machine parses."""
    errors = collect_errors(page)
    sign_in(page, live_server, "waiter")
    add_key(page, live_server, "picwish", "sandbox-fault-http-503-waiter")
    form = open_operation(page, live_server, "colorize")
    field(form, "file_image").set_input_files(photo(tmp_path / "old.jpg", gray=True))
    job = run(form)

    retrying = page.locator("#job-retrying")
    expect(retrying).to_contain_text("Attempt ", timeout=30_000)
    gives_up = page.locator("#job-gives-up")
    expect(gives_up).to_have_text(
        re.compile(r"^gives up at \d\d:\d\d \(in about \d+ min\)$"), timeout=10_000
    )
    job.refresh_from_db()
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    moment = gives_up.locator("time").get_attribute("datetime")
    assert moment
    assert dt.datetime.fromisoformat(moment) == jobs.gives_up_at(job)
    shown = timezone.localtime(jobs.gives_up_at(job)).strftime("%H:%M")
    expect(gives_up.locator("time")).to_have_text(shown)
    assert errors == []
