from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect
from pytest_django.live_server_helper import LiveServer

from editor.models import VendorKey
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
