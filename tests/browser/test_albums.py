"""An album in the browser, as a person does it: make an album from a job page, add a second
result, move it up, share the album with a link for one person, open the link as a stranger
(a fresh browser), look through the photos full screen with the keyboard, then revoke every
link of the album and see the address answer 404."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from editor import albums
from editor.models import Album, ShareLink
from tests.browser.steps import DEVICES, assert_loaded, screenshot, signed_in_with_keys
from tests.factories import make_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_make_share_view_and_revoke_an_album(
    page: Page, browser: Browser, live_server: LiveServer, device: str
) -> None:
    person = signed_in_with_keys(page, live_server, "album-maker")
    first, second = make_job(person), make_job(person)

    # From a job page: a new album with this result in it.
    page.goto(f"{live_server.url}/jobs/{first.pk}/")
    page.get_by_role("link", name="Add to album").first.click()
    page.get_by_label("Or a new album named").fill("Summer")
    page.get_by_role("button", name="Make album and add").click()
    expect(page.get_by_role("heading", name="Summer", exact=True)).to_be_visible()

    # A second result into the same album, then moved to the front.
    page.goto(f"{live_server.url}/jobs/{second.pk}/")
    page.get_by_role("link", name="Add to album").first.click()
    page.get_by_label("Album", exact=True).select_option(label="Summer")
    page.get_by_role("button", name="Add", exact=True).click()
    album = Album.objects.get(owner=person)
    page.get_by_role("button", name="Move photo 2 up").click()
    expect(page.get_by_role("button", name="Move photo 1 up")).to_be_disabled()
    second_result = str(second.results.get().pk)
    expect(page.locator(".album-order__item").first).to_have_id(f"photo-{second_result}")
    assert str(albums.items(album)[0].result_id) == second_result

    # A link for Grandma, a day long.
    page.get_by_label("Link works for").select_option(label="1 day")
    page.get_by_label("One link per person (optional)").fill("Grandma")
    page.get_by_role("button", name="Make link").click()
    row = page.locator(".share-row").first
    expect(row).to_contain_text("for Grandma")
    address = row.get_by_label("Link").input_value()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/s/[A-Za-z0-9_-]{{43}}/", address)
    link = ShareLink.objects.get(album=album)
    assert link.expires_at is not None
    assert link.name == "Grandma"
    screenshot(page, "album", device)

    stranger = browser.new_context(**DEVICES[device])
    try:
        visitor = stranger.new_page()
        visitor.goto(address)
        expect(visitor.get_by_role("heading", name="Summer")).to_be_visible()
        photos = visitor.locator("[data-viewer-photo]")
        expect(photos).to_have_count(2)
        assert "Sign out" not in visitor.content()  # nobody is signed in there
        screenshot(visitor, "shared-album", device)

        # Full screen: open the first, the arrows go through them, Escape closes.
        photos.first.click()
        viewer = visitor.get_by_role("dialog")
        expect(viewer).to_be_visible()
        expect(viewer.locator("figcaption")).to_have_text("Colorize, 1 of 2")
        assert_loaded(viewer.locator("img"))
        visitor.keyboard.press("ArrowRight")
        expect(viewer.locator("figcaption")).to_have_text("Colorize, 2 of 2")
        visitor.keyboard.press("ArrowRight")  # round to the first again
        expect(viewer.locator("figcaption")).to_have_text("Colorize, 1 of 2")
        visitor.keyboard.press("ArrowLeft")
        expect(viewer.locator("figcaption")).to_have_text("Colorize, 2 of 2")
        screenshot(visitor, "shared-album-viewer", device, full_page=False)
        visitor.keyboard.press("Escape")
        expect(viewer).to_be_hidden()
        expect(photos.nth(1)).to_be_focused()  # back where the visitor was

        with visitor.expect_download() as info:
            visitor.get_by_role("link", name="Download the album (ZIP)").click()
        assert info.value.suggested_filename == "summer.zip"

        # The owner sees the view counted and revokes every link of the album.
        page.reload()
        expect(row.locator(".share-row__meta")).to_contain_text(re.compile(r"Views\s*1\b"))
        page.get_by_role("button", name="Revoke all links to this album").click()
        expect(page.locator(".share-row").first).to_contain_text("Revoked")

        response = visitor.goto(address)
        assert response is not None
        assert response.status == 404
        expect(visitor.get_by_role("heading", name="This link does not open")).to_be_visible()
    finally:
        stranger.close()
