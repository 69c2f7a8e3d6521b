"""The limiter's decision, and each store keeping to it."""

from __future__ import annotations

import os
import time
import uuid

import pytest
import redis
import time_machine
from django.conf import settings
from pytest_django import Settings as SettingsWrapper

from config.celery import app
from limiter import core, tasks
from limiter.core import Backoff, Rate, Slot, StoreDown, decide, decide_try
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
    # The database CI's broker is on, as tests/limiter/test_processes.py picks it.
    broker = os.environ.get("CELERY_BROKER_URL", "")
    url = broker.rsplit("/", 1)[0] + "/12" if broker.startswith("redis://") else ""
    store = core.RedisStore(url or "redis://127.0.0.1:6379/12")
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


# --- Backoffs: growing delays for guesses ----------------------------------------------------

B = Backoff(free=2, first=1.0, cap=4.0, quiet=60.0)


def test_backoffs_parse() -> None:
    assert Backoff.parse("3,1s,5m,15m") == Backoff(3, 1.0, 300.0, 900.0)
    assert Backoff.parse(" 0, 0.5, 2, 1h ") == Backoff(0, 0.5, 2.0, 3600.0)
    for bad in ("3,1s,5m", "3,0s,5m,15m", "3,10m,5m,15m", "3,1s,1h,15m", "x,1s,5m,15m", ""):
        with pytest.raises(ValueError, match="not a backoff"):
            Backoff.parse(bad)


def test_delays_double_after_the_free_tries_up_to_the_cap() -> None:
    assert [B.delay(n) for n in range(7)] == [0.0, 0.0, 1.0, 2.0, 4.0, 4.0, 4.0]
    # Enough tries are kept to reach the cap, and no more.
    assert B.keep == 5
    assert B.delay(B.keep) == B.cap


def _tries(times: list[float], backoff: Backoff = B) -> tuple[list[core.Try], list[float]]:
    stamps: list[float] = []
    tried = []
    for now in times:
        result, kept = decide_try(stamps, now, backoff, False)
        tried.append(result)
        stamps = kept if kept is not None else stamps
    return tried, stamps


def test_free_tries_go_then_each_waits_longer() -> None:
    tried, stamps = _tries([0.0, 0.0, 0.5, 1.0, 2.9, 3.0, 6.0, 7.0])
    assert [t.slot.go for t in tried] == [True, True, False, True, False, True, False, True]
    assert [t.before for t in tried] == [0, 1, 2, 2, 3, 3, 4, 4]
    assert tried[2].slot.wait == pytest.approx(0.5)  # 1 s after the second try
    assert tried[4].slot.wait == pytest.approx(0.1)  # 2 s after the third
    assert tried[6].slot.wait == pytest.approx(1.0)  # 4 s after the fourth: the cap
    assert stamps == [0.0, 0.0, 1.0, 3.0, 7.0]


def test_the_cap_holds_however_many_tries_came() -> None:
    stamps: list[float] = []
    now = 0.0
    for _ in range(20):
        result, kept = decide_try(stamps, now, B, False)
        if not result.slot.go:
            now += result.slot.wait
            result, kept = decide_try(stamps, now, B, False)
        assert result.slot.go
        assert kept is not None
        stamps = kept
    assert len(stamps) == B.keep
    refused, _ = decide_try(stamps, now, B, False)
    assert refused.slot.wait == B.cap


def test_a_quiet_spell_forgives_every_try() -> None:
    stamps = [0.0, 1.0, 2.0, 4.0]
    result, kept = decide_try(stamps, 4.0 + B.quiet, B, False)
    assert result.slot.go
    assert result.before == 0
    assert kept == [4.0 + B.quiet]


def test_a_forced_try_is_counted_even_when_it_would_wait() -> None:
    stamps = [0.0, 0.0, 0.0]
    result, kept = decide_try(stamps, 0.5, B, True)
    assert result.slot.go
    assert result.before == 3
    assert kept == [0.0, 0.0, 0.0, 0.5]


def test_a_store_backs_off_gives_back_and_forgets(store: core.Store) -> None:
    name = uuid.uuid4().hex
    slow = Backoff(free=2, first=30.0, cap=60.0, quiet=600.0)
    first = store.try_once(name, slow, False)
    second = store.try_once(name, slow, False)
    assert (first.slot.go, first.before, second.slot.go, second.before) == (True, 0, True, 1)
    third = store.try_once(name, slow, False)
    assert not third.slot.taken
    assert third.before == 2
    assert 29 < third.slot.wait <= 30
    # Giving the second back frees a free try again.
    store.give_back(name, second.slot.at)
    again = store.try_once(name, slow, False)
    assert again.slot.go
    assert again.before == 1
    forced = store.try_once(name, slow, True)
    assert forced.slot.go
    assert forced.before == 2
    assert 59 < store.try_once(name, slow, False).slot.wait <= 60  # 30 s doubled
    store.forget(name)
    fresh = store.try_once(name, slow, False)
    assert fresh.slot.go
    assert fresh.before == 0


def test_a_store_forgets_tries_after_a_quiet_spell(store: core.Store) -> None:
    name = uuid.uuid4().hex
    brief = Backoff(free=0, first=0.05, cap=0.05, quiet=0.05)
    assert store.try_once(name, brief, False).slot.go
    refused = store.try_once(name, brief, False)
    assert not refused.slot.taken
    time.sleep(refused.slot.wait + 0.01)
    after = store.try_once(name, brief, False)
    assert after.slot.go
    assert after.before == 0


def test_the_database_store_cleans_up_quiet_backoffs(db: None) -> None:
    core.DatabaseStore().try_once("guess", Backoff(1, 1.0, 1.0, 1.0), False)
    row = Window.objects.get(name="guess")
    assert row.expires_at == pytest.approx(row.stamps[-1] + 1.0)


def test_tries_in_settings_go_to_the_store_settings_choose(
    db: None, settings: SettingsWrapper
) -> None:
    settings.RATE_LIMIT_URL = ""
    once = Backoff(free=1, first=60.0, cap=60.0, quiet=60.0)
    assert core.try_once("settings", once).slot.go
    assert not core.try_once("settings", once).slot.taken
    core.forget("settings")
    assert core.try_once("settings", once).slot.go


def test_giving_back_removes_one_try_of_several_at_the_same_time(db: None) -> None:
    store = core.DatabaseStore()
    once = Backoff(free=5, first=1.0, cap=1.0, quiet=60.0)
    with time_machine.travel(1_000_000.0, tick=False):
        first = store.try_once("same-time", once, False)
        store.try_once("same-time", once, False)
        store.give_back("same-time", first.slot.at)
        assert store.try_once("same-time", once, False).before == 1
