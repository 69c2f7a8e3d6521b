"""The API tokens page: make a token (shown once), list tokens (never the token), revoke one
(the API then answers 401), someone else's token is a 404; HTMX gets the row only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from api.models import PREFIX, ApiToken
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db

PAGE = "/account/tokens/"
TOKEN = re.compile(re.escape(PREFIX) + r"[A-Za-z0-9_-]{43}")


def revoke_url(token: ApiToken) -> str:
    return reverse("api_token_revoke", args=[token.pk])


def text(response: Any) -> str:
    return str(response.content.decode())


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def test_the_page_is_at_its_address_and_linked_from_the_account_pages(
    alice_client: Client,
) -> None:
    assert reverse("api_tokens") == PAGE
    page = alice_client.get(PAGE)
    assert page.status_code == 200
    assert "No tokens yet." in text(page)
    assert f'href="{PAGE}" aria-current="page"' in text(page)
    # The nav marks "Account" as the current section.
    password_page = reverse("account_change_password")
    assert f'<a href="{password_page}" aria-current="page">Account</a>' in text(page)
    # The nav's "Account" opens the password page, whose side-nav links here.
    account = alice_client.get(reverse("account_change_password"))
    assert f'href="{PAGE}"' in text(account)


def test_the_page_needs_login(client: Client, alice: User) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert client.post(PAGE, {"name": "x"}).status_code == 302
    token, _plain = ApiToken.create(alice, "x")
    assert client.post(revoke_url(token)).status_code == 302
    assert ApiToken.objects.get().is_live


def test_making_a_token_shows_it_once(alice_client: Client, alice: User) -> None:
    response = alice_client.post(PAGE, {"name": "backup script"})
    assert response.status_code == 201
    shown = TOKEN.findall(text(response))
    assert len(set(shown)) == 1
    plaintext = shown[0]
    assert "you will not see it again" in text(response)
    assert 'data-share-copy="new-token"' in text(response)
    assert "no-store" in response["Cache-Control"]
    made = ApiToken.objects.get(owner=alice)
    assert made.name == "backup script"
    assert ApiToken.find(plaintext) == made
    assert ApiClient(plaintext).get("/api/v1/usage").status_code == 200
    # The list afterwards: the name and the hint, never the token.
    again = alice_client.get(PAGE)
    assert "backup script" in text(again)
    assert made.masked in text(again)
    assert plaintext not in text(again)
    assert not TOKEN.search(text(again))


def test_a_token_needs_a_name(alice_client: Client) -> None:
    response = alice_client.post(PAGE, {"name": ""})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
    assert not TOKEN.search(text(response))


def test_a_token_name_loses_the_characters_that_reorder_it(alice_client: Client) -> None:
    response = alice_client.post(PAGE, {"name": "backup \u202egpj.exe\u202c"})
    assert response.status_code == 201
    assert ApiToken.objects.get().name == "backup gpj.exe"
    assert "\u202e" not in text(response)
    # Nothing but such characters is no name at all.
    response = alice_client.post(PAGE, {"name": "\u202e\u2066"})
    assert response.status_code == 400
    assert ApiToken.objects.count() == 1


def test_the_list_has_only_my_tokens_with_their_state(
    alice_client: Client, alice: User, bob: User
) -> None:
    mine, _plain = ApiToken.create(alice, "mine")
    old, _plain = ApiToken.create(alice, "old one")
    old.revoke()
    ApiToken.create(bob, "bobs token")
    page = text(alice_client.get(PAGE))
    assert "mine" in page
    assert "old one" in page
    assert "bobs token" not in page
    assert "Revoked" in page
    assert "Active" in page
    assert revoke_url(mine) in page
    assert revoke_url(old) not in page


def test_revoking_closes_the_api_to_the_token(alice_client: Client, alice: User) -> None:
    token, plaintext = ApiToken.create(alice, "script")
    assert ApiClient(plaintext).get("/api/v1/usage").status_code == 200
    response = alice_client.post(revoke_url(token))
    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert "revoked" in text(alice_client.get(PAGE))
    assert ApiClient(plaintext).get("/api/v1/usage").status_code == 401


def test_htmx_revoking_answers_the_row_only(alice_client: Client, alice: User) -> None:
    token, _plain = ApiToken.create(alice, "script")
    response = alice_client.post(revoke_url(token), headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = text(response).strip()
    assert body.startswith(f'<tr id="token-{token.pk}"')
    assert "Revoked" in body
    assert "<html" not in body
    assert not ApiToken.objects.get().is_live


def test_someone_elses_token_is_404(client: Client, alice: User, bob: User) -> None:
    token, _plain = ApiToken.create(alice, "script")
    client.force_login(bob)
    assert client.post(revoke_url(token)).status_code == 404
    assert ApiToken.objects.get().is_live


def test_revoking_takes_post_only(alice_client: Client, alice: User) -> None:
    token, _plain = ApiToken.create(alice, "script")
    assert alice_client.get(revoke_url(token)).status_code == 405
    assert ApiToken.objects.get().is_live
