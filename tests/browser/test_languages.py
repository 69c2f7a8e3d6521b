"""The studio in Spanish and in Simplified Chinese, from sign-up to a shared page, as a person
would go through it: the Spanish browser is served Spanish at once (its own preference); the
English one chooses 简体中文 with the switcher on the sign-up page, and the choice becomes the
account's. A key, a colorize job run by a real worker against the sandbox, a share link, and a
stranger opening it in a browser of the same language. Every text looked for is the catalog's
translation, never the English, so a page left untranslated fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import translation
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import User
from editor.models import JobStatus
from tests.browser.steps import (
    DEVICES,
    RECORD_STATUSES,
    field,
    photo,
    run,
    screenshot,
    wait_for,
)
from tests.factories import PASSWORD

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
]

# The language served, the browser's own locale, and whether the person picks it themselves.
JOURNEYS = {
    "es": ("es-ES", False),  # the browser's preference
    "zh-hans": ("en-US", True),  # an English browser; the switcher on the sign-up page
}


def words(language: str, english: str) -> str:
    """``english`` as the catalog translates it; a test of a translated page, not of English."""
    with translation.override(language):
        translated = translation.gettext(english)
    assert translated != english, f"no {language} translation of {english!r}"
    return translated


@pytest.mark.parametrize("language", list(JOURNEYS))
def test_the_studio_from_sign_up_to_a_shared_page(
    browser: Browser, live_server: LiveServer, language: str, tmp_path: Path
) -> None:
    locale, switches = JOURNEYS[language]
    context = browser.new_context(locale=locale, **DEVICES["desktop"])
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.add_init_script(RECORD_STATUSES)
        _sign_up(page, live_server, language, switches)
        person = User.objects.get(username=f"traveller-{language}")
        # A choice made before signing up is the account's; a browser's preference is not.
        assert person.language == (language if switches else "")
        assert person.browser_language == ("" if switches else language)

        address = _run_and_share(page, live_server, language, tmp_path)
        _open_as_a_stranger(browser, locale, address, language)
    finally:
        context.close()


def _sign_up(page: Page, live_server: LiveServer, language: str, switches: bool) -> None:
    page.goto(live_server.url + "/accounts/signup/")
    if switches:
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.get_by_label("Language").select_option(language)
        page.get_by_role("button", name="Change language").click()
        expect(page).to_have_url(live_server.url + "/accounts/signup/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("heading", name=words(language, "Sign Up"))).to_be_visible()
    form = page.locator("form:has(input[name=password1])")
    form.locator("input[name=email]").fill(f"traveller-{language}@example.com")
    form.locator("input[name=username]").fill(f"traveller-{language}")
    form.locator("input[name=password1]").fill(PASSWORD)
    form.locator("input[name=password2]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.get_by_role("heading", name=words(language, "Your studio"))).to_be_visible()
    nav = page.get_by_role("navigation", name=words(language, "Main"))
    expect(nav.get_by_role("link", name=words(language, "Gallery"))).to_be_visible()
    # The switcher shows the language in use.
    expect(page.get_by_label(words(language, "Language"))).to_have_value(language)


def _run_and_share(page: Page, live_server: LiveServer, language: str, tmp_path: Path) -> str:
    page.goto(live_server.url + "/vault/")
    add = page.locator("#vault-add")
    add.get_by_label(words(language, "Vendor")).select_option("picwish")
    add.get_by_label(words(language, "API key")).fill(f"sandbox-{language}-colorize")
    add.get_by_role("button", name=words(language, "Add key")).click()
    expect(page.locator(".vault-key")).to_contain_text("••••")

    page.goto(f"{live_server.url}/studio/colorize/")
    expect(page.get_by_role("heading", name=words(language, "Colorize"))).to_be_visible()
    form = page.locator("#operation-form")
    field(form, "file_image").set_input_files(photo(tmp_path / "old.jpg", gray=True))
    run(form)
    section = wait_for(page, JobStatus.SUCCEEDED)
    expect(section.locator(".badge")).to_have_text(words(language, "Succeeded"))
    result = words(language, "Result %(n)s") % {"n": 1}
    expect(section.get_by_role("img", name=result, exact=True)).to_be_visible()
    expect(section.get_by_role("img", name=words(language, "Your photo"))).to_be_visible()
    screenshot(page, f"studio-{language}", "desktop")

    page.get_by_role("link", name=words(language, "Share"), exact=True).click()
    expect(page.get_by_role("heading", name=words(language, "Share a result"))).to_be_visible()
    page.get_by_role("button", name=words(language, "Make the link")).click()
    expect(page.get_by_role("heading", name=words(language, "Shared links"))).to_be_visible()
    row = page.locator(".share-row").first
    expect(row).to_contain_text(words(language, "Live"))
    return row.get_by_label(words(language, "Link")).input_value()


def _open_as_a_stranger(browser: Browser, locale: str, address: str, language: str) -> None:
    """Someone who has never seen the studio, in a browser of the same language (the English
    one of the second journey is given Chinese: a visitor's own browser decides for them)."""
    visitor_locale = locale if locale != "en-US" else "zh-CN"
    stranger = browser.new_context(locale=visitor_locale, **DEVICES["desktop"])
    try:
        visitor = stranger.new_page()
        visitor.goto(address)
        expect(visitor.locator("html")).to_have_attribute("lang", language)
        expect(visitor.get_by_role("heading", name=words(language, "Colorize"))).to_be_visible()
        expect(visitor.get_by_role("link", name=words(language, "Download"))).to_be_visible()
        screenshot(visitor, f"shared-{language}", "desktop")
    finally:
        stranger.close()
