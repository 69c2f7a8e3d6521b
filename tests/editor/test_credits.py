"""The ``check_credits`` task: a worker asks the sandbox over HTTP what a key has left and leaves
the figure in the cache for the vault (editor.credits)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.core.cache import cache
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from config.celery import app
from editor import credits, tasks
from editor.models import Vendor, VendorKey
from editor.sandbox import server
from editor.sandbox.state import STATE
from tests.broker import SentTasks
from tests.factories import make_key
from tests.images import make_image

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def sandbox() -> Iterator[server.RunningSandbox]:
    running = server.start("127.0.0.1", 0)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _sandbox_settings(settings: SettingsWrapper, sandbox: server.RunningSandbox) -> None:
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_URL = sandbox.url
    settings.CREDITS_CACHE_SECONDS = 300
    STATE.reset()


@pytest.fixture
def sent(sent_tasks: SentTasks) -> list[tuple[Any, ...]]:
    return sent_tasks.args[credits.CHECK_TASK]


@pytest.fixture
def cache_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Any]]:
    """Every ``cache.set`` with its timeout."""
    writes: list[tuple[str, Any, Any]] = []
    real_set = cache.set

    def spy(name: str, value: Any, timeout: Any = None) -> None:
        writes.append((name, value, timeout))
        real_set(name, value, timeout)

    monkeypatch.setattr(cache, "set", spy)
    return writes


def spend_retouch(sandbox: server.RunningSandbox, secret: str) -> None:
    files = {
        "image": ("a.jpg", make_image((120, 90)), "image/jpeg"),
        "style": ("b.jpg", make_image((90, 90)), "image/jpeg"),
    }
    answer = httpx.post(
        f"{sandbox.url}/api/image/editing/photo-retouching",
        headers={"ailabapi-api-key": secret},
        files=files,
    )
    assert answer.status_code == 200


def test_the_task_stores_the_balance_in_the_cache(alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, "sandbox-alice-credits-5000-a")
    assert credits.cached(key) is None
    before = timezone.now()

    tasks.check_credits(str(key.pk))  # as the worker runs it

    figure = credits.cached(key)
    assert figure is not None
    assert (figure.outcome, figure.balance, figure.total) == (credits.OK, 5000, 5000)
    assert before <= figure.checked_at <= timezone.now()


def test_the_figure_follows_what_the_key_spent(alice: User, sandbox: server.RunningSandbox) -> None:
    secret = "sandbox-alice-b"
    key = make_key(alice, Vendor.AILABTOOLS, secret)
    spend_retouch(sandbox, secret)
    tasks.check_credits(str(key.pk))
    figure = credits.cached(key)
    assert figure is not None
    assert figure.balance == 100_000 - 3
    # Cached: spending more changes nothing until the figure is forgotten or expires.
    spend_retouch(sandbox, secret)
    assert credits.cached(key) == figure
    credits.forget(key)
    tasks.check_credits(str(key.pk))
    again = credits.cached(key)
    assert again is not None
    assert again.balance == 100_000 - 6


def test_the_figure_is_kept_for_credits_cache_seconds(
    alice: User, settings: SettingsWrapper, cache_writes: list[tuple[str, Any, Any]]
) -> None:
    settings.CREDITS_CACHE_SECONDS = 42
    key = make_key(alice, Vendor.AILABTOOLS, "sandbox-alice-c")
    tasks.check_credits(str(key.pk))
    ((name, value, timeout),) = cache_writes
    assert timeout == 42
    assert str(key.pk) in name  # one cache entry per key
    assert "sandbox-alice-c" not in repr(value)  # the key itself is never cached


@pytest.mark.parametrize(
    ("secret", "outcome", "retry_soon"),
    [
        ("sandbox-fault-error-ERROR_APPLICATIONS_NOT_EXISTS-d", credits.REFUSED, False),
        ("sandbox-fault-error-ERROR_USER_LOCKED-d", credits.REFUSED, False),
        ("sandbox-fault-ratelimit-d", credits.FAILED, True),
        ("sandbox-fault-http-502-d", credits.FAILED, True),
        ("sandbox-fault-error-ERROR_AI_NOT_EXISTS-d", credits.FAILED, False),
    ],
)
def test_errors_are_cached_with_what_went_wrong(
    alice: User,
    cache_writes: list[tuple[str, Any, Any]],
    secret: str,
    outcome: str,
    retry_soon: bool,
) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, secret)
    tasks.check_credits(str(key.pk))
    figure = credits.cached(key)
    assert figure is not None
    assert figure.outcome == outcome
    assert secret not in figure.message
    if outcome == credits.FAILED:
        assert figure.message.startswith("AILabTools")
    assert [timeout for _name, _value, timeout in cache_writes] == [
        credits.RETRY_SECONDS if retry_soon else 300
    ]


def test_a_key_the_vault_cannot_decrypt(alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, "sandbox-alice-e")
    VendorKey.objects.filter(pk=key.pk).update(ciphertext="gAAAAA-not-a-token")
    key.refresh_from_db()
    tasks.check_credits(str(key.pk))
    figure = credits.cached(key)
    assert figure is not None
    assert figure.outcome == credits.UNREADABLE


def test_picwish_keys_and_deleted_keys_are_not_checked(alice: User) -> None:
    picwish = make_key(alice, Vendor.PICWISH, "sandbox-alice-f")
    assert credits.check(str(picwish.pk)) is None
    assert credits.cached(picwish) is None
    gone = make_key(alice, Vendor.AILABTOOLS, "sandbox-alice-g")
    gone_id = str(gone.pk)
    gone.delete()
    assert credits.check(gone_id) is None


def test_a_check_is_requested_once_until_it_answers(
    alice: User, sent: list[tuple[Any, ...]]
) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, "sandbox-alice-h")
    assert credits.request_check(key)
    assert not credits.request_check(key)
    assert sent == [(str(key.pk),)]  # the id only: never the key
    assert credits.pending_since(key) is not None
    credits.check(str(key.pk))
    assert credits.pending_since(key) is None  # answered: a later look may ask again


def test_replacing_the_secret_starts_a_fresh_figure(alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, "sandbox-alice-credits-10-i")
    tasks.check_credits(str(key.pk))
    assert credits.cached(key) is not None
    key.set_secret("sandbox-alice-credits-20-i")
    key.save()
    assert credits.cached(key) is None
    tasks.check_credits(str(key.pk))
    figure = credits.cached(key)
    assert figure is not None
    assert figure.balance == 20


def test_the_task_runs_on_the_io_queue() -> None:
    assert app.amqp.router.route({}, credits.CHECK_TASK)["queue"].name == "io"
    assert tasks.check_credits.name == credits.CHECK_TASK


def test_an_old_cache_entry_is_ignored(alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, "sandbox-alice-j")
    cache.set(credits._name(key, "figure"), {"balance": 3, "when": dt.datetime.now(dt.UTC)})
    assert credits.cached(key) is None
    cache.set(credits._name(key, "figure"), "garbage")
    assert credits.cached(key) is None
