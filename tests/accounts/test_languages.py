"""A person's language (accounts.languages): the browser's first, then a choice made with the
switcher and saved on the account; what reaches them from a worker (a vendor's reason, an email)
is in it too (tests/editor/test_owners_language.py); dates, numbers and credits follow it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from accounts import languages
from accounts.models import User
from editor.models import KeyCheck
from tests.factories import PASSWORD, make_key

pytestmark = pytest.mark.django_db

SWITCH = reverse("editor:language")
HOME = reverse("editor:home")


def page(client: Client, path: str = HOME, **headers: str) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def test_the_browsers_language_comes_first(client: Client) -> None:
    spanish = page(client, **{"Accept-Language": "es-ES,es;q=0.9"})
    assert '<html lang="es">' in spanish
    assert "Iniciar sesión" in spanish
    chinese = page(client, **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-hans">' in chinese
    assert "登录" in chinese
    english = page(client, **{"Accept-Language": "fr-FR,fr;q=0.9"})  # one we do not speak
    assert '<html lang="en">' in english


def test_the_switcher_is_on_every_page_and_names_each_language_in_its_own(client: Client) -> None:
    html = page(client)
    assert f'action="{SWITCH}"' in html
    for name in ("English", "Español", "简体中文"):
        assert name in html


def test_a_visitors_choice_is_kept_by_their_browser(client: Client) -> None:
    back = "http://testserver" + reverse("account_login")
    response = client.post(SWITCH, {"language": "zh-hans"}, headers={"Referer": back})
    assert (response.status_code, response["Location"]) == (302, back)
    # Chosen beats the browser's own preference from then on.
    assert '<html lang="zh-hans">' in page(client, **{"Accept-Language": "es"})


def test_a_signed_in_persons_choice_is_saved_on_their_account(alice: User, client: Client) -> None:
    client.force_login(alice)
    client.post(SWITCH, {"language": "es"})
    alice.refresh_from_db()
    assert alice.language == "es"
    # Another browser, which prefers English and has no cookie: the account's choice wins.
    elsewhere = Client()
    elsewhere.force_login(alice)
    html = page(elsewhere, reverse("editor:studio"), **{"Accept-Language": "en-US,en"})
    assert '<html lang="es">' in html
    assert "Galería" in html


def test_an_unknown_language_changes_nothing(alice: User, client: Client) -> None:
    client.force_login(alice)
    response = client.post(SWITCH, {"language": "xx"})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.language == ""
    assert settings_cookie(client) is None


def settings_cookie(client: Client) -> str | None:
    cookie = client.cookies.get("django_language")
    return cookie.value if cookie is not None else None


def test_the_switcher_goes_back_only_to_this_site(client: Client) -> None:
    elsewhere = client.post(SWITCH, {"language": "es"}, headers={"Referer": "https://evil.test/"})
    assert elsewhere["Location"] == HOME
    assert client.post(SWITCH, {"language": "es"})["Location"] == HOME


def test_the_switcher_needs_a_post(client: Client) -> None:
    assert client.get(SWITCH).status_code == 405


def test_the_browsers_language_at_sign_in_is_remembered_for_what_comes_from_workers(
    alice: User,
) -> None:
    browser = Client(headers={"Accept-Language": "zh-CN"})
    assert (
        browser.post(reverse("account_login"), {"login": "alice", "password": PASSWORD}).status_code
        == 302
    )
    alice.refresh_from_db()
    assert (alice.language, alice.browser_language) == ("", "zh-hans")
    assert languages.for_user(alice) == "zh-hans"
    alice.language = "es"  # a choice beats it
    assert languages.for_user(alice) == "es"


def test_numbers_dates_and_credits_follow_the_language(alice: User, client: Client) -> None:
    key = make_key(alice)
    checked = dt.datetime(2026, 12, 4, 15, 30, tzinfo=dt.UTC)
    key.__class__.objects.filter(pk=key.pk).update(
        check_status=KeyCheck.CHECKED, checked_credits=12345, checked_at=checked
    )
    client.force_login(alice)
    vault = reverse("editor:vault")
    english = page(client, vault, **{"Accept-Language": "en"})
    assert "Checked, 12,345 credits" in english
    assert "Dec. 4, 2026" in english
    User.objects.filter(pk=alice.pk).update(language="es")
    spanish = page(client, vault)
    assert "12\xa0345 créditos" in spanish
    assert "4 de diciembre de 2026" in spanish
    User.objects.filter(pk=alice.pk).update(language="zh-hans")
    chinese = page(client, vault)
    assert "12,345" in chinese
    assert "2026年12月4日" in chinese


def test_a_choice_made_before_signing_in_becomes_the_accounts(alice: User) -> None:
    browser = Client(headers={"Accept-Language": "en-US"})
    browser.post(SWITCH, {"language": "zh-hans"})
    browser.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    alice.refresh_from_db()
    assert alice.language == "zh-hans"
    # A choice on the account is not overwritten by a later browser's.
    other = Client()
    other.post(SWITCH, {"language": "es"})
    other.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    alice.refresh_from_db()
    assert alice.language == "zh-hans"
