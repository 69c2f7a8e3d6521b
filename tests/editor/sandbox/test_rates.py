"""The fake PicWish's QPS limit on a clock of the test's own: the sliding window never lets more
than N through in any second, refuses only when N got through in the second before, and its
log shows what a fixed window would have let through."""

from __future__ import annotations

import random

import pytest
from pytest_django import Settings as SettingsWrapper

from editor.sandbox.rates import RateLimit, RateLog, max_in_any_second
from editor.sandbox.state import SandboxState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answers(
    limit: RateLimit, clock: Clock, times: list[float], window: str = "sliding"
) -> list[bool]:
    """Whether each request, made at each of ``times``, was admitted (key "k", 2 per second)."""
    admitted = []
    for moment in times:
        clock.now = moment
        admitted.append(limit.admit("k", 2, window))
    return admitted


def test_sliding_admits_n_per_second_and_frees_a_slot_a_second_after_each() -> None:
    clock = Clock()
    limit = RateLimit(clock)
    times = [1000.0, 1000.25, 1000.5, 1000.75, 1001.0, 1001.125, 1001.25, 1001.5]
    assert answers(limit, clock, times) == [True, True, False, False, True, False, True, False]
    log = limit.log("k")
    assert log.admitted == (1000.0, 1000.25, 1001.0, 1001.25)
    assert log.refused == 4
    assert log.max_in_any_second() == 2


def test_sliding_refuses_a_burst_straddling_a_clock_second_that_a_fixed_window_admits() -> None:
    # Two requests late in one second and two early in the next: four within 0.25 s.
    times = [1000.75, 1000.875, 1001.0, 1001.125]
    sliding_clock, fixed_clock = Clock(), Clock()
    sliding, fixed = RateLimit(sliding_clock), RateLimit(fixed_clock)
    assert answers(sliding, sliding_clock, times) == [True, True, False, False]
    assert answers(fixed, fixed_clock, times, "fixed") == [True, True, True, True]
    assert sliding.log("k").max_in_any_second() == 2
    assert fixed.log("k").max_in_any_second() == 4  # the log gives a fixed window away


@pytest.mark.parametrize("seed", range(5))
def test_sliding_never_admits_more_than_n_in_any_second_and_refuses_only_when_full(
    seed: int,
) -> None:
    chooser = random.Random(seed)
    clock = Clock()
    limit = RateLimit(clock)
    moments = sorted(1000 + chooser.uniform(0, 20) for _ in range(400))
    admitted: list[float] = []
    for moment, allowed in zip(moments, answers(limit, clock, moments), strict=True):
        in_last_second = sum(1 for stamp in admitted if moment - stamp < 1.0)
        # Refused exactly when two were admitted in the second before: never looser, and
        # never stricter (a token bucket or a fixed window would differ on some of these).
        assert allowed == (in_last_second < 2), (moment, in_last_second)
        if allowed:
            admitted.append(moment)
    for start in admitted:  # every span [t, t + 1) that starts at an admitted request
        assert sum(1 for stamp in admitted if start <= stamp < start + 1.0) <= 2
    assert limit.log("k") == RateLog(admitted=tuple(admitted), refused=400 - len(admitted))


def test_refused_requests_take_no_slot() -> None:
    clock = Clock()
    limit = RateLimit(clock)
    hammering = [1000 + step * 0.125 for step in range(25)]  # 8 a second for 3 s
    allowed = answers(limit, clock, hammering)
    got_in = [moment for moment, yes in zip(hammering, allowed, strict=True) if yes]
    assert got_in == [1000.0, 1000.125, 1001.0, 1001.125, 1002.0, 1002.125, 1003.0]


def test_keys_are_counted_apart() -> None:
    clock = Clock()
    limit = RateLimit(clock)
    assert [limit.admit(key, 1) for key in ("a", "b", "a", "b")] == [True, True, False, False]
    assert limit.log("a") == RateLog(admitted=(1000.0,), refused=1)
    assert limit.log("unknown") == RateLog()


def test_the_log_is_bounded_per_key_and_in_keys() -> None:
    clock = Clock()
    limit = RateLimit(clock, log_size=3, max_keys=2)
    for step in range(10):
        clock.now = 1000 + step
        limit.admit("a", 1)
    assert limit.log("a").admitted == (1007.0, 1008.0, 1009.0)
    limit.admit("b", 1)
    limit.admit("a", 1)  # "a" used last: "b" is the one forgotten for "c"
    limit.admit("c", 1)
    assert limit.log("b") == RateLog()
    assert limit.log("a").refused == 1


@pytest.mark.parametrize(("window", "admitted"), [("sliding", 2), ("fixed", 4)])
def test_the_sandbox_counts_in_the_window_its_setting_names(
    settings: SettingsWrapper, window: str, admitted: int
) -> None:
    settings.SANDBOX_PICWISH_WINDOW = window
    clock = Clock()
    state = SandboxState(clock)
    for moment in (1000.75, 1000.875, 1001.0, 1001.125):
        clock.now = moment
        state.admit("k", 2)
    assert len(state.rate_log("k").admitted) == admitted
    assert state.rate_log("k").refused == 4 - admitted


def test_an_unknown_window_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown rate window 'leaky'"):
        RateLimit(Clock()).admit("k", 2, "leaky")


def test_max_in_any_second_counts_half_open_spans() -> None:
    assert max_in_any_second([]) == 0
    assert max_in_any_second([0.0, 0.5, 0.99, 1.0, 1.5]) == 3  # [0, 1) holds 0, 0.5 and 0.99
    assert max_in_any_second([0.0, 1.0, 2.0]) == 1
