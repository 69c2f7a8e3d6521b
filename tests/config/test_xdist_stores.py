"""Each pytest-xdist worker on stores of its own (tests/xdist_stores.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

from tests.xdist_stores import (
    apply,
    pytest_xdist_auto_num_workers,
    redis_url_for_worker,
    worker_environment,
)

CI_LIKE = {
    "VAR_DIR": "/srv/var/test-abc",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/studio",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CACHE_URL": "redis://:secret@127.0.0.1:6379/1",
}


def test_each_worker_has_its_own_var_dir_and_redis_databases() -> None:
    first = worker_environment(CI_LIKE, "gw0")
    second = worker_environment(CI_LIKE, "gw1")

    assert first == {
        "VAR_DIR": "/srv/var/test-abc/xdist-gw0",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
        "CACHE_URL": "redis://:secret@127.0.0.1:6379/3",
    }
    assert second == {
        "VAR_DIR": "/srv/var/test-abc/xdist-gw1",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/4",
        "CACHE_URL": "redis://:secret@127.0.0.1:6379/5",
    }
    # PostgreSQL: pytest-django names each worker's test database itself (test_studio_gw0...).
    assert "DATABASE_URL" not in first


def test_a_rate_limit_url_and_media_root_of_their_own_move_too() -> None:
    environ = {**CI_LIKE, "RATE_LIMIT_URL": "rediss://127.0.0.1:6380", "MEDIA_ROOT": "/srv/media"}

    changed = worker_environment(environ, "gw2")

    assert changed["RATE_LIMIT_URL"] == "rediss://127.0.0.1:6380/6"
    assert changed["MEDIA_ROOT"] == "/srv/var/test-abc/xdist-gw2/media"


def test_without_redis_or_var_dir_only_var_dir_changes() -> None:
    changed = worker_environment({"CELERY_BROKER_URL": "filesystem://"}, "gw3")

    assert changed == {"VAR_DIR": str(Path(settings.BASE_DIR) / "var" / "xdist-gw3")}


def test_redis_databases_12_and_up_are_left_to_the_smoke_and_the_benches() -> None:
    assert redis_url_for_worker("redis://127.0.0.1:6379/1", 4) == "redis://127.0.0.1:6379/11"
    with pytest.raises(pytest.UsageError, match="at most 5 workers"):
        redis_url_for_worker("redis://127.0.0.1:6379/1", 5)


@pytest.mark.parametrize(("counted", "started"), [(2, 2), (5, 5), (8, 5)])
def test_auto_never_starts_more_workers_than_fit_in_redis(counted: int, started: int) -> None:
    wrapper = pytest_xdist_auto_num_workers(config=None)  # type: ignore[arg-type]
    next(wrapper)  # xdist's own count comes back in

    with pytest.raises(StopIteration) as done:
        wrapper.send(counted)

    assert done.value.value == started


def test_the_serial_run_and_the_controller_keep_the_configured_stores() -> None:
    environ = dict(CI_LIKE)

    apply(environ)

    assert environ == CI_LIKE


@pytest.mark.skipif("PYTEST_XDIST_WORKER" not in os.environ, reason="only in an xdist worker")
def test_this_worker_runs_on_its_own_stores() -> None:
    worker = os.environ["PYTEST_XDIST_WORKER"]

    assert Path(settings.VAR_DIR).name == f"xdist-{worker}"
    assert os.environ["VAR_DIR"] == str(settings.VAR_DIR)  # what the processes it starts see
    for url in (settings.CELERY_BROKER_URL, settings.RATE_LIMIT_URL):
        if url.startswith("redis"):
            assert 2 <= int(url.rsplit("/", 1)[1]) <= 11
