"""A share link's password: growing delays per link and address, a per-link guard that slows
guessing spread over many addresses without ever holding back a first try, budgets of their own
(never the sign-in ones), and the wrong passwords counted for the link's owner.

The limiter's clock is moved with time_machine (the database store reads ``time.time`` on
SQLite): no test sleeps through a delay."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor.models import ShareLink
from limiter import core as limiter
from limiter.models import Window
from tests.factories import PASSWORD, made_link

pytestmark = pytest.mark.django_db

RIGHT = "open sesame"
HERE, THERE = "203.0.113.30", "198.51.100.30"


@pytest.fixture(autouse=True)
def clock(settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # The database store on Python's clock: Redis's scripts and PostgreSQL read their servers'
    # clocks, which no test can move (tests/limiter checks those stores on real time).
    settings.RATE_LIMIT_URL = ""
    monkeypatch.setattr(limiter.DatabaseStore, "_now", staticmethod(time.time))
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def link(alice: User) -> tuple[ShareLink, str]:
    return made_link(alice, password=RIGHT)


def page_url(token: str) -> str:
    return reverse("editor:shared", args=[token])


def text(response: Any) -> str:
    assert isinstance(response, HttpResponse)
    return response.content.decode()


def guess(token: str, password: str = "guess", address: str = HERE) -> HttpResponse:
    response = Client(REMOTE_ADDR=address).post(page_url(token), {"password": password})
    assert isinstance(response, HttpResponse)
    return response


def address_tries(link: ShareLink, address: str) -> int:
    name = limiter.budget_name("share-password", "link", str(link.pk), "address", address)
    row = Window.objects.filter(name=name).first()
    return len(row.stamps) if row else 0


# --- One address ---------------------------------------------------------------------------------


def test_three_tries_go_then_each_wrong_one_makes_the_next_wait_longer(
    link: tuple[ShareLink, str], clock: Any
) -> None:
    _link, token = link
    for _ in range(3):
        assert guess(token).status_code == 403
    for wait in (1, 2, 4, 8):
        refused = guess(token)
        assert refused.status_code == 429
        assert refused["Retry-After"] == str(wait)
        unit = "second" if wait == 1 else "seconds"
        assert f"Too many wrong passwords. You can try again in {wait} {unit}." in text(refused)
        clock.shift(wait)
        assert guess(token).status_code == 403


def test_the_wait_is_said_in_minutes_past_a_minute(
    link: tuple[ShareLink, str], clock: Any, settings: SettingsWrapper
) -> None:
    settings.SHARE_PASSWORD_ADDRESS_BACKOFF = "1,90s,5m,15m"
    _link, token = link
    assert guess(token).status_code == 403
    refused = guess(token)
    assert refused["Retry-After"] == "90"
    assert "You can try again in 2 minutes." in text(refused)


def test_a_refused_try_is_not_looked_at_nor_counted(
    link: tuple[ShareLink, str], clock: Any
) -> None:
    share, token = link
    for _ in range(3):
        guess(token)
    client = Client(REMOTE_ADDR=HERE)
    refused = client.post(page_url(token), {"password": RIGHT})
    assert refused.status_code == 429  # even the right one, from this address, for a second
    assert client.get(reverse("editor:shared_file", args=[token, "result"])).status_code == 404
    share.refresh_from_db()
    assert share.failed_passwords == 3
    clock.shift(1)
    assert client.post(page_url(token), {"password": RIGHT}).status_code == 302


def test_the_right_password_forgives_the_addresss_tries(
    link: tuple[ShareLink, str], clock: Any
) -> None:
    _link, token = link
    for _ in range(3):
        guess(token)
    clock.shift(1)
    assert guess(token, RIGHT).status_code == 302
    # Three free tries again, at once.
    assert [guess(token).status_code for _ in range(4)] == [403, 403, 403, 429]


def test_a_quiet_spell_forgives_the_addresss_tries(link: tuple[ShareLink, str], clock: Any) -> None:
    _link, token = link
    for wait in (0, 0, 0, 1, 2):
        clock.shift(wait)
        assert guess(token).status_code == 403
    assert guess(token).status_code == 429
    clock.shift(dt.timedelta(minutes=15))
    assert [guess(token).status_code for _ in range(4)] == [403, 403, 403, 429]


def test_the_delay_is_per_link(alice: User, clock: Any) -> None:
    _one, one = made_link(alice, password="one")
    _two, two = made_link(alice, password="two")
    for _ in range(3):
        guess(one)
    assert guess(one).status_code == 429
    assert guess(two, "two").status_code == 302


# --- Other addresses, and signing in ------------------------------------------------------------


def test_five_wrong_passwords_from_one_address_lock_nobody_else_out(
    link: tuple[ShareLink, str], clock: Any, alice: User
) -> None:
    _link, token = link
    for wait in (0, 0, 0, 1, 2):
        clock.shift(wait)
        assert guess(token, address=HERE).status_code == 403
    assert guess(token, RIGHT, address=HERE).status_code == 429
    # The rightful visitor elsewhere opens the link with its password, at once...
    assert guess(token, RIGHT, address=THERE).status_code == 302
    # ...and signing in from the guessing address is not held back: other budgets.
    signed_in = Client(REMOTE_ADDR=HERE).post(
        reverse("account_login"), {"login": "alice", "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    assert signed_in.wsgi_request.user == alice


def test_sign_in_failures_do_not_hold_back_a_link(link: tuple[ShareLink, str], alice: User) -> None:
    _link, token = link
    for _ in range(10):  # the address's whole sign-in budget
        Client(REMOTE_ADDR=HERE).post(
            reverse("account_login"), {"login": "alice", "password": "wrong"}
        )
    assert guess(token, RIGHT, address=HERE).status_code == 302


def test_guessing_from_many_addresses_slows_them_but_never_a_first_try(
    link: tuple[ShareLink, str], clock: Any
) -> None:
    share, token = link
    guessers = [f"203.0.113.{n}" for n in range(100, 110)]
    for address in guessers:  # ten wrong passwords: the link's free ones
        assert guess(token, address=address).status_code == 403
    # An address that already failed here now waits for the link's delay, which grows...
    refused = guess(token, address=guessers[0])
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    clock.shift(1)
    assert guess(token, address=guessers[0]).status_code == 403
    assert guess(token, address=guessers[1])["Retry-After"] == "2"
    # ...and a try the link held back is not counted against the address itself.
    assert address_tries(share, guessers[1]) == 1
    # A first try from a new address is never held back: a wrong one is counted...
    assert guess(token, address="203.0.113.200").status_code == 403
    # ...and whoever was given the password opens the link at once.
    assert guess(token, RIGHT, address=THERE).status_code == 302
    share.refresh_from_db()
    assert share.failed_passwords == 12


def test_a_store_that_is_down_is_said_so(
    link: tuple[ShareLink, str], settings: SettingsWrapper
) -> None:
    settings.RATE_LIMIT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    share, token = link
    response = guess(token, RIGHT)
    assert response.status_code == 503
    assert "Passwords cannot be checked for a moment." in text(response)
    share.refresh_from_db()
    assert share.failed_passwords == 0


# --- The owner sees the wrong passwords -----------------------------------------------------------


def test_wrong_passwords_are_counted_on_the_link(link: tuple[ShareLink, str]) -> None:
    share, token = link
    assert (share.failed_passwords, share.last_failed_password_at) == (0, None)
    before = timezone.now()
    guess(token)
    guess(token, address=THERE)
    guess(token, RIGHT, address=THERE)
    share.refresh_from_db()
    assert share.failed_passwords == 2
    assert share.last_failed_password_at is not None
    assert share.last_failed_password_at >= before


def test_the_owners_list_shows_the_wrong_passwords(
    client: Client, alice: User, link: tuple[ShareLink, str]
) -> None:
    share, token = link
    _open, _open_token = made_link(alice)
    guess(token)
    guess(token)
    client.force_login(alice)
    page = text(client.get(reverse("editor:shares")))
    row = page[page.index(f'id="share-{share.pk}"') :]
    row = row[: row.index("</li>")]
    assert re.search(r"<dt>Wrong passwords</dt><dd>2 \(last 0\xa0minutes ago\)</dd>", row)
    # A link without a password has none to count.
    assert page.count("Wrong passwords") == 1


def test_the_count_is_one_update_that_loses_no_try(link: tuple[ShareLink, str]) -> None:
    share, _token = link
    stale = ShareLink.objects.get(pk=share.pk)
    share.count_failed_password()
    stale.count_failed_password()  # an old copy in another request still adds one
    share.refresh_from_db()
    assert share.failed_passwords == 2
