"""The usage page and the vault's remaining credits from a person's seat, at a desktop and a phone
viewport: run real jobs (the real worker against the sandbox over HTTP) that succeed, fail and
get canceled, then see the usage page count exactly the ones the quota counts, and each
AILabTools key in the vault show what the sandbox says it has left.

Screenshots go to test-artifacts/screenshots/ (usage-*, usage-vault-*) to be looked at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from accounts.models import Quota
from editor.models import JobStatus, Vendor, VendorKey
from editor.sandbox.state import STATE
from tests.browser.steps import (
    EVERY_DEVICE,
    field,
    open_operation,
    photo,
    portrait,
    run,
    screenshot,
    see_success,
    signed_in_with_keys,
    status,
    wait_for,
)

# The real worker and the sandbox it calls (see test_operations).

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
    EVERY_DEVICE,
]

BROKEN = "sandbox-fault-error-ERROR_NO_FACE_IN_FILE-tally"
CREDITS_TIMEOUT = 20_000  # ms: the fragment asks, the worker checks, the next poll shows it


def choose_key(form: Locator, key: VendorKey) -> None:
    form.locator("select[name=key]:not([disabled])").select_option(str(key.pk))


def figure(page: Page, stat: str) -> Locator:
    return page.locator(f"#usage-{stat} .usage-stat__figure")


def row(page: Page, slug: str) -> Locator:
    return page.locator(f'#usage-by-operation tr[data-operation="{slug}"]')


def test_the_usage_page_matches_what_was_run_and_the_vault_shows_credits_left(
    page: Page,
    live_server: LiveServer,
    settings: SettingsWrapper,
    device: str,
    tmp_path: Path,
) -> None:
    user = signed_in_with_keys(page, live_server, "tally")
    good = VendorKey.objects.get(owner=user, vendor=Vendor.AILABTOOLS)
    broken = VendorKey(owner=user, vendor=Vendor.AILABTOOLS, label="Broken")
    broken.set_secret(BROKEN)
    broken.save()

    # Three jobs succeed: colorize (1 credit), retouch (3), the built-in engine (0).
    form = open_operation(page, live_server, "colorize")
    field(form, "file_image").set_input_files(photo(tmp_path / "old.jpg", gray=True))
    run(form)
    see_success(page)

    form = open_operation(page, live_server, "retouch")
    choose_key(form, good)
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg"))
    field(form, "file_style").set_input_files(portrait(tmp_path / "style.jpg"))
    run(form)
    see_success(page)

    form = open_operation(page, live_server, "color_migration")
    expect(field(form, "provider")).to_have_value("local")
    field(form, "file_image").set_input_files(photo(tmp_path / "street.jpg"))
    run(form)
    see_success(page)

    # One fails at the vendor and one is canceled: both are refunded.
    form = open_operation(page, live_server, "retouch")
    choose_key(form, broken)
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg"))
    field(form, "file_style").set_input_files(portrait(tmp_path / "style.jpg"))
    run(form)
    wait_for(page, JobStatus.FAILED)

    settings.SANDBOX_TASK_MS = 120_000  # the vendor's task will not finish during this test
    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools_advanced")
    choose_key(form, good)
    field(form, "file_image").set_input_files(portrait(tmp_path / "face.jpg"))
    run(form)
    wait_for(page, JobStatus.WAITING)
    status(page).get_by_role("button", name="Cancel").click()
    wait_for(page, JobStatus.CANCELED)

    quota = Quota.objects.get(user=user)
    assert (quota.jobs_today, quota.credits_this_month, quota.active_jobs) == (3, 4, 0)

    # The usage page, reached from the navigation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
    expect(page).to_have_url(f"{live_server.url}/usage/")
    expect(page.get_by_role("heading", name="Your usage", level=1)).to_be_visible()
    expect(figure(page, "jobs-today")).to_have_text("3 of 200")
    expect(figure(page, "credits")).to_have_text("4 of 2,000")
    expect(figure(page, "running")).to_have_text("0 of 5")
    expect(page.locator("#usage-jobs-today")).to_contain_text("197 left. Resets")
    expect(page.locator("#usage-credits")).to_contain_text("1,996 left. Resets on")

    cells = "th, td"
    expect(row(page, "colorize").locator(cells)).to_have_text(["Colorize", "1", "1"])
    expect(row(page, "color_migration").locator(cells)).to_have_text(["Color migration", "1", "0"])
    expect(row(page, "retouch").locator(cells)).to_have_text(["Retouch from a style", "1", "3"])
    expect(row(page, "expression")).to_have_count(0)  # canceled: not counted
    expect(row(page, "total").locator(cells)).to_have_text(["Total", "3", "4"])

    chart = page.get_by_role("img", name=re.compile(r"^Credits per day, "))
    expect(chart).to_be_visible()
    expect(chart.locator("rect.usage-bar")).to_have_count(2)  # today: colorize and retouch
    legend = page.locator(".usage-legend li")
    expect(legend).to_have_text(["Colorize", "Retouch from a style"])
    # The text version of the chart.
    page.get_by_text("Show the figures by day").click()
    days = page.locator(".usage-table--days tbody tr")
    expect(days).to_have_count(1)
    expect(days.locator("td")).to_have_text(["4", "Colorize 1, Retouch from a style 3"])

    # Nothing sticks out sideways, the chart included.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, overflow
    screenshot(page, "usage", device)

    # The vault: each AILabTools key's credits, as the sandbox counts them; nothing for PicWish.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Vault").click()
    good_row = page.locator(f"#key-{good.pk}")
    left = STATE.balance(f"sandbox-tally-{Vendor.AILABTOOLS.value}")
    assert left == 100_000 - 3 - 15  # the canceled job's vendor task was paid for all the same
    expect(good_row.locator(".key-credits")).to_contain_text(
        f"{left:,} credits left", timeout=CREDITS_TIMEOUT
    )
    expect(good_row.locator(".key-credits")).to_contain_text("checked just now")
    expect(page.locator(f"#key-{broken.pk} .key-credits")).to_contain_text(
        "could not be checked", timeout=CREDITS_TIMEOUT
    )
    picwish = VendorKey.objects.get(owner=user, vendor=Vendor.PICWISH)
    expect(page.locator(f"#key-{picwish.pk} .key-credits")).to_have_count(0)
    screenshot(page, "usage-vault", device)
