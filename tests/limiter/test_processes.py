"""Several processes hammer one budget at once; from the times their calls went out, no sliding
window ever held more than N calls. On the database store (SQLite by default, PostgreSQL in CI)
and on Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.processes import database_url

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
CALLS_EACH = 6
CALLS, SECONDS = 4, 0.5  # the budget: 4 calls in any half second
# A wide margin so that a process descheduled between its grant and its clock reading (this
# machine is busy during the suite) still counts as on time; the guarantee is the same.
MARGIN = "0.25"


def _redis_url() -> str | None:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    url = broker.rsplit("/", 1)[0] + "/12" if broker.startswith("redis://") else ""
    url = url or "redis://127.0.0.1:6379/12"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


def _hammer(store_url: str, *, reserve: bool = False, backoff: str = "") -> list[float]:
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
    stamps: list[float] = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        stamps += [float(line) for line in out.split()]
    return sorted(stamps)


def _crowded_windows(stamps: list[float]) -> list[tuple[float, float]]:
    """Pairs of calls N apart that fell inside one window: each is a window with N+1 calls."""
    return [
        (stamps[i], stamps[i + CALLS])
        for i in range(len(stamps) - CALLS)
        if stamps[i + CALLS] - stamps[i] < SECONDS
    ]


def _check(stamps: list[float]) -> None:
    assert len(stamps) == PROCESSES * CALLS_EACH
    assert _crowded_windows(stamps) == []
    # And the budget was used, not just respected: the calls took about the time it allows.
    ideal = (len(stamps) - CALLS) / CALLS * SECONDS
    assert stamps[-1] - stamps[0] < 2 * ideal + 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("reserve", [False, True], ids=["take", "reserve"])
def test_processes_on_the_database_never_crowd_a_window(reserve: bool) -> None:
    _check(_hammer("", reserve=reserve))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("reserve", [False, True], ids=["take", "reserve"])
def test_processes_on_redis_never_crowd_a_window(reserve: bool) -> None:
    url = _redis_url()
    if url is None:
        pytest.skip("no Redis on 127.0.0.1:6379 (CI starts one)")
    _check(_hammer(url, reserve=reserve))


def test_the_check_sees_a_crowded_window() -> None:
    # Five calls within half a second: the check must catch it, or the tests above prove nothing.
    assert _crowded_windows([0.0, 0.1, 0.2, 0.3, 0.4, 2.0]) == [(0.0, 0.4)]


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
