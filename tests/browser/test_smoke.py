from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.browser.steps import log_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_up_log_out_log_in_and_see_the_empty_studio(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Create an account").click()

    page.get_by_label("Email:").fill("frank@example.com")
    page.get_by_label("Username:").fill("frank")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()

    expect(page.get_by_role("heading", name="Your studio")).to_be_visible()
    expect(page.get_by_text("No photos yet")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")

    log_in(page, live_server, "frank")
    expect(page.get_by_text("Signed in as frank.", exact=True)).to_be_visible()


def test_layout_fits_a_phone(page: Page, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(live_server.url + "/accounts/signup/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    expect(page.get_by_role("button", name="Sign Up")).to_be_visible()
