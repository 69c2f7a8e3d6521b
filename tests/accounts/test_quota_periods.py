"""The daily and monthly counts start again exactly at midnight and on the 1st, in the
studio's time zone (settings.TIME_ZONE), with the clock frozen either side of the boundary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pytest_django import Settings as SettingsWrapper

from accounts import quotas
from accounts.models import Quota, User

pytestmark = pytest.mark.django_db

# Far from UTC, so that a count going by UTC days would start again at the wrong moment.
ZONE = "Pacific/Auckland"


@pytest.fixture(autouse=True)
def studio_zone(settings: SettingsWrapper) -> Iterator[SettingsWrapper]:
    settings.TIME_ZONE = ZONE
    settings.QUOTA_JOBS_PER_DAY = 2
    settings.QUOTA_CREDITS_PER_MONTH = 10
    settings.QUOTA_CONCURRENT_JOBS = 100
    return settings


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(ZONE))


def run(user: User, credits: int = 0) -> None:
    """Charge one job that then succeeds (its charge stays)."""
    charged_on = quotas.charge(user, credits)
    quotas.release(user.pk, credits, charged_on, refund=False)


def test_the_day_ends_at_midnight_in_the_studios_time_zone(alice: User) -> None:
    with time_machine.travel(local(2026, 7, 14, 9, 0), tick=False):
        run(alice)
        run(alice)
    with (
        time_machine.travel(local(2026, 7, 14, 23, 59, 59), tick=False),
        pytest.raises(quotas.QuotaExceeded) as caught,
    ):
        run(alice)
    assert caught.value.limit == "jobs_per_day"
    assert caught.value.resets_at == local(2026, 7, 15, 0, 0)
    assert "2026-07-15 00:00 NZST" in caught.value.message
    with time_machine.travel(local(2026, 7, 15, 0, 0, 0), tick=False):
        run(alice)
        quota = Quota.objects.get(user=alice)
        assert (quota.day, quota.jobs_today) == (dt.date(2026, 7, 15), 1)


def test_the_month_ends_on_the_first_in_the_studios_time_zone(alice: User) -> None:
    with time_machine.travel(local(2026, 2, 3, 12, 0), tick=False):
        run(alice, 10)
    with (
        time_machine.travel(local(2026, 2, 28, 23, 59, 59), tick=False),
        pytest.raises(quotas.QuotaExceeded) as caught,
    ):
        run(alice, 1)
    assert caught.value.limit == "credits_per_month"
    assert caught.value.resets_at == local(2026, 3, 1, 0, 0)
    assert "0 of your monthly 10" in caught.value.message
    with time_machine.travel(local(2026, 3, 1, 0, 0, 0), tick=False):
        run(alice, 10)
        quota = Quota.objects.get(user=alice)
        assert (quota.month, quota.credits_this_month) == (dt.date(2026, 3, 1), 10)


def test_a_december_month_resets_on_the_first_of_january(alice: User) -> None:
    with time_machine.travel(local(2026, 12, 31, 23, 59, 59), tick=False):
        run(alice, 10)
        with pytest.raises(quotas.QuotaExceeded) as caught:
            run(alice, 1)
    assert caught.value.resets_at == local(2027, 1, 1, 0, 0)
    with time_machine.travel(local(2027, 1, 1, 0, 0, 0), tick=False):
        run(alice, 1)


def test_a_refund_after_the_boundary_leaves_the_new_period_alone(alice: User) -> None:
    with time_machine.travel(local(2026, 4, 30, 23, 59, 59), tick=False):
        charged_on = quotas.charge(alice, 4)
    with time_machine.travel(local(2026, 5, 1, 0, 0, 0), tick=False):
        run(alice, 3)
        # The April job fails now: its job and credits belonged to April.
        quotas.release(alice.pk, 4, charged_on, refund=True)
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month, quota.active_jobs) == (1, 3, 0)


def test_utc_midnight_is_not_the_studios_midnight(alice: User) -> None:
    # 23:30 in Auckland on 14 July is 11:30 UTC the same day; 00:30 on the 15th is 12:30 UTC
    # on the 14th: same UTC day, different studio days.
    with time_machine.travel(local(2026, 7, 14, 23, 30), tick=False):
        run(alice)
        run(alice)
    with time_machine.travel(local(2026, 7, 15, 0, 30), tick=False):
        run(alice)
