from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_home_invites_visitors_to_sign_up(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert reverse("account_signup").encode() in response.content
    assert b"/static/js/htmx.min.js" in response.content
    assert b"X-CSRFToken" in response.content


def test_home_sends_a_signed_in_user_to_their_studio(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("editor:studio")


def test_studio_needs_login(client: Client) -> None:
    response = client.get(reverse("editor:studio"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_studio_shows_the_empty_state(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get(reverse("editor:studio"))
    assert response.status_code == 200
    assert b"No photos yet" in response.content
    assert b"alice" in response.content


def test_no_page_loads_anything_from_another_origin(client: Client) -> None:
    for url in ("/", reverse("account_login"), reverse("account_signup")):
        content = client.get(url).content.decode()
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', content), url
