"""Step 3 from a person's seat: sign in, add a sandbox key in the vault, run each operation from
its page, watch the job page's status fragment poll, and see the result image load.

A real Celery worker (tests.integration.conftest) runs the jobs against the vendor sandbox over
HTTP; the live server and the worker share the test database and ``MEDIA_ROOT``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from editor.models import ACTIVE_STATUSES, Job, JobStatus, Vendor
from tests.browser.steps import (
    add_key,
    field,
    job_of,
    open_operation,
    photo,
    portrait,
    results,
    run,
    see_success,
    sign_in,
    status,
    statuses_seen,
    wait_for,
)
from tests.factories import make_key

# The real worker and the sandbox it calls; every test here needs them, so they are used by
# mark rather than by argument.

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
]

# --- One test per operation and provider ---------------------------------------------------


def test_colorize_with_picwish(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    sign_in(page, live_server, "colorist")
    add_key(page, live_server, "picwish", "sandbox-browser-colorize")
    form = open_operation(page, live_server, "colorize")
    field(form, "format").select_option("png")
    field(form, "file_image").set_input_files(photo(tmp_path / "old.jpg", gray=True))
    run(form)

    (size,) = see_success(page)
    # The page opened on a job still under way and the poll carried it through to the end.
    seen = statuses_seen(page)
    assert seen[0] in ACTIVE_STATUSES, seen
    assert len(seen) >= 2, seen
    assert size == (320, 240)
    result = Job.objects.get().results.get()
    assert result.media_type == "image/png"


def test_color_migration_on_the_built_in_engine_needs_no_key(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "painter")
    form = open_operation(page, live_server, "color_migration")
    expect(field(form, "provider")).to_have_value("local")
    field(form, "mode").select_option("AUTO")
    field(form, "color_count").fill("2")
    field(form, "file_image").set_input_files(photo(tmp_path / "street.jpg"))
    run(form)

    see_success(page, count=2)
    expect(status(page)).to_contain_text("After 2")
    job = job_of(page)
    assert job.credits == 0
    assert job.key is None


def test_color_migration_on_retired_ailabtools_points_to_the_built_in_engine(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "legacy")
    add_key(page, live_server, "ailabtools", "sandbox-browser-migration")
    form = open_operation(page, live_server, "color_migration")
    field(form, "provider").select_option("ailabtools")
    field(form, "mode").select_option("AUTO")
    field(form, "file_image").set_input_files(photo(tmp_path / "street.jpg"))
    run(form)

    section = wait_for(page, JobStatus.FAILED)
    expect(section.get_by_role("alert")).to_contain_text("built-in engine")
    # Retrying cannot help a retired endpoint: the page offers the built-in engine instead.
    expect(section.get_by_role("button", name="Retry")).to_have_count(0)
    expect(results(page)).to_have_count(0)
    section.get_by_role("link", name="Use the built-in engine").click()
    expect(page.locator("select[name=provider]")).to_have_value("local")


def test_retouch_from_a_style_photo(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    sign_in(page, live_server, "retoucher")
    add_key(page, live_server, "ailabtools", "sandbox-browser-retouch")
    form = open_operation(page, live_server, "retouch")
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg"))
    field(form, "file_style").set_input_files(portrait(tmp_path / "style.jpg"))
    run(form)

    see_success(page)


def test_image_extender_widens_the_frame(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "extender")
    add_key(page, live_server, "ailabtools", "sandbox-browser-extend")
    form = open_operation(page, live_server, "extend")
    for side, ratio in {"top": "0.2", "bottom": "0.1", "left": "0", "right": "0.5"}.items():
        field(form, side).fill(ratio)
    field(form, "file_image").set_input_files(photo(tmp_path / "narrow.jpg"))
    run(form)

    (size,) = see_success(page)
    assert size[0] > 320, size
    assert size[1] > 240, size


def test_classic_expression_big_grin(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    sign_in(page, live_server, "grinner")
    add_key(page, live_server, "ailabtools", "sandbox-browser-expression")
    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools")
    field(form, "service_choice").select_option(label="Big grin")
    field(form, "file_image").set_input_files(portrait(tmp_path / "face.jpg"))
    run(form)

    see_success(page)
    assert job_of(page).params["service_choice"] in ("12", 12)


def test_advanced_expression_natural_smile(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "smiler")
    add_key(page, live_server, "ailabtools", "sandbox-browser-advanced")
    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools_advanced")
    field(form, "expression").select_option("natural_smile")
    field(form, "file_image").set_input_files(portrait(tmp_path / "face.jpg"))
    run(form)

    # An asynchronous AILabTools task: the worker polls it every 5 s (vendor's advice), and
    # the page shows it waiting on the vendor meanwhile.
    see_success(page)
    assert JobStatus.WAITING in statuses_seen(page)
    job = job_of(page)
    assert job.provider == "ailabtools_advanced"
    assert job.params["expression"] == "natural_smile"


# --- Failure, retry and cancel --------------------------------------------------------------


def test_a_failed_job_shows_why_and_retry_runs_it_again(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    unlucky = sign_in(page, live_server, "unlucky")
    # A key the vendor took when it was saved and has since disabled (the vault refuses one the
    # vendor rejects at entry): the job is where the refusal shows.
    secret = "sandbox-fault-error-ERROR_APPLICATIONS_NOT_EXISTS-x"
    make_key(unlucky, Vendor.AILABTOOLS, secret, label=secret)
    row = page.locator(".vault-key").filter(has_text=secret)
    form = open_operation(page, live_server, "retouch")
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg"))
    field(form, "file_style").set_input_files(portrait(tmp_path / "style.jpg"))
    run(form)
    job_url = page.url

    section = wait_for(page, JobStatus.FAILED)
    expect(section.get_by_role("alert")).to_contain_text("did not accept your API key")
    expect(section.locator(".badge")).to_have_text("Failed")
    retry = section.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    expect(section.get_by_role("button", name="Cancel")).to_have_count(0)

    # The vault shows the key's error; replacing the key and retrying the same job succeeds.
    page.goto(live_server.url + "/vault/")
    expect(row).to_contain_text("did not accept your API key")
    row.get_by_role("link", name=re.compile("^Edit ")).click()
    editing = page.locator(".vault-key--editing")
    editing.get_by_label("New API key").fill("sandbox-browser-fixed")
    editing.get_by_role("button", name="Save").click()
    expect(page.locator(".vault-key")).to_contain_text("••••ixed")

    page.goto(job_url)
    status(page).get_by_role("button", name="Retry").click()
    expect(page).to_have_url(job_url)
    see_success(page)
    expect(status(page).get_by_role("alert")).to_have_count(0)


def test_cancel_a_running_job(
    page: Page,
    live_server: LiveServer,
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    settings.SANDBOX_TASK_MS = 120_000  # the vendor's task will not finish during this test
    sign_in(page, live_server, "impatient")
    add_key(page, live_server, "ailabtools", "sandbox-browser-cancel")
    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools_advanced")
    field(form, "file_image").set_input_files(portrait(tmp_path / "face.jpg"))
    run(form)

    section = wait_for(page, JobStatus.WAITING)
    expect(section.locator(".badge")).to_have_text("Waiting on vendor")
    expect(section.locator("progress")).to_be_visible()
    section.get_by_role("button", name="Cancel").click()

    section = wait_for(page, JobStatus.CANCELED)
    expect(page.get_by_text("Job canceled. Its credits were refunded.")).to_be_visible()
    expect(section.locator(".badge")).to_have_text("Canceled")
    expect(section).not_to_have_attribute("hx-get", re.compile(".*"))
    expect(section.get_by_role("button", name="Retry")).to_be_visible()
    expect(section.get_by_role("button", name="Cancel")).to_have_count(0)
    assert job_of(page).status == JobStatus.CANCELED
