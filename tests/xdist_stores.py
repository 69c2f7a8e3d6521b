"""Each pytest-xdist worker on stores of its own, so workers never take each other's task
messages, limiter keys, cache entries, media or var/ files.

pytest-django already gives each worker a database of its own (``test_<name>_gw0``...). The rest
comes from the environment, which config/settings.py reads once on import: this plugin is loaded
with ``-p`` (pyproject's addopts), before pytest-django imports the settings, and points
``VAR_DIR`` (SQLite, the filesystem broker, the file cache, media) at a folder of the worker's own
and the Redis URLs at database numbers of the worker's own. The processes a test starts (a Celery
worker, gunicorn, beat) inherit this environment, so they share the worker's stores too.

Without xdist (or on its controller) nothing changes: a serial run and ``make run`` keep the
configured stores (Redis databases 0 and 1 by default).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping, MutableMapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Redis databases 0 and 1 are the serial run's (and `make run`'s); 12 to 15 are the container
# smoke's and the benches' (bench/load.py: 13, bench/crash.py: 14, bench/pipeline.py: 15). Worker
# gwN moves each configured number up by 2 + 2N: broker 0 and cache 1 become 2 and 3 for gw0,
# 4 and 5 for gw1... so at most five workers fit below 12.
HIGHEST_REDIS_DB = 11
MOST_WORKERS = 5
REDIS_URLS = ("CELERY_BROKER_URL", "CACHE_URL", "RATE_LIMIT_URL")


def worker_number(worker_id: str) -> int:
    """0 for ``gw0``, 1 for ``gw1``..."""
    return int(worker_id.removeprefix("gw"))


def redis_url_for_worker(url: str, number: int) -> str:
    """``url`` on database number ``configured + 2 + 2 * number``; other URLs unchanged."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        return url
    configured = int(parts.path.strip("/") or 0)
    database = configured + 2 + 2 * number
    if database > HIGHEST_REDIS_DB:
        raise pytest.UsageError(
            f"xdist worker gw{number} would use Redis database {database} for {url}: at most "
            f"{MOST_WORKERS} workers fit in databases 2 to {HIGHEST_REDIS_DB} (use -n "
            f"{MOST_WORKERS} or fewer)"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def worker_environment(environ: Mapping[str, str], worker_id: str) -> dict[str, str]:
    """The variables to change so that worker ``worker_id`` uses stores of its own."""
    number = worker_number(worker_id)
    var_dir = Path(environ.get("VAR_DIR") or ROOT / "var") / f"xdist-{worker_id}"
    changed = {"VAR_DIR": str(var_dir)}
    if environ.get("MEDIA_ROOT"):
        changed["MEDIA_ROOT"] = str(var_dir / "media")
    for name in REDIS_URLS:
        url = environ.get(name, "")
        if redis_url_for_worker(url, number) != url:
            changed[name] = redis_url_for_worker(url, number)
    return changed


def apply(environ: MutableMapping[str, str]) -> None:
    worker_id = environ.get("PYTEST_XDIST_WORKER")  # xdist sets it before the worker's config
    if worker_id:
        environ.update(worker_environment(environ, worker_id))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Before pytest-django's own implementation of this hook, which loads the settings."""
    apply(os.environ)


@pytest.hookimpl(wrapper=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> Generator[None, int, int]:
    """``-n auto``: one worker per CPU, as xdist counts them, but never more than fit in Redis."""
    counted = yield
    return min(counted, MOST_WORKERS)
