"""At most N calls in any sliding window of W seconds, across every process, thread and host.

Every budget goes through ``take``: the vendors' per-key limits, webhooks per endpoint and the
studio's own inbound limits. ``take`` is one atomic step on the store:

- Redis, when ``RATE_LIMIT_URL`` names one: a short Lua script, on Redis's own clock;
- otherwise the database: one short transaction that serializes takers (``BEGIN IMMEDIATE`` on
  SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL, on PostgreSQL's clock). Never the cache: its
  ``add``/``incr`` are a read and a write, not atomic across processes on the file cache.

The scheme is a moving window: the store keeps the times of a budget's last N calls, and the
next call may go once the N-th newest is one window old. That holds for any sliding window,
unlike a fixed window (up to 2N at a boundary) or a weighted counter (N+1 by rounding).

A caller that would have to wait may reserve the slot it would get (``reserve=True``): the slot's
future time is recorded at once, so many waiters get different, ordered slots instead of racing
each other whenever one opens, and a job is re-scheduled for exactly its slot. A reserved call
must go out within ``slack`` of its time; the window is lengthened by the margin
(``RATE_LIMIT_MARGIN``, twice the slack) so the guarantee still holds for a call that goes out
up to ``slack`` late, with the rest of the margin for network jitter. A caller that comes back
later than that takes again (its old slot stays counted, which only errs on the safe side).

A ``Backoff`` is the other kind of budget, for guesses (a share link's password): a few tries
go at once, then each further one waits twice as long as the one before, up to a cap; the tries
are forgotten after a quiet spell or at once with ``forget`` (a right guess). ``try_once``
counts a try before it is made, in one atomic step on the same stores, so many tries at once
never get past the delay.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from typing import Protocol

import redis
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from limiter.models import Window


@dataclass(frozen=True)
class Rate:
    """``calls`` per ``seconds``; ``calls == 0`` means no budget (only a vendor's hold)."""

    calls: int
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"2/1s"``, ``"5/300s"``, ``"10/m"``, ``"5/5m"``, ``"100/h"``, ``"1000/d"``; ``""`` or
        ``"0"`` for no budget."""
        text = text.strip()
        if text in ("", "0"):
            return NO_BUDGET
        calls, _, period = text.partition("/")
        unit = period[-1:] if period[-1:] in _UNITS else "s"
        seconds = float(period.removesuffix(unit) or "1") * _UNITS[unit]
        if int(calls) < 0 or seconds <= 0:
            raise ValueError(f"not a rate: {text!r}")
        return cls(int(calls), seconds)

    def __str__(self) -> str:
        return f"{self.calls}/{self.seconds:g}s" if self.calls else "no budget"


NO_BUDGET = Rate(0, 1.0)
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def rates_by(spec: str) -> dict[str, Rate]:
    """``"10/m/ip,5/5m/key"`` (allauth's syntax, kept for the settings people already have)
    as ``{"ip": 10/60s, "key": 5/300s}``."""
    rates: dict[str, Rate] = {}
    for part in spec.split(","):
        amount, _, per = part.strip().rpartition("/")
        if amount:
            rates[per] = Rate.parse(amount)
    return rates


@dataclass(frozen=True)
class Backoff:
    """``free`` tries at once, then each further try waits ``first`` seconds after the one
    before, doubling up to ``cap``; every try is forgotten ``quiet`` seconds after the last."""

    free: int
    first: float
    cap: float
    quiet: float

    @classmethod
    def parse(cls, text: str) -> Backoff:
        """``"3,1s,5m,15m"``: 3 free tries, then 1 s doubling up to 5 minutes, forgotten after
        15 quiet minutes (the units of ``Rate.parse``)."""
        try:
            free, first, cap, quiet = (part.strip() for part in text.split(","))
            backoff = cls(int(free), _seconds(first), _seconds(cap), _seconds(quiet))
        except ValueError:
            raise ValueError(f"not a backoff: {text!r}") from None
        if backoff.free < 0 or not 0 < backoff.first <= backoff.cap <= backoff.quiet:
            raise ValueError(f"not a backoff: {text!r}")
        return backoff

    def delay(self, tries: int) -> float:
        """How long after the last of ``tries`` tries the next one may go."""
        if tries < self.free:
            return 0.0
        return min(self.cap, self.first * 2.0 ** (tries - self.free))

    @property
    def keep(self) -> int:
        """How many tries' times a store keeps: past these the delay is at its cap anyway."""
        return self.free + max(0, math.ceil(math.log2(self.cap / self.first))) + 1


def _seconds(text: str) -> float:
    unit = text[-1:] if text[-1:] in _UNITS else "s"
    return float(text.removesuffix(unit)) * _UNITS[unit]


@dataclass(frozen=True)
class Slot:
    """What the store decided. ``wait``: seconds from now until the call may go (0: now).
    ``at``: the slot's time on the store's clock, to hand back as ``reserved_at``.
    ``taken``: the slot is recorded (always when reserving; otherwise only when ``wait`` is 0)."""

    wait: float
    at: float
    taken: bool

    @property
    def go(self) -> bool:
        return self.taken and self.wait <= 0


class StoreDown(Exception):
    """The budget's store cannot be reached: the caller must not go ahead without a budget."""


def budget_name(*parts: str) -> str:
    """A budget's name from its parts; a part that is a secret is passed through ``secret``."""
    return ":".join(parts)[:200]


def secret(value: str) -> str:
    """A stable, one-way name for a secret (an API key): never the key itself in a store."""
    digest = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def take(name: str, rate: Rate, *, reserve: bool = False, reserved_at: float | None = None) -> Slot:
    """Take a slot of ``rate`` in the budget ``name`` (see the module's text).

    ``reserved_at``: the ``at`` of a slot this caller reserved earlier; it is the caller's if
    it comes back in time and no hold came in between. Raises StoreDown."""
    window = rate.seconds * (1 + settings.RATE_LIMIT_MARGIN)
    slack = rate.seconds * settings.RATE_LIMIT_MARGIN / 2
    return _store().take(name, rate.calls, window, slack, reserve, reserved_at)


def hold(name: str, seconds: float) -> None:
    """No call in budget ``name`` for ``seconds`` from now (a vendor's 429 or Retry-After),
    slots already reserved included. Raises StoreDown."""
    _store().hold(name, max(0.0, seconds))


def give_back(name: str, slot: Slot) -> None:
    """Return a slot that was taken for an attempt that turned out not to count (a right
    password). Raises StoreDown."""
    _store().give_back(name, slot.at)


@dataclass(frozen=True)
class Attempt:
    """One slot in each of several budgets (say per address and per account), all or none."""

    taken: tuple[tuple[str, Slot], ...]
    wait: float  # 0 when allowed; else seconds until the first refusing budget has room

    @property
    def allowed(self) -> bool:
        return self.wait <= 0

    def give_back(self) -> None:
        """The attempt does not count after all (the password was right). Raises StoreDown."""
        for name, slot in self.taken:
            give_back(name, slot)


def attempt(*budgets: tuple[str, Rate]) -> Attempt:
    """Count one attempt against every budget, or against none when one of them is full.
    Attempts are counted before they are tried, so many at once can never overshoot a budget;
    one that succeeds is given back. Raises StoreDown."""
    taken: list[tuple[str, Slot]] = []
    for name, rate in budgets:
        slot = take(name, rate)
        if not slot.go:
            Attempt(tuple(taken), 0.0).give_back()
            return Attempt((), slot.wait)
        taken.append((name, slot))
    return Attempt(tuple(taken), 0.0)


@dataclass(frozen=True)
class Try:
    """What the store decided about one try under a Backoff. ``slot.go``: the try is counted
    and may be made now; else ``slot.wait`` says when it may. ``before``: how many tries were
    counted (since the last quiet spell) when this one came, refused or not."""

    slot: Slot
    before: int


def try_once(name: str, backoff: Backoff, *, force: bool = False) -> Try:
    """Count one try in ``name`` if the backoff lets it go now (always, with ``force``: a try
    that is let through for another reason but must still count). Give a try back with
    ``give_back(name, result.slot)``; ``forget(name)`` clears them all. Raises StoreDown."""
    return _store().try_once(name, backoff, force)


def forget(name: str) -> None:
    """Forget a budget's calls or tries at once (a right password, a password reset).
    Raises StoreDown."""
    _store().forget(name)


def forget_expired() -> int:
    """Delete budgets whose window and hold have passed (the database store; Redis expires its
    keys itself). Returns how many were deleted."""
    deleted, _ = Window.objects.filter(expires_at__lt=time.time()).delete()
    return deleted


# --- The decision, once -------------------------------------------------------------------------


def decide(
    stamps: list[float],
    held: float,
    now: float,
    calls: int,
    window: float,
    slack: float,
    reserve: bool,
    reserved_at: float | None,
) -> tuple[Slot, list[float] | None]:
    """The database store's decision; the Redis script below is the same, line for line.
    Returns the slot and the stamps to store (None: nothing changes)."""
    if reserved_at is not None and held <= now <= reserved_at + slack:
        return Slot(max(0.0, reserved_at - now), reserved_at, True), None
    opens = max(now, held)
    if calls and len(stamps) >= calls:
        opens = max(opens, stamps[-calls] + window)
    if opens > now and not reserve:
        return Slot(opens - now, opens, False), None
    # Slots are handed out in time order, so the list stays sorted.
    kept = [*stamps, opens][-calls:] if calls else []
    return Slot(opens - now, opens, True), kept


def decide_try(
    stamps: list[float], now: float, backoff: Backoff, force: bool
) -> tuple[Try, list[float] | None]:
    """The database store's decision for a Backoff; the Redis script ``_TRY`` is the same.
    ``stamps``: the times of the tries counted, oldest first. Returns the try and the stamps
    to store (None: nothing changes)."""
    if stamps and now - stamps[-1] >= backoff.quiet:
        stamps = []  # a quiet spell forgives every try
    before = len(stamps)
    opens = stamps[-1] + backoff.delay(before) if stamps else now
    if opens > now and not force:
        return Try(Slot(opens - now, opens, False), before), None
    return Try(Slot(0.0, now, True), before), [*stamps, now][-backoff.keep :]


# --- Stores -------------------------------------------------------------------------------------


class Store(Protocol):
    def take(
        self,
        name: str,
        calls: int,
        window: float,
        slack: float,
        reserve: bool,
        reserved_at: float | None,
    ) -> Slot: ...

    def hold(self, name: str, seconds: float) -> None: ...

    def give_back(self, name: str, at: float) -> None: ...

    def try_once(self, name: str, backoff: Backoff, force: bool) -> Try: ...

    def forget(self, name: str) -> None: ...


class DatabaseStore:
    """One short transaction per call. On SQLite the settings make every transaction
    ``BEGIN IMMEDIATE``, so takers queue for the write lock; on PostgreSQL the row is locked
    with ``SELECT … FOR UPDATE`` and the time is the server's."""

    def take(
        self,
        name: str,
        calls: int,
        window: float,
        slack: float,
        reserve: bool,
        reserved_at: float | None,
    ) -> Slot:
        try:
            with transaction.atomic():
                row = self._locked(name)
                now = self._now()
                slot, stamps = decide(
                    list(row.stamps),
                    row.held_until,
                    now,
                    calls,
                    window,
                    slack,
                    reserve,
                    reserved_at,
                )
                if stamps is not None:
                    row.stamps = stamps
                    row.expires_at = max(row.held_until, slot.at + window)
                    row.save(update_fields=["stamps", "expires_at"])
                return slot
        except DatabaseError as error:
            raise StoreDown(f"the rate-limit table could not be used ({error})") from error

    def hold(self, name: str, seconds: float) -> None:
        try:
            with transaction.atomic():
                row = self._locked(name)
                until = self._now() + seconds
                if until > row.held_until:
                    row.held_until = until
                    row.expires_at = max(row.expires_at, until)
                    row.save(update_fields=["held_until", "expires_at"])
        except DatabaseError as error:
            raise StoreDown(f"the rate-limit table could not be used ({error})") from error

    def give_back(self, name: str, at: float) -> None:
        try:
            with transaction.atomic():
                row = self._locked(name)
                if at in row.stamps:
                    # One, as Redis's LREM: two tries may share a time (a coarse clock).
                    row.stamps.remove(at)
                    row.save(update_fields=["stamps"])
        except DatabaseError as error:
            raise StoreDown(f"the rate-limit table could not be used ({error})") from error

    def try_once(self, name: str, backoff: Backoff, force: bool) -> Try:
        try:
            with transaction.atomic():
                row = self._locked(name)
                now = self._now()
                tried, stamps = decide_try(list(row.stamps), now, backoff, force)
                if stamps is not None:
                    row.stamps = stamps
                    row.expires_at = now + backoff.quiet
                    row.save(update_fields=["stamps", "expires_at"])
                return tried
        except DatabaseError as error:
            raise StoreDown(f"the rate-limit table could not be used ({error})") from error

    def forget(self, name: str) -> None:
        try:
            Window.objects.filter(name=name).delete()
        except DatabaseError as error:
            raise StoreDown(f"the rate-limit table could not be used ({error})") from error

    @staticmethod
    def _locked(name: str) -> Window:
        Window.objects.bulk_create([Window(name=name)], ignore_conflicts=True)
        return Window.objects.select_for_update().get(name=name)

    @staticmethod
    def _now() -> float:
        if connection.vendor == "postgresql":
            # One clock for every host; clock_timestamp() moves within a transaction too.
            with connection.cursor() as cursor:
                cursor.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
                return float(cursor.fetchone()[0])
        # SQLite is a file on this machine: every process that shares it shares this clock.
        return time.time()


# Times are whole microseconds on Redis's clock. Numbers are written with %.0f: Lua's own
# tostring keeps 14 digits, which would round a time in microseconds.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local calls, window, slack = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local reserve, reserved = ARGV[4] == '1', tonumber(ARGV[5])
local held = tonumber(redis.call('GET', KEYS[2]) or '0')
if reserved >= 0 and held <= now and now <= reserved + slack then
  return {math.max(0, reserved - now), reserved, 1}
end
local opens = math.max(now, held)
if calls > 0 and redis.call('LLEN', KEYS[1]) >= calls then
  opens = math.max(opens, tonumber(redis.call('LINDEX', KEYS[1], calls - 1)) + window)
end
if opens > now and not reserve then
  return {opens - now, opens, 0}
end
if calls > 0 then
  redis.call('LPUSH', KEYS[1], string.format('%.0f', opens))
  redis.call('LTRIM', KEYS[1], 0, calls - 1)
  redis.call('PEXPIRE', KEYS[1], math.ceil((opens - now + window) / 1000) + 1000)
end
return {opens - now, opens, 1}
"""

_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local till = now + tonumber(ARGV[1])
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if till > held then
  local ttl = math.ceil((till - now) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%.0f', till), 'PX', ttl)
end
return 1
"""

# A Backoff's tries, newest first (as _TAKE's stamps); ARGV: free, first, cap, quiet, keep, force.
_TRY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local free, first, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local quiet, keep, force = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local last = redis.call('LINDEX', KEYS[1], 0)
local before = 0
if last then
  last = tonumber(last)
  if now - last >= quiet then
    redis.call('DEL', KEYS[1])
    last = nil
  else
    before = redis.call('LLEN', KEYS[1])
  end
end
local opens = now
if last and before >= free then
  opens = last + math.min(cap, first * 2 ^ (before - free))
end
if opens > now and not force then
  return {opens - now, opens, 0, before}
end
redis.call('LPUSH', KEYS[1], string.format('%.0f', now))
redis.call('LTRIM', KEYS[1], 0, keep - 1)
redis.call('PEXPIRE', KEYS[1], math.ceil(quiet / 1000) + 1000)
return {0, now, 1, before}
"""

_MICRO = 1_000_000


class RedisStore:
    """One Lua script per call: Redis runs it whole, so takers never interleave."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._take = self._client.register_script(_TAKE)
        self._hold = self._client.register_script(_HOLD)
        self._try = self._client.register_script(_TRY)

    def take(
        self,
        name: str,
        calls: int,
        window: float,
        slack: float,
        reserve: bool,
        reserved_at: float | None,
    ) -> Slot:
        arguments = [
            calls,
            round(window * _MICRO),
            round(slack * _MICRO),
            int(reserve),
            -1 if reserved_at is None else round(reserved_at * _MICRO),
        ]
        try:
            wait, at, taken = self._take(
                keys=[f"limiter:{name}", f"limiter:{name}:hold"], args=arguments
            )
        except redis.RedisError as error:
            raise StoreDown(f"Redis could not be reached ({type(error).__name__})") from error
        return Slot(int(wait) / _MICRO, int(at) / _MICRO, bool(taken))

    def hold(self, name: str, seconds: float) -> None:
        try:
            self._hold(keys=[f"limiter:{name}:hold"], args=[round(seconds * _MICRO)])
        except redis.RedisError as error:
            raise StoreDown(f"Redis could not be reached ({type(error).__name__})") from error

    def give_back(self, name: str, at: float) -> None:
        try:
            self._client.lrem(f"limiter:{name}", 1, f"{round(at * _MICRO)}")
        except redis.RedisError as error:
            raise StoreDown(f"Redis could not be reached ({type(error).__name__})") from error

    def try_once(self, name: str, backoff: Backoff, force: bool) -> Try:
        arguments = [
            backoff.free,
            round(backoff.first * _MICRO),
            round(backoff.cap * _MICRO),
            round(backoff.quiet * _MICRO),
            backoff.keep,
            int(force),
        ]
        try:
            wait, at, taken, before = self._try(keys=[f"limiter:{name}"], args=arguments)
        except redis.RedisError as error:
            raise StoreDown(f"Redis could not be reached ({type(error).__name__})") from error
        return Try(Slot(int(wait) / _MICRO, int(at) / _MICRO, bool(taken)), int(before))

    def forget(self, name: str) -> None:
        try:
            self._client.delete(f"limiter:{name}", f"limiter:{name}:hold")
        except redis.RedisError as error:
            raise StoreDown(f"Redis could not be reached ({type(error).__name__})") from error


def _store() -> Store:
    return store_for(settings.RATE_LIMIT_URL)


@functools.cache
def store_for(url: str) -> Store:
    """The store ``RATE_LIMIT_URL`` names: a Redis URL, or "" for the database."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url)
    return DatabaseStore()
