"""The email notices' setting from a person's seat: from the account menu to Notifications,
tick "email me when my work ends", save, and see it kept."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.browser.steps import screenshot, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_person_opts_in_to_emails_when_work_ends(page: Page, live_server: LiveServer) -> None:
    person = sign_in(page, live_server, "mailed")
    page.goto(f"{live_server.url}/account/notifications/")
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    expect(page.get_by_text(f"Emails go to {person.email}.")).to_be_visible()
    choice = page.get_by_label("Email me when my work ends")
    expect(choice).not_to_be_checked()
    choice.check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("You will get an email when your work ends.")).to_be_visible()
    expect(page.get_by_label("Email me when my work ends")).to_be_checked()
    person.refresh_from_db()
    assert person.email_when_done
    screenshot(page, "notifications-settings", "desktop")
