"""What the health check reports beyond the database and the broker: that storage takes a file,
and that each queue has a worker taking its tasks.

Every ``HEALTH_HEARTBEAT_SECONDS`` beat sends a heartbeat task on each queue (config/settings.py,
``CELERY_BEAT_SCHEDULE``); the worker that takes it notes the time in the cache, which every
process shares. A queue whose last heartbeat is older than ``HEALTH_WORKER_LATE_SECONDS`` has no
worker taking its tasks (or beat is down, which stops every periodic task too).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

QUEUES = ("io", "cpu")
KEEP_SECONDS = 24 * 3600


def _key(queue: str) -> str:
    return f"health:heartbeat:{queue}"


def beat(queue: str, worker: str = "") -> None:
    """A worker of ``queue`` took a heartbeat task: note when, and which worker."""
    cache.set(_key(queue), {"at": time.time(), "worker": worker}, timeout=KEEP_SECONDS)


def workers(now: float | None = None) -> dict[str, dict[str, Any]]:
    """Each queue's worker: ``ok`` (seen lately), ``late`` (not since the limit) or
    ``unknown`` (never seen, or the cache cannot say), with the seconds since it was seen."""
    now = time.time() if now is None else now
    seen: dict[str, dict[str, Any]] = {}
    for queue in QUEUES:
        try:
            last = cache.get(_key(queue))
        except Exception as error:  # the cache's own server is down (Redis in production)
            logger.warning("health: the cache could not say when %s was seen: %s", queue, error)
            last = None
        if not last:
            seen[queue] = {"status": "unknown", "last_seen_seconds": None}
            continue
        ago = max(0.0, now - float(last["at"]))
        late = ago > settings.HEALTH_WORKER_LATE_SECONDS
        seen[queue] = {
            "status": "late" if late else "ok",
            "last_seen_seconds": round(ago, 1),
            "worker": last.get("worker", ""),
        }
    return seen


def storage_answers() -> bool:
    """Whether media storage takes a small file, gives it back and deletes it."""
    name = f"health/{uuid.uuid4().hex}.txt"
    try:
        stored = default_storage.save(name, ContentFile(b"ok"))
        try:
            with default_storage.open(stored, "rb") as handle:
                answered: bool = handle.read() == b"ok"
        finally:
            default_storage.delete(stored)
    except Exception:  # a full disk, S3 refusing or unreachable: all the same to a probe
        logger.warning("healthz: storage check failed", exc_info=True)
        return False
    return answered
