from __future__ import annotations

import math
import re
import time

import pytest
import time_machine
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from limiter import core as limiter
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_creates_a_user_and_signs_them_in(client: Client) -> None:
    response = client.post(
        reverse("account_signup"),
        {
            "email": "carol@example.com",
            "username": "carol",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        follow=True,
    )
    assert response.status_code == 200
    user = User.objects.get(username="carol")
    assert user.email == "carol@example.com"
    assert response.wsgi_request.user == user
    assert response.redirect_chain[-1][0] == reverse("editor:studio")
    assert b"Your studio" in response.content


def test_signup_rejects_a_weak_password_with_a_message(client: Client) -> None:
    response = client.post(
        reverse("account_signup"),
        {"email": "d@example.com", "username": "dave", "password1": "123", "password2": "123"},
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="dave").exists()
    assert b"too short" in response.content


@pytest.mark.parametrize("login", ["alice", "alice@example.com"])
def test_login_by_username_or_email(client: Client, alice: User, login: str) -> None:
    response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("editor:studio")
    assert client.get(reverse("editor:studio")).wsgi_request.user == alice


def test_wrong_password_is_refused(client: Client, alice: User) -> None:
    response = client.post(reverse("account_login"), {"login": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"not correct" in response.content


def test_repeated_wrong_passwords_are_throttled(client: Client, alice: User) -> None:
    for _ in range(5):
        client.post(reverse("account_login"), {"login": "alice", "password": "wrong"})
    # Even the right password is refused once the account's failure budget is spent.
    response = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    # The form again with the message for a person; the status and Retry-After for machines.
    assert response.status_code == 429
    seconds = int(response["Retry-After"])
    assert seconds >= 60  # the account's five in five minutes: minutes, not seconds
    assert f"try again in {math.ceil(seconds / 60)} minutes".encode() in response.content
    assert b"Too many failed login attempts" in response.content
    assert b'name="password"' in response.content
    assert not response.wsgi_request.user.is_authenticated


def test_the_failure_budget_is_the_accounts_whatever_identifier_is_typed(
    client: Client, alice: User
) -> None:
    # Username or email, in any case: five wrong passwords in all, not five for each spelling.
    for login in ["alice", "ALICE", alice.email, alice.email.upper(), "Alice"]:
        client.post(reverse("account_login"), {"login": login, "password": "wrong"})
    response = client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})
    assert b"Too many failed login attempts" in response.content
    assert not response.wsgi_request.user.is_authenticated


LOCKED = "Too many failed login attempts."


def sign_in(client: Client, login: str, password: str) -> str:
    response = client.post(reverse("account_login"), {"login": login, "password": password})
    return "signed in" if response.status_code == 302 else response.content.decode()


def test_six_wrong_passwords_by_username_and_email_lock_the_account_at_five(
    client: Client, alice: User, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database store on Python's clock, the one the test moves (Redis and PostgreSQL read
    # their servers' clocks).
    settings.RATE_LIMIT_URL = ""
    monkeypatch.setattr(limiter.DatabaseStore, "_now", staticmethod(time.time))
    with time_machine.travel(timezone.now(), tick=False) as clock:
        answers = [sign_in(client, login, "wrong") for login in ["alice", alice.email] * 3]
        assert ["not correct" in answer for answer in answers] == [True] * 5 + [False]
        assert LOCKED in answers[5]
        # The right password waits like any other, by either identifier...
        for login in ("alice", alice.email.upper()):
            locked = sign_in(client, login, PASSWORD)
            assert LOCKED in locked
        # ...and says when: five minutes after the first failure (and the limiter's margin).
        wait = 300 * (1 + settings.RATE_LIMIT_MARGIN)
        assert f"You can try again in {math.ceil(wait / 60)} minutes" in locked
        assert "reset your password by email" in locked
        assert reverse("account_reset_password") in locked  # "Forgot your password?"
        clock.shift(wait - 1)
        assert LOCKED in sign_in(client, alice.email, PASSWORD)
        clock.shift(1)
        assert sign_in(client, alice.email, PASSWORD) == "signed in"


def test_a_locked_out_person_can_reset_the_password_by_email(
    client: Client, alice: User, mailoutbox: list[EmailMessage]
) -> None:
    for _ in range(5):
        sign_in(client, "alice", "wrong")
    assert LOCKED in sign_in(client, "alice", PASSWORD)
    assert client.get(reverse("account_reset_password")).status_code == 200
    sent = client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert sent.status_code == 302
    key_url = re.search(r"https?://[^/\s]+(/\S+/key/\S+/)", str(mailoutbox[0].body))
    assert key_url is not None
    form = client.get(key_url.group(1), follow=True)
    assert form.status_code == 200
    new = "a new password 42!"
    done = client.post(form.redirect_chain[-1][0], {"password1": new, "password2": new})
    assert done.status_code == 302
    # The reset proves the account is theirs: its failure budget starts afresh.
    assert sign_in(Client(), "alice", new) == "signed in"


def test_right_passwords_do_not_use_up_the_budget(client: Client, alice: User) -> None:
    for _ in range(8):
        response = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
        assert response.status_code == 302
        client.post(reverse("account_logout"))


def test_logout_needs_post_and_ends_the_session(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    response = client.get(reverse("editor:studio"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_password_change_page_uses_our_layout(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get(reverse("account_change_password"))
    assert response.status_code == 200
    assert b'class="site-header"' in response.content
    assert b'class="side-nav"' in response.content


def test_password_reset_sends_an_email(
    client: Client, alice: User, mailoutbox: list[EmailMessage]
) -> None:
    response = client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "alice@example.com" in mailoutbox[0].to


def test_signup_can_be_closed(client: Client, settings: SettingsWrapper) -> None:
    settings.ACCOUNT_ALLOW_REGISTRATION = False
    response = client.post(
        reverse("account_signup"),
        {
            "email": "e@example.com",
            "username": "erin",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert b"Sign Up Closed" in response.content
    assert not User.objects.filter(username="erin").exists()
