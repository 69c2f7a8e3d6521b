"""Several processes hammer one budget at once, and no sliding window ever holds more than N calls:
neither by the slots the store handed out (its own clock, exact) nor as the callers saw them
(their clocks around each take). On the database store (SQLite by default, PostgreSQL in CI) and
on Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.processes import database_url

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
CALLS_EACH = 6
CALLS, SECONDS = 4, 0.5  # the budget: 4 calls in any half second
MARGIN = "0.25"
SLACK = SECONDS * float(MARGIN) / 2  # how late a reserved slot may be used (limiter.core)
CLOCK = 0.002  # the store's clock and ours are this machine's, read at microseconds


@dataclass(frozen=True)
class Call:
    """One call a hammering process made: ``before`` and ``after`` are its clock around the take
    that let it go, ``at`` the slot's time on the store's clock."""

    before: float
    at: float
    after: float


def _redis_url() -> str | None:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    url = broker.rsplit("/", 1)[0] + "/12" if broker.startswith("redis://") else ""
    url = url or "redis://127.0.0.1:6379/12"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


def _hammer(store_url: str, *, reserve: bool = False, backoff: str = "") -> list[str]:
    """Each line the processes printed, one per call."""
    name = f"test:{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "VAR_DIR": str(settings.VAR_DIR),
        "RATE_LIMIT_URL": store_url,
        "RATE_LIMIT_MARGIN": MARGIN,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    start_at = time.time() + 3.0  # after every process has set Django up
    command = [
        sys.executable,
        "-m",
        "tests.limiter.hammer",
        *("--name", name, "--rate", f"{CALLS}/{SECONDS}s", "--calls", str(CALLS_EACH)),
        *("--start-at", str(start_at)),
        *(["--reserve"] if reserve else []),
        *(["--backoff", backoff] if backoff else []),
    ]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(PROCESSES)
    ]
    lines: list[str] = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        lines += out.decode().splitlines()
    return lines


def _calls(lines: list[str]) -> list[Call]:
    calls = [Call(*(float(part) for part in line.split())) for line in lines]
    return sorted(calls, key=lambda call: call.at)


def _crowded_windows(stamps: list[float]) -> list[tuple[float, float]]:
    """Pairs of calls N apart that fell inside one window: each is a window with N+1 calls."""
    return [
        (stamps[i], stamps[i + CALLS])
        for i in range(len(stamps) - CALLS)
        if stamps[i + CALLS] - stamps[i] < SECONDS
    ]


def _surely_crowded(calls: list[Call]) -> list[tuple[float, float]]:
    """Windows that held N+1 calls whatever the store's clock said: N+1 calls, each somewhere
    between its caller's two clock readings, all inside one window. A caller that was slow to
    read its clock (a busy machine) widens its interval, so this can miss, but never invent, a
    crowded window; the store's own times are checked exactly beside it."""
    by_start = sorted(calls, key=lambda call: call.before)
    crowded = []
    for i in range(len(by_start) - CALLS):
        group = by_start[i : i + CALLS + 1]
        last = max(call.after for call in group)
        if last - group[0].before < SECONDS:
            crowded.append((group[0].before, last))
    return crowded


def _check(lines: list[str], *, reserve: bool) -> None:
    calls = _calls(lines)
    assert len(calls) == PROCESSES * CALLS_EACH
    assert _crowded_windows([call.at for call in calls]) == []
    assert _surely_crowded(calls) == []
    # The store's time for each call is the caller's: taken during the take that let it go (a
    # reserved slot may be used up to the slack after its time).
    late = SLACK if reserve else 0.0
    assert [c for c in calls if not c.before - late - CLOCK <= c.at <= c.after + CLOCK] == []
    # And the budget was used, not just respected: the calls took about the time it allows.
    ideal = (len(calls) - CALLS) / CALLS * SECONDS
    assert calls[-1].after - calls[0].before < 2 * ideal + 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("reserve", [False, True], ids=["take", "reserve"])
def test_processes_on_the_database_never_crowd_a_window(reserve: bool) -> None:
    _check(_hammer("", reserve=reserve), reserve=reserve)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("reserve", [False, True], ids=["take", "reserve"])
def test_processes_on_redis_never_crowd_a_window(reserve: bool) -> None:
    url = _redis_url()
    if url is None:
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    _check(_hammer(url, reserve=reserve), reserve=reserve)


def test_the_check_sees_a_crowded_window() -> None:
    # Five calls within half a second: the check must catch it, or the tests above prove nothing.
    assert _crowded_windows([0.0, 0.1, 0.2, 0.3, 0.4, 2.0]) == [(0.0, 0.4)]
    # As the callers saw them, five calls whose clock readings all lie within half a second
    # crowd a window; had one caller's reading come late, nothing can be said.
    calls = [Call(t, t, t + 0.05) for t in (0.0, 0.1, 0.2, 0.3, 0.4)]
    assert _surely_crowded(calls) == [(0.0, 0.45)]
    assert _surely_crowded([*calls[:4], Call(0.4, 0.4, 0.6)]) == []


# Three free tries, then a minute's wait: however many processes try at once, three go.
GUESSES = "3,60s,60s,10m"


@pytest.mark.django_db(transaction=True)
def test_processes_on_the_database_never_get_past_a_backoff() -> None:
    assert len(_hammer("", backoff=GUESSES)) == 3


@pytest.mark.django_db(transaction=True)
def test_processes_on_redis_never_get_past_a_backoff() -> None:
    url = _redis_url()
    if url is None:
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    assert len(_hammer(url, backoff=GUESSES)) == 3
