"""Share links in the browser: make one with an expiry and a password from a job page, copy it,
open it in a fresh browser (no session, no login), download the photo, revoke it and see the
404, at desktop and phone size."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from editor.models import ShareLink
from tests.browser.steps import (
    DEVICES,
    EVERY_DEVICE,
    assert_loaded,
    screenshot,
    signed_in_with_keys,
)
from tests.factories import make_job

pytestmark = [pytest.mark.django_db(transaction=True), EVERY_DEVICE]

PASSWORD = "a walk in the park"


def test_make_open_and_revoke_a_share_link(
    page: Page, browser: Browser, live_server: LiveServer, device: str
) -> None:
    person = signed_in_with_keys(page, live_server, f"sharer-{device}")
    job = make_job(person)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    # From the job page to the share form.
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    page.get_by_role("link", name="Share", exact=True).click()
    expect(page.get_by_role("heading", name="Share a result")).to_be_visible()
    page.get_by_label("Link works for").select_option(label="1 day")
    page.get_by_label("Password (optional)").fill(PASSWORD)
    page.get_by_label("Include my original photo, for a before/after view").check()
    screenshot(page, "share-new", device)
    page.get_by_role("button", name="Make the link").click()

    # The list: the new link, live, with its address to copy.
    expect(page.get_by_role("heading", name="Shared links")).to_be_visible()
    row = page.locator(".share-row").first
    expect(row).to_contain_text("Live")
    expect(row).to_have_class(re.compile(r"share-row--made"))
    address = row.get_by_label("Link").input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/s/[A-Za-z0-9_-]{{43}}/", address)
    row.get_by_role("button", name="Copy").click()
    expect(row.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == address
    link = ShareLink.objects.get()
    assert link.has_password
    assert link.include_original
    assert link.expires_at is not None
    screenshot(page, "shares", device)

    # Someone else, in a browser that has never seen the studio.
    stranger = browser.new_context(**DEVICES[device])
    try:
        visitor = stranger.new_page()
        visitor.goto(address)
        expect(visitor.get_by_role("heading", name="Password needed")).to_be_visible()
        expect(visitor.get_by_role("img")).to_have_count(0)
        screenshot(visitor, "shared-password", device)
        visitor.get_by_label("Password").fill("wrong guess")
        visitor.get_by_role("button", name="Open").click()
        expect(visitor.get_by_text("That password is not right.")).to_be_visible()
        visitor.get_by_label("Password").fill(PASSWORD)
        visitor.get_by_role("button", name="Open").click()

        expect(visitor.get_by_role("heading", name="Colorize")).to_be_visible()
        assert_loaded(visitor.get_by_role("img", name="Before"))
        assert_loaded(visitor.get_by_role("img", name="After"))
        divider = visitor.get_by_role("slider", name="Divider between before and after")
        divider.focus()
        visitor.keyboard.press("Home")
        expect(divider).to_have_attribute("aria-valuenow", "0")
        visitor.keyboard.press("End")
        expect(divider).to_have_attribute("aria-valuenow", "100")
        screenshot(visitor, "shared", device)
        with visitor.expect_download() as info:
            visitor.get_by_role("link", name="Download").click()
        assert re.fullmatch(
            r"colorize-\d{4}-\d\d-\d\d-[0-9a-f]{8}\.png", info.value.suggested_filename
        )
        assert "Sign out" not in visitor.content()  # nobody is signed in there

        # The owner sees the view counted, and revokes the link.
        page.reload()
        expect(row.locator(".share-row__meta")).to_contain_text(re.compile(r"Views\s*1\b"))
        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Revoke").click()
        expect(row).to_contain_text("Revoked")
        expect(row.get_by_label("Link")).to_have_count(0)

        # The same address, even in the browser that unlocked it, is now a 404.
        response = visitor.goto(address)
        assert response is not None
        assert response.status == 404
        expect(visitor.get_by_role("heading", name="This link does not open")).to_be_visible()
        screenshot(visitor, "shared-missing", device)
    finally:
        stranger.close()
