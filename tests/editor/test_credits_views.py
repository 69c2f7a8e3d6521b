"""The remaining-credits fragment on a vault key row: cached, pending, error, and only ever the
owner's own AILabTools key."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from editor import credits
from editor.models import Vendor, VendorKey
from tests.broker import SentTasks
from tests.factories import SECRET, make_key

pytestmark = pytest.mark.django_db

HTMX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def url(key: VendorKey) -> str:
    return reverse("editor:vault_credits", args=[key.pk])


def remember(key: VendorKey, figure: credits.Figure) -> None:
    """What a worker's check leaves in the cache."""
    cache.set(credits._name(key, "figure"), figure.to_cache())


@pytest.fixture
def sent(sent_tasks: SentTasks) -> list[tuple[Any, ...]]:
    return sent_tasks.args[credits.CHECK_TASK]


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


@pytest.fixture
def key(alice: User) -> VendorKey:
    return make_key(alice, Vendor.AILABTOOLS, SECRET)


# --- Access ------------------------------------------------------------------------------------


def test_the_fragment_needs_login(client: Client, key: VendorKey, sent: list[Any]) -> None:
    for method in ("get", "post"):
        response = getattr(client, method)(url(key), **HTMX)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert sent == []


def test_someone_else_s_key_is_a_404(
    client: Client, bob: User, key: VendorKey, sent: list[Any]
) -> None:
    client.force_login(bob)
    for method in ("get", "post"):
        assert getattr(client, method)(url(key), **HTMX).status_code == 404
    assert sent == []
    assert credits.pending_since(key) is None


def test_picwish_and_house_keys_have_no_fragment(
    alice_client: Client, alice: User, sent: list[Any]
) -> None:
    picwish = make_key(alice, Vendor.PICWISH, SECRET)
    house = make_key(None, Vendor.AILABTOOLS, "sandbox-house-key")
    for other in (picwish, house):
        assert alice_client.get(url(other), **HTMX).status_code == 404
    assert sent == []


def test_only_get_and_post(alice_client: Client, key: VendorKey) -> None:
    assert alice_client.put(url(key), **HTMX).status_code == 405


# --- States --------------------------------------------------------------------------------------


def test_with_nothing_cached_it_asks_a_worker_once_and_polls(
    alice_client: Client, key: VendorKey, sent: list[Any]
) -> None:
    first = alice_client.get(url(key), **HTMX)
    second = alice_client.get(url(key), **HTMX)
    assert sent == [(str(key.pk),)]  # enqueued once, by id
    for response in (first, second):
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-state="waiting"' in html
        assert f'hx-get="{url(key)}"' in html
        assert 'hx-trigger="load delay:2s"' in html
        assert "Checking the remaining credits" in html
        assert "<html" not in html  # the fragment only
        assert "Check again" not in html


def test_a_cached_balance_is_shown_without_polling(
    alice_client: Client, key: VendorKey, sent: list[Any]
) -> None:
    remember(key, credits.Figure(credits.OK, timezone.now(), balance=1234, total=5000))
    html = alice_client.get(url(key), **HTMX).content.decode()
    assert sent == []
    assert 'data-state="ok"' in html
    assert "1,234 credits left" in html
    assert "checked just now" in html
    assert "hx-get" not in html  # no more polling
    assert "Check again" in html
    assert SECRET not in html


def test_the_age_of_the_figure_is_shown(alice_client: Client, key: VendorKey) -> None:
    remember(key, credits.Figure(credits.OK, timezone.now(), balance=1))
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2, seconds=5)):
        html = alice_client.get(url(key), **HTMX).content.decode()
    assert "1 credit left" in html
    assert "checked 2\xa0minutes ago" in html


def test_polling_ends_when_the_worker_has_answered(
    alice_client: Client, key: VendorKey, sent: list[Any]
) -> None:
    assert 'data-state="waiting"' in alice_client.get(url(key), **HTMX).content.decode()
    remember(key, credits.Figure(credits.OK, timezone.now(), balance=99_997))
    html = alice_client.get(url(key), **HTMX).content.decode()
    assert "99,997 credits left" in html
    assert "hx-get" not in html


@pytest.mark.parametrize(
    ("figure", "text"),
    [
        (
            credits.Figure(credits.REFUSED, dt.datetime(2026, 3, 1, tzinfo=dt.UTC)),
            "The key was refused",
        ),
        (
            credits.Figure(credits.UNREADABLE, dt.datetime(2026, 3, 1, tzinfo=dt.UTC)),
            "can no longer be decrypted",
        ),
        (
            credits.Figure(
                credits.FAILED,
                dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                message="AILabTools did not answer in time.",
            ),
            "could not be checked: AILabTools did not answer in time.",
        ),
    ],
    ids=["refused", "unreadable", "failed"],
)
def test_errors_are_shown_with_a_way_to_try_again(
    alice_client: Client, key: VendorKey, figure: credits.Figure, text: str
) -> None:
    remember(key, figure)
    html = alice_client.get(url(key), **HTMX).content.decode()
    assert f'data-state="{figure.outcome}"' in html
    assert text in html
    assert "hx-get" not in html
    assert f'hx-post="{url(key)}"' in html
    assert "credits left" not in html


def test_a_check_nobody_answers_stops_polling(
    alice_client: Client, key: VendorKey, sent: list[Any]
) -> None:
    cache.set(credits._name(key, "pending"), time.time() - credits.WAIT_SECONDS - 1)
    html = alice_client.get(url(key), **HTMX).content.decode()
    assert 'data-state="stalled"' in html
    assert "could not be checked just now" in html
    assert "hx-get" not in html
    assert sent == []


def test_check_again_forgets_the_figure_and_asks_anew(
    alice_client: Client, key: VendorKey, sent: list[Any]
) -> None:
    remember(key, credits.Figure(credits.OK, timezone.now(), balance=10))
    html = alice_client.post(url(key), **HTMX).content.decode()
    assert 'data-state="waiting"' in html
    assert sent == [(str(key.pk),)]
    assert credits.cached(key) is None


def test_without_htmx_it_goes_back_to_the_vault(
    alice_client: Client, key: VendorKey, sent: list[Any]
) -> None:
    response = alice_client.get(url(key))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('editor:vault')}#key-{key.pk}"
    assert sent == []
    remember(key, credits.Figure(credits.OK, timezone.now(), balance=10))
    response = alice_client.post(url(key))  # "Check again" as a plain form
    assert response.status_code == 302
    assert sent == [(str(key.pk),)]


# --- In the vault -------------------------------------------------------------------------------


def test_the_vault_row_loads_the_fragment_for_ailabtools_keys_only(
    alice_client: Client, alice: User, key: VendorKey, sent: list[Any]
) -> None:
    picwish = make_key(alice, Vendor.PICWISH, "sk-picwish-0123456789")
    html = alice_client.get(reverse("editor:vault")).content.decode()
    assert f'hx-get="{url(key)}"' in html
    assert 'hx-trigger="load"' in html
    assert f"key-credits-{picwish.pk}" not in html
    assert reverse("editor:vault_credits", args=[picwish.pk]) not in html
    assert sent == []  # the page itself asks nobody; the fragment does
    # A row swapped in by HTMX (after an edit) carries it too.
    row = alice_client.get(reverse("editor:vault_key", args=[key.pk]), **HTMX).content.decode()
    assert f'hx-get="{url(key)}"' in row
