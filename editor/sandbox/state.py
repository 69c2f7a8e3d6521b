"""The sandbox's memory: async tasks, result files with expiry, rate limits and credits.

Everything lives in one process behind one lock and is gone on restart. Tasks do not run in the
background: a task's state is worked out from the time that passed since it was created, so a
poll is a pure read and nothing needs a scheduler.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from django.conf import settings

from editor.sandbox.faults import Fault
from editor.sandbox.rates import RateLimit, RateLog

MEDIA_TYPES: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS: Final = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}

STARTING_CREDITS: Final = 100_000  # per key; enough that a demo never runs dry
MAX_RESULTS: Final = 2000
MAX_RESULT_BYTES: Final = 256 * 1024 * 1024
EXPIRED_RECORD_SECONDS: Final = 24 * 3600  # an expired URL answers 403 this long, then 404
MAX_TASKS: Final = 10_000


@dataclass
class StoredResult:
    token: str
    ext: str
    media_type: str
    signature: str
    expires_at: float  # Unix time
    data: bytes | None = field(repr=False)  # None once expired or evicted
    faults: tuple[Fault, ...] = ()

    @property
    def query(self) -> str:
        """The signed-URL query string, like a cloud bucket's (``&`` included on purpose)."""
        return f"Expires={int(self.expires_at)}&Signature={self.signature}"


@dataclass(frozen=True)
class Task:
    task_id: str
    key: str
    kind: str
    created_at: float  # Unix time
    duration: float  # seconds from queued to finished
    outcome: int  # the vendor's final state (PicWish ``state``, AILabTools ``task_status``)
    keep_for: float  # seconds the record stays queryable after it finished
    result_urls: tuple[str, ...] = ()
    image_base64: str = field(default="", repr=False)
    return_type: int = 1

    def fraction(self, now: float) -> float:
        """How far along the task is, 0 to 1."""
        if self.duration <= 0:
            return 1.0
        return min(1.0, max(0.0, (now - self.created_at) / self.duration))

    @property
    def finished_at(self) -> float:
        return self.created_at + self.duration


def new_task_id() -> str:
    return str(uuid.uuid4())


def task_seconds() -> float:
    """A new async task's time from queued to finished (read per task: tests shorten it)."""
    return max(0, settings.SANDBOX_TASK_MS) / 1000


def starting_credits(key: str) -> int:
    """A key's balance before its first call: ``STARTING_CREDITS``, or ``n`` for a key with a
    ``credits-<n>`` marker (``sandbox-credits-30-x``), to see an account run dry."""
    parts = key.split("-")
    for marker, value in itertools.pairwise(parts):
        if marker.lower() == "credits" and value.isdigit():
            return int(value)
    return STARTING_CREDITS


class SandboxState:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock``: the rate limit's (tests bring their own)."""
        self._lock = threading.Lock()
        self._results: OrderedDict[str, StoredResult] = OrderedDict()
        self._result_bytes = 0
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._rates = RateLimit(clock)
        self._credits: dict[str, int] = {}
        self._counters: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._results.clear()
            self._result_bytes = 0
            self._tasks.clear()
            self._rates.reset()
            self._credits.clear()
            self._counters.clear()

    # --- Results ------------------------------------------------------------------------

    def add_result(
        self,
        data: bytes,
        image_format: str,
        *,
        lifetime: float,
        faults: tuple[Fault, ...] = (),
    ) -> StoredResult:
        """Keep ``data`` for ``lifetime`` seconds from now (zero or less: already expired)."""
        now = time.time()
        stored = StoredResult(
            token=secrets.token_urlsafe(32),
            ext=EXTENSIONS[image_format],
            media_type=MEDIA_TYPES[image_format],
            signature=secrets.token_urlsafe(24),
            expires_at=now + lifetime if lifetime > 0 else now - 1,
            data=data,
            faults=faults,
        )
        with self._lock:
            self._results[stored.token] = stored
            self._result_bytes += len(data)
            self._prune_results(now)
        return stored

    def get_result(self, token: str) -> StoredResult | None:
        """The record for a token; its ``data`` is None once it expired."""
        now = time.time()
        with self._lock:
            self._prune_results(now)
            return self._results.get(token)

    def _prune_results(self, now: float) -> None:
        for token in list(self._results):
            stored = self._results[token]
            if stored.data is not None and now >= stored.expires_at:
                self._drop_data(stored)
            if now >= stored.expires_at + EXPIRED_RECORD_SECONDS:
                del self._results[token]
        # Oldest first: an evicted result answers as expired, as a full bucket's lifecycle would.
        for stored in self._results.values():
            if self._result_bytes <= MAX_RESULT_BYTES:
                break
            self._drop_data(stored)
        while len(self._results) > MAX_RESULTS:
            _, stored = self._results.popitem(last=False)
            self._drop_data(stored)

    def _drop_data(self, stored: StoredResult) -> None:
        if stored.data is not None:
            self._result_bytes -= len(stored.data)
            stored.data = None

    # --- Tasks --------------------------------------------------------------------------

    def add_task(self, task: Task) -> None:
        now = time.time()
        with self._lock:
            for task_id in list(self._tasks):
                old = self._tasks[task_id]
                if now > old.finished_at + old.keep_for:
                    del self._tasks[task_id]
            self._tasks[task.task_id] = task
            while len(self._tasks) > MAX_TASKS:
                self._tasks.popitem(last=False)

    def get_task(self, key: str, task_id: str, kinds: frozenset[str]) -> Task | None:
        """A task of one of ``kinds`` created with ``key`` and still on record."""
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or task.key != key or task.kind not in kinds:
            return None
        if time.time() > task.finished_at + task.keep_for:
            return None
        return task

    # --- Rate limits, credits, counters -------------------------------------------------

    def admit(self, key: str, per_second: int, window: str | None = None) -> bool:
        """At most ``per_second`` admitted requests per key, counted in ``window`` (see
        ``editor.sandbox.rates``; by default ``settings.SANDBOX_PICWISH_WINDOW``, PicWish's
        being the one QPS limit); every answer is logged."""
        window = window or str(settings.SANDBOX_PICWISH_WINDOW)
        return self._rates.admit(key, per_second, window)

    def rate_log(self, key: str) -> RateLog:
        """What the rate limit admitted and refused for ``key`` so far (a bench reads it)."""
        return self._rates.log(key)

    def charge(self, key: str, credits: int) -> bool:
        with self._lock:
            balance = self._credits.get(key, starting_credits(key))
            if balance < credits:
                return False
            self._credits[key] = balance - credits
            return True

    def top_up(self, key: str, credits: int) -> None:
        """Add ``credits`` to ``key``'s account, as a person does in the vendor's console after
        running dry (a test then retries what failed)."""
        with self._lock:
            self._credits[key] = self._credits.get(key, starting_credits(key)) + credits

    def balance(self, key: str) -> int:
        with self._lock:
            return self._credits.get(key, starting_credits(key))

    def count(self, key: str) -> int:
        """Count one more request for ``key``; returns the new count."""
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + 1
            return self._counters[key]


STATE = SandboxState()
