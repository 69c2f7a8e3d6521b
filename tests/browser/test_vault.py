from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from editor import tasks
from editor.models import VendorKey
from editor.sandbox import server
from editor.sandbox.state import STATE
from tests.browser.steps import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "sk-browser-test-5e6f7a8b9c0d4321"


def test_add_relabel_and_delete_a_key_without_reloading(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, "carol")
    page.get_by_role("link", name="Vault", exact=True).click()

    expect(page.get_by_role("heading", name="Your key vault")).to_be_visible()
    expect(page.get_by_text("No keys yet")).to_be_visible()
    # Survives only as long as the page is never reloaded.
    page.evaluate("window.__noReload = true")

    add = page.locator("#vault-add")
    add.get_by_label("Vendor").select_option("picwish")
    add.get_by_label("Label").fill("Holiday photos")
    add.get_by_label("API key").fill(SECRET)
    add.get_by_role("button", name="Add key").click()

    row = page.locator(".vault-key").filter(has_text="Holiday photos")
    expect(row).to_contain_text("••••4321")
    expect(row).to_contain_text("PicWish")
    expect(row).to_contain_text("never")
    expect(page.get_by_text("No keys yet")).to_have_count(0)
    expect(add.get_by_label("API key")).to_have_value("")
    assert SECRET not in page.content()

    row.get_by_role("link", name="Edit Holiday photos").click()
    label = page.locator(".vault-key--editing").get_by_label("Label")
    expect(label).to_be_focused()
    expect(page.locator(".vault-key--editing").get_by_label("New API key")).to_have_value("")
    label.fill("Family album")
    page.locator(".vault-key--editing").get_by_role("button", name="Save").click()

    renamed = page.locator(".vault-key").filter(has_text="Family album")
    expect(renamed).to_contain_text("••••4321")
    expect(page.locator(".vault-key--editing")).to_have_count(0)
    assert VendorKey.objects.get().label == "Family album"

    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    renamed.get_by_role("button", name="Delete Family album").click()

    expect(page.get_by_text("No keys yet")).to_be_visible()
    expect(page.get_by_text("Key “Family album” deleted.")).to_be_visible()
    assert len(dialogs) == 1
    assert "Family album" in dialogs[0]
    assert not VendorKey.objects.exists()
    assert page.evaluate("window.__noReload") is True
    assert SECRET not in page.content()


@pytest.fixture
def _checked_by_the_sandbox(settings: SettingsWrapper, sandbox: server.RunningSandbox) -> None:
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_URL = sandbox.url
    settings.RATE_LIMIT_URL = ""
    STATE.reset()


@pytest.mark.usefixtures("_checked_by_the_sandbox")
def test_keys_are_checked_with_the_vendor_as_they_are_added(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, "carol")
    page.get_by_role("link", name="Vault", exact=True).click()
    add = page.locator("#vault-add")

    # A key the vendor refuses: its reason, on the field, and nothing saved.
    wrong = "sandbox-fault-error-ERROR_APPLICATIONS_NOT_EXISTS-browser"
    add.get_by_label("Vendor").select_option("ailabtools")
    add.get_by_label("Label").fill("Wrong")
    add.get_by_label("API key").fill(wrong)
    add.get_by_role("button", name="Add key").click()
    expect(page.locator("#vault-add")).to_contain_text("AILabTools did not accept your API key")
    expect(page.get_by_text("No keys yet")).to_be_visible()
    assert not VendorKey.objects.exists()
    assert wrong not in page.content()

    # A good key: its credits.
    add = page.locator("#vault-add")
    add.get_by_label("Label").fill("Good")
    add.get_by_label("API key").fill("sandbox-credits-2500-browser")
    add.get_by_role("button", name="Add key").click()
    good = page.locator(".vault-key").filter(has_text="Good")
    expect(good.locator(".vault-check")).to_contain_text("Checked, 2,500 credits")

    # The vendor unreachable: saved "not checked yet"; a later check settles it.
    add = page.locator("#vault-add")
    add.get_by_label("Label").fill("Later")
    add.get_by_label("API key").fill("sandbox-fault-flaky-1-credits-40-browser")
    add.get_by_role("button", name="Add key").click()
    later = page.locator(".vault-key").filter(has_text="Later")
    expect(later.locator(".vault-check")).to_contain_text("Not checked yet.")
    key = VendorKey.objects.get(label="Later")
    tasks.check_key(str(key.pk))
    page.reload()
    later = page.locator(".vault-key").filter(has_text="Later")
    expect(later.locator(".vault-check")).to_contain_text("Checked, 40 credits")
