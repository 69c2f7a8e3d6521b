from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts import quotas
from accounts.models import Quota, User
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight(settings: SettingsWrapper) -> SettingsWrapper:
    settings.QUOTA_JOBS_PER_DAY = 3
    settings.QUOTA_CREDITS_PER_MONTH = 50
    settings.QUOTA_CONCURRENT_JOBS = 2
    return settings


def test_charge_counts_the_job_and_its_credits_and_puts_it_in_line(
    alice: User, tight: SettingsWrapper
) -> None:
    quotas.charge(alice, 25)
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month, quota.active_jobs) == (1, 25, 0)
    assert (quota.waiting_jobs, quota.slots) == (1, 2)
    # Its slot is taken when editor.fairqueue starts it.
    now = timezone.now()
    assert quotas.take_slots(alice.pk, 5, quotas.limits_for(alice), now) == 1
    quota.refresh_from_db()
    assert (quota.active_jobs, quota.waiting_jobs, quota.last_started_at) == (1, 0, now)


def test_slots_are_never_taken_past_the_limit(alice: User, tight: SettingsWrapper) -> None:
    limits = quotas.limits_for(alice)
    quotas.charge(alice, 0, jobs=3)
    now = timezone.now()
    assert quotas.take_slots(alice.pk, 3, limits, now) == 2
    assert quotas.take_slots(alice.pk, 1, limits, now) == 0
    quota = Quota.objects.get(user=alice)
    assert (quota.active_jobs, quota.waiting_jobs) == (2, 1)


def test_past_the_concurrent_limit_a_job_waits_until_the_waiting_limit(
    alice: User, tight: SettingsWrapper
) -> None:
    tight.QUOTA_JOBS_PER_DAY = 10
    tight.QUOTA_WAITING_JOBS = 1
    for _ in range(3):  # two in the free slots, one waiting
        quotas.charge(alice, 0)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, 0)
    assert caught.value.limit == "waiting_jobs"
    assert caught.value.message == (
        "You already have 1 job waiting for a slot, your limit (2 of your jobs run at once). "
        "Send more when it has started, or cancel it."
    )


def test_a_job_that_never_had_a_slot_gives_back_its_place_in_line(
    alice: User, tight: SettingsWrapper
) -> None:
    charged_on = quotas.charge(alice, 25)
    quotas.release(alice.pk, 25, charged_on, refund=True, had_slot=False)
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month, quota.waiting_jobs) == (0, 0, 0)


def test_daily_limit_says_when_it_resets(alice: User, tight: SettingsWrapper) -> None:
    day = timezone.now().replace(hour=12)
    for _ in range(3):
        charged_on = quotas.charge(alice, 0, now=day)
        quotas.release(alice.pk, 0, charged_on, refund=False)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, 0, now=day)
    assert caught.value.limit == "jobs_per_day"
    assert caught.value.resets_at is not None
    assert timezone.localdate(caught.value.resets_at) == timezone.localdate(day) + dt.timedelta(1)
    # The next day the count starts again.
    quotas.charge(alice, 0, now=day + dt.timedelta(days=1))


def test_credit_limit_says_what_is_left(alice: User, tight: SettingsWrapper) -> None:
    charged_on = quotas.charge(alice, 30)
    quotas.release(alice.pk, 30, charged_on, refund=False)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, 25)
    assert caught.value.limit == "credits_per_month"
    assert "20 of your monthly 50" in caught.value.message


def test_refund_gives_back_the_job_and_its_credits(alice: User, tight: SettingsWrapper) -> None:
    charged_on = quotas.charge(alice, 25)
    quotas.release(alice.pk, 25, charged_on, refund=True)
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month, quota.active_jobs) == (0, 0, 0)


def test_success_keeps_the_charge_but_frees_the_slot(alice: User, tight: SettingsWrapper) -> None:
    charged_on = quotas.charge(alice, 25)
    quotas.release(alice.pk, 25, charged_on, refund=False)
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month, quota.active_jobs) == (1, 25, 0)


def test_a_new_month_starts_from_zero(alice: User, tight: SettingsWrapper) -> None:
    now = timezone.now()
    charged_on = quotas.charge(alice, 50, now=now)
    quotas.release(alice.pk, 50, charged_on, refund=False)
    next_month = (now.replace(day=28) + dt.timedelta(days=5)).replace(hour=12)
    quotas.charge(alice, 50, now=next_month)
    # A refund of last month's job does not touch this month's count.
    quotas.release(alice.pk, 50, charged_on, refund=True)
    assert Quota.objects.get(user=alice).credits_this_month == 50


@pytest.mark.django_db(transaction=True)
def test_racing_charges_never_pass_the_limit(settings: SettingsWrapper) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("the race needs a server database with row locks (CI runs PostgreSQL)")
    settings.QUOTA_JOBS_PER_DAY = 10
    settings.QUOTA_CONCURRENT_JOBS = 100
    settings.QUOTA_CREDITS_PER_MONTH = 10_000
    racer = make_user("racer")
    start = threading.Barrier(30)
    outcomes: list[bool] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            start.wait()
            with transaction.atomic():
                quotas.charge(racer, 1)
            ok = True
        except quotas.QuotaExceeded:
            ok = False
        finally:
            connections.close_all()
        with lock:
            outcomes.append(ok)

    threads = [threading.Thread(target=submit) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(True) == 10
    assert Quota.objects.get(user=racer).jobs_today == 10


# --- Several jobs at once (a batch) ------------------------------------------------------------


def one_by_one(user: User, credits: int, count: int) -> quotas.QuotaExceeded:
    """The refusal counting ``count`` jobs one at a time meets (rolled back afterwards)."""
    try:
        with transaction.atomic():
            for _ in range(count):
                quotas.charge(user, credits)
    except quotas.QuotaExceeded as refused:
        return refused
    raise AssertionError("every job fitted")


@pytest.mark.parametrize(
    ("limits", "credits", "count", "limit"),
    [
        ({"QUOTA_CONCURRENT_JOBS": 1, "QUOTA_WAITING_JOBS": 1}, 1, 3, "waiting_jobs"),
        ({"QUOTA_JOBS_PER_DAY": 2}, 1, 5, "jobs_per_day"),
        ({"QUOTA_CREDITS_PER_MONTH": 50}, 20, 3, "credits_per_month"),
        (
            {"QUOTA_CREDITS_PER_MONTH": 50, "QUOTA_CONCURRENT_JOBS": 1, "QUOTA_WAITING_JOBS": 1},
            20,
            3,
            "waiting_jobs",
        ),
    ],
)
def test_jobs_counted_at_once_are_refused_as_one_by_one(
    alice: User,
    settings: SettingsWrapper,
    limits: dict[str, int],
    credits: int,
    count: int,
    limit: str,
) -> None:
    for name, value in limits.items():
        setattr(settings, name, value)
    quotas.charge(alice, 0)  # one job in line already
    expected = one_by_one(alice, credits, count)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, credits, jobs=count)
    assert (caught.value.limit, caught.value.message) == (expected.limit, expected.message)
    assert caught.value.limit == limit
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month, quota.waiting_jobs) == (1, 0, 1)


def test_jobs_that_fit_are_counted_at_once(alice: User, tight: SettingsWrapper) -> None:
    quotas.charge(alice, 10, jobs=2)
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month, quota.waiting_jobs) == (2, 20, 2)


def test_limits_read_by_the_caller_are_used(alice: User, tight: SettingsWrapper) -> None:
    wider = quotas.limits_for(alice)
    tight.QUOTA_JOBS_PER_DAY = 0
    quotas.charge(alice, 0, limits=wider)
    assert Quota.objects.get(user=alice).jobs_today == 1
