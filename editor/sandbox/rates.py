"""The fake PicWish's per-key QPS limit, and a log of what it admitted and refused.

PicWish allows a key 2 requests per second, polls included (vendor-contracts.md 6.6), without
saying how it counts them. Two ways of counting are offered (``settings.SANDBOX_PICWISH_WINDOW``):

- ``"sliding"`` (the default, and the strict reading): at most N admitted requests in ANY span
  of one second, ``[t, t + 1)``. A request is refused while the key's N-th latest admitted
  request is less than a second old. Refused requests take no slot, so a client that keeps
  asking still gets in as soon as a slot frees.
- ``"fixed"``: at most N per second of the clock (``int(now)``), as many gateways count; up
  to 2N can then pass within one second that straddles two.

Each key's log keeps the times of its latest ``RATE_LOG_SIZE`` admitted requests and the
number it refused, so a bench running the sandbox in its own process can see what a client
really got (``RateLog.max_in_any_second``). The clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

WINDOWS: Final = ("sliding", "fixed")
RATE_LOG_SIZE: Final = 10_000  # admitted requests remembered per key
RATE_LOG_KEYS: Final = 1_000  # keys remembered; the one unused longest is forgotten first


def max_in_any_second(stamps: Sequence[float]) -> int:
    """The most of ``stamps`` (ascending, in seconds) that fall in any ``[t, t + 1)``."""
    best = start = 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass(frozen=True)
class RateLog:
    """What the limit did for one key: when it admitted (clock seconds, oldest first; at most
    the latest ``RATE_LOG_SIZE``) and how many requests it refused with a 429."""

    admitted: tuple[float, ...] = ()
    refused: int = 0

    def max_in_any_second(self) -> int:
        return max_in_any_second(self.admitted)


@dataclass
class _Key:
    log: deque[float]
    recent: deque[float] = field(default_factory=deque)  # "sliding": admitted in the last 1 s
    second: int | None = None  # "fixed": the clock second counted in ``in_second``
    in_second: int = 0
    refused: int = 0


class RateLimit:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        log_size: int = RATE_LOG_SIZE,
        max_keys: int = RATE_LOG_KEYS,
    ) -> None:
        self._clock = clock
        self._log_size = log_size
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, _Key] = OrderedDict()

    def admit(self, key: str, per_second: int, window: str = "sliding") -> bool:
        """Whether ``key`` may make one more request now; logged either way."""
        if window not in WINDOWS:
            raise ValueError(f"unknown rate window {window!r}: use one of {', '.join(WINDOWS)}")
        with self._lock:
            now = self._clock()  # under the lock: the log stays in admission order
            entry = self._entry(key)
            if window == "sliding":
                while entry.recent and now - entry.recent[0] >= 1.0:
                    entry.recent.popleft()
                admitted = len(entry.recent) < per_second
                if admitted:
                    entry.recent.append(now)
            else:
                second = int(now // 1)
                if entry.second != second:
                    entry.second, entry.in_second = second, 0
                admitted = entry.in_second < per_second
                if admitted:
                    entry.in_second += 1
            if admitted:
                entry.log.append(now)
            else:
                entry.refused += 1
            return admitted

    def log(self, key: str) -> RateLog:
        with self._lock:
            entry = self._keys.get(key)
            if entry is None:
                return RateLog()
            return RateLog(admitted=tuple(entry.log), refused=entry.refused)

    def reset(self) -> None:
        with self._lock:
            self._keys.clear()

    def _entry(self, key: str) -> _Key:
        entry = self._keys.get(key)
        if entry is None:
            entry = self._keys[key] = _Key(log=deque(maxlen=self._log_size))
            while len(self._keys) > self._max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        return entry
