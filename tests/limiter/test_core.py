"""The limiter's decision, and each store keeping to it."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings
from pytest_django import Settings as SettingsWrapper

from config.celery import app
from limiter import core, tasks
from limiter.core import Rate, Slot, StoreDown, decide
from limiter.models import Window

W, SLACK = 1.0, 0.02


def test_rates_parse() -> None:
    assert Rate.parse("2/1s") == Rate(2, 1.0)
    assert Rate.parse("5/300s") == Rate(5, 300.0)
    assert Rate.parse("10/") == Rate(10, 1.0)
    assert Rate.parse("") == Rate.parse("0") == core.NO_BUDGET
    with pytest.raises(ValueError, match="not a rate"):
        Rate.parse("-1/1s")
    with pytest.raises(ValueError, match="invalid literal"):
        Rate.parse("two")


def test_calls_go_until_the_window_is_full_then_wait_for_the_oldest() -> None:
    stamps: list[float] = []
    for now in (0.0, 0.1):
        slot, kept = decide(stamps, 0.0, now, 2, W, SLACK, False, None)
        assert slot == Slot(0.0, now, True)
        assert kept is not None
        stamps = kept
    slot, kept = decide(stamps, 0.0, 0.5, 2, W, SLACK, False, None)
    assert slot.wait == pytest.approx(0.5)
    assert (slot.at, slot.taken, kept) == (1.0, False, None)
    slot, kept = decide(stamps, 0.0, 1.0, 2, W, SLACK, False, None)
    assert slot.go
    assert kept == [0.1, 1.0]


def test_reserving_hands_out_ordered_slots_one_window_apart_per_n() -> None:
    stamps: list[float] = []
    slots = []
    for _ in range(6):
        slot, kept = decide(stamps, 0.0, 0.0, 2, W, SLACK, True, None)
        assert kept is not None
        stamps = kept
        slots.append(slot.at)
    assert slots == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]


def test_a_reservation_is_kept_within_its_slack_and_lost_after() -> None:
    stamps = [0.0, 1.0]
    early, kept = decide(stamps, 0.0, 0.9, 2, W, SLACK, True, 1.0)
    assert early.wait == pytest.approx(0.1)
    assert early.taken
    assert kept is None
    on_time, kept = decide(stamps, 0.0, 1.01, 2, W, SLACK, True, 1.0)
    assert on_time.go
    assert kept is None
    late, kept = decide(stamps, 0.0, 1.05, 2, W, SLACK, True, 1.0)
    # A new slot (here open at once); the old one stays counted.
    assert late.at == 1.05
    assert kept == [1.0, 1.05]


def test_a_hold_stops_calls_and_voids_reservations() -> None:
    slot, _ = decide([], 5.0, 1.0, 2, W, SLACK, False, None)
    assert (slot.wait, slot.taken) == (4.0, False)
    slot, kept = decide([0.0, 1.0], 5.0, 1.0, 2, W, SLACK, True, 1.0)
    assert slot.at == 5.0
    assert kept == [1.0, 5.0]


def test_no_budget_only_honours_a_hold() -> None:
    slot, kept = decide([], 0.0, 1.0, 0, W, SLACK, False, None)
    assert slot.go
    assert kept == []
    slot, _ = decide([], 3.0, 1.0, 0, W, SLACK, False, None)
    assert slot.wait == 2.0


def test_secrets_never_name_a_budget_in_clear() -> None:
    name = core.secret("sk-very-secret")
    assert "secret" not in name
    assert len(name) == 32
    assert core.secret("sk-very-secret") == name != core.secret("sk-other")


# --- The stores -----------------------------------------------------------------------------


def _redis_store() -> core.RedisStore:
    store = core.RedisStore("redis://127.0.0.1:6379/12")
    try:
        store._client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    return store


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest, db: None) -> core.Store:
    return core.DatabaseStore() if request.param == "database" else _redis_store()


def test_a_store_keeps_n_per_window_and_says_when(store: core.Store) -> None:
    name = uuid.uuid4().hex
    first = store.take(name, 2, 60.0, 0.1, False, None)
    second = store.take(name, 2, 60.0, 0.1, False, None)
    assert first.go
    assert second.go
    third = store.take(name, 2, 60.0, 0.1, False, None)
    assert not third.taken
    assert 59 < third.wait <= 60
    reserved = store.take(name, 2, 60.0, 0.1, True, None)
    assert reserved.taken
    assert reserved.at == pytest.approx(first.at + 60, abs=1e-3)
    again = store.take(name, 2, 60.0, 0.1, True, None)
    assert again.at == pytest.approx(second.at + 60, abs=1e-3)
    # A third reservation waits for the window after: the two above filled this one.
    assert store.take(name, 2, 60.0, 0.1, True, None).wait > 119


def test_a_store_holds_a_budget(store: core.Store) -> None:
    name = uuid.uuid4().hex
    store.hold(name, 30.0)
    slot = store.take(name, 5, 1.0, 0.01, False, None)
    assert not slot.taken
    assert 29 < slot.wait <= 30
    store.hold(name, 1.0)  # a shorter hold never shortens a longer one
    assert store.take(name, 5, 1.0, 0.01, False, None).wait > 28


def test_the_database_store_cleans_up_what_says_nothing_any_more(db: None) -> None:
    store = core.DatabaseStore()
    store.take("old", 1, 0.001, 0.0, False, None)
    store.take("fresh", 1, 3600.0, 0.0, False, None)
    Window.objects.filter(name="old").update(expires_at=1.0)
    assert core.forget_expired() == 1
    assert list(Window.objects.values_list("name", flat=True)) == ["fresh"]


def test_settings_choose_the_store(settings: SettingsWrapper, db: None) -> None:
    settings.RATE_LIMIT_URL = ""
    assert isinstance(core._store(), core.DatabaseStore)
    settings.RATE_LIMIT_URL = "redis://127.0.0.1:6379/12"
    assert isinstance(core._store(), core.RedisStore)


def test_a_store_that_is_down_says_so(settings: SettingsWrapper) -> None:
    settings.RATE_LIMIT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with pytest.raises(StoreDown, match="Redis could not be reached"):
        core.take("x", Rate(1, 1.0))
    with pytest.raises(StoreDown):
        core.hold("x", 1.0)


def test_beat_forgets_old_budgets_every_hour(db: None) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["forget-rate-budgets"]
    assert entry == {"task": "limiter.tasks.forget_expired", "schedule": 3600.0}
    assert "limiter.tasks.forget_expired" in app.tasks
    Window.objects.create(name="stale", expires_at=1.0)
    assert tasks.forget_expired.apply().get() == 1


def test_attempts_count_in_every_budget_or_none(db: None, settings: SettingsWrapper) -> None:
    settings.RATE_LIMIT_URL = ""
    wide, narrow = ("wide", Rate(10, 60.0)), ("narrow", Rate(1, 60.0))
    first = core.attempt(wide, narrow)
    assert first.allowed
    refused = core.attempt(wide, narrow)
    assert not refused.allowed
    assert refused.wait > 59
    # The refused attempt took nothing from the wide budget: one stamp there, not two.
    assert len(Window.objects.get(name="wide").stamps) == 1
    first.give_back()
    assert core.attempt(wide, narrow).allowed  # a given-back attempt frees its place


def test_rates_in_allauths_syntax() -> None:
    assert core.rates_by("10/m/ip,5/5m/key") == {"ip": Rate(10, 60.0), "key": Rate(5, 300.0)}
    assert Rate.parse("100/h") == Rate(100, 3600.0)
