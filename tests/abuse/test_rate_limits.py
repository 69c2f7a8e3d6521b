"""Rate limits, hammered past their budget, while someone else is not held back.

Already covered elsewhere, not repeated here: an account's failed-login budget
(tests/accounts/test_auth.py::test_repeated_wrong_passwords_are_throttled and what follows), a
share link's password delays per link and address and its per-link guard
(tests/editor/test_share_passwords.py), and the API's budget per token
(tests/api/test_auth.py::test_each_token_has_its_own_rate_limit). This file adds the per-address
side of the sign-in limit (10 failures a minute per address), the other person who must stay
unaffected, and an address guessing at many links, which has budgets apart from signing in.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor.models import ShareLink
from tests.factories import PASSWORD, make_job, make_user

pytestmark = pytest.mark.django_db

LOCKED = b"Too many failed login attempts"


def log_in(client: Client, login: str, password: str = PASSWORD) -> bool:
    response = client.post(reverse("account_login"), {"login": login, "password": password})
    if response.status_code == 302:
        return True
    # The form again: a 200 for a wrong password, a 429 for a refusal by the budgets.
    assert response.status_code == (429 if LOCKED in response.content else 200)
    return False


def test_one_address_guessing_across_accounts_is_stopped(alice: User, bob: User) -> None:
    carol = make_user("carol")
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    # 10 failures, never 5 on one account: only the address's budget is spent.
    for login in ["alice", "bob", "carol"] * 3 + ["alice"]:
        assert not log_in(attacker, login, "wrong")
    refused = attacker.post(reverse("account_login"), {"login": "carol", "password": PASSWORD})
    assert LOCKED in refused.content
    assert not refused.wsgi_request.user.is_authenticated
    # Someone at another address signs in to any of those accounts.
    assert log_in(Client(REMOTE_ADDR="198.51.100.20"), carol.username)


def test_a_locked_account_does_not_lock_out_another_person(alice: User, bob: User) -> None:
    shared_address = Client(REMOTE_ADDR="203.0.113.8")
    for _ in range(5):
        assert not log_in(shared_address, "alice", "wrong")
    right = {"login": "alice", "password": PASSWORD}
    assert LOCKED in shared_address.post(reverse("account_login"), right).content
    # Bob, behind the same address (an office, a family), is unaffected.
    assert log_in(Client(REMOTE_ADDR="203.0.113.8"), "bob")


def test_behind_the_proxy_each_client_has_its_own_budget(
    alice: User, bob: User, settings: SettingsWrapper
) -> None:
    # What BEHIND_TLS_PROXY sets: every request comes from the proxy's address, and the client
    # is the address the proxy appended to X-Forwarded-For.
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    make_user("carol")
    attacker = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9")
    for login in ["alice", "bob", "carol"] * 3 + ["alice"]:
        assert not log_in(attacker, login, "wrong")
    assert not log_in(attacker, "carol")
    # A spoofed first entry does not give the attacker a fresh budget...
    respoofed = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.9")
    assert not log_in(respoofed, "carol")
    # ...and another client through the same proxy is unaffected.
    assert log_in(Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.21"), "carol")


def test_one_address_guessing_across_share_links_is_slowed_on_each(alice: User) -> None:
    links = [
        ShareLink.create(
            make_job(alice).results.get(), lifetime=dt.timedelta(days=1), password=f"secret {n}"
        )[1]
        for n in range(4)
    ]
    pages = [reverse("editor:shared", args=[token]) for token in links]
    guesser = Client(REMOTE_ADDR="203.0.113.10")
    # 12 wrong guesses, 3 on each link: each link's free tries from this address.
    for page in pages * 3:
        assert guesser.post(page, {"password": "guess"}).status_code == 403
    for page in pages:  # the next try on any of them waits
        assert guesser.post(page, {"password": "guess"}).status_code == 429
    # Guessing at links is not guessing at accounts: signing in from there still works...
    assert log_in(guesser, alice.username)
    # ...and a visitor elsewhere opens a link with its password.
    elsewhere = Client(REMOTE_ADDR="198.51.100.22")
    assert elsewhere.post(pages[3], {"password": "secret 3"}).status_code == 302
