"""Charging and refunding a person's limits, atomically.

Limits: jobs per day, vendor credits per month and concurrent jobs. Defaults come from settings
(``QUOTA_*``). A charge is one conditional UPDATE that succeeds only if every limit still holds,
so 30 submissions racing at a limit of 10 charge exactly 10 times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import GroupPlan, Plan, Quota, QuotaOverride, User


@dataclass(frozen=True)
class Limits:
    jobs_per_day: int
    credits_per_month: int
    concurrent_jobs: int
    storage_bytes: int
    # Empty: everything allowed.
    operations: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    house_keys: bool = True
    plan: str = ""  # the plan's name, "" for the settings' defaults

    def allows(self, operation: str, provider: str) -> bool:
        return (not self.operations or operation in self.operations) and (
            not self.providers or provider in self.providers
        )


class QuotaExceeded(Exception):
    """A limit would be passed. ``message`` says which, and when it resets."""

    def __init__(self, limit: str, message: str, resets_at: dt.datetime | None) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message
        self.resets_at = resets_at


def plan_for(user: User) -> Plan | None:
    """The person's plan: their own, else their groups' highest-priority one, else the plan
    named by ``DEFAULT_PLAN``, else none (the ``QUOTA_*`` settings)."""
    if user.plan_id is not None:
        return user.plan
    grouped = (
        GroupPlan.objects.filter(group__user=user)
        .select_related("plan")
        .order_by("-priority", "group__name")
        .first()
    )
    if grouped is not None:
        return grouped.plan
    if settings.DEFAULT_PLAN:
        return Plan.objects.filter(name=settings.DEFAULT_PLAN).first()
    return None


def limits_for(user: User) -> Limits:
    """The limits that hold for the person now: their plan's, each replaced by their override
    where one is set."""
    plan = plan_for(user)
    base = Limits(
        jobs_per_day=plan.jobs_per_day if plan else settings.QUOTA_JOBS_PER_DAY,
        credits_per_month=plan.credits_per_month if plan else settings.QUOTA_CREDITS_PER_MONTH,
        concurrent_jobs=plan.concurrent_jobs if plan else settings.QUOTA_CONCURRENT_JOBS,
        storage_bytes=plan.storage_bytes if plan else settings.QUOTA_STORAGE_BYTES,
        operations=tuple(plan.operations) if plan else (),
        providers=tuple(plan.providers) if plan else (),
        house_keys=plan.house_keys if plan else settings.QUOTA_HOUSE_KEYS,
        plan=plan.name if plan else "",
    )
    override = QuotaOverride.objects.filter(user=user).first()
    if override is None:
        return base
    return replace(
        base,
        **{
            name: getattr(override, name)
            for name in ("jobs_per_day", "credits_per_month", "concurrent_jobs", "storage_bytes")
            if getattr(override, name) is not None
        },
    )


def _periods(now: dt.datetime) -> tuple[dt.date, dt.date]:
    today = timezone.localdate(now)
    return today, today.replace(day=1)


def _next_day(today: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min))


def _next_month(month: dt.date) -> dt.datetime:
    first = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return timezone.make_aware(dt.datetime.combine(first, dt.time.min))


def _roll_periods(user: User, today: dt.date, month: dt.date) -> None:
    Quota.objects.get_or_create(user=user)
    # Conditional resets: harmless when several run at once.
    Quota.objects.filter(user=user, day__lt=today).update(day=today, jobs_today=0)
    Quota.objects.filter(user=user, month__lt=month).update(month=month, credits_this_month=0)


def charge(user: User, credits: int, *, now: dt.datetime | None = None) -> dt.date:
    """Count one job and its credits, or raise QuotaExceeded naming the limit.

    Call inside the transaction that creates the job. Returns the day charged, which the
    refund needs.
    """
    now = now or timezone.now()
    today, month = _periods(now)
    limits = limits_for(user)
    _roll_periods(user, today, month)
    charged = Quota.objects.filter(
        user=user,
        day=today,
        month=month,
        jobs_today__lt=limits.jobs_per_day,
        credits_this_month__lte=limits.credits_per_month - credits,
        active_jobs__lt=limits.concurrent_jobs,
    ).update(
        jobs_today=F("jobs_today") + 1,
        credits_this_month=F("credits_this_month") + credits,
        active_jobs=F("active_jobs") + 1,
    )
    if charged:
        return today
    quota = Quota.objects.get(user=user)
    if quota.active_jobs >= limits.concurrent_jobs:
        raise QuotaExceeded(
            "concurrent_jobs",
            _(
                "You already have %(count)d jobs running, your limit. "
                "Start this one when one of them ends."
            )
            % {"count": limits.concurrent_jobs},
            None,
        )
    if quota.jobs_today >= limits.jobs_per_day:
        resets = _next_day(today)
        raise QuotaExceeded(
            "jobs_per_day",
            _("You have run %(count)d jobs today, your daily limit. It resets at %(time)s.")
            % {"count": limits.jobs_per_day, "time": _when(resets)},
            resets,
        )
    resets = _next_month(month)
    left = max(0, limits.credits_per_month - quota.credits_this_month)
    raise QuotaExceeded(
        "credits_per_month",
        _(
            "This job needs %(needed)d vendor credits and you have %(left)d of your monthly "
            "%(limit)d left. The allowance resets on %(time)s."
        )
        % {
            "needed": credits,
            "left": left,
            "limit": limits.credits_per_month,
            "time": _when(resets),
        },
        resets,
    )


def release(user_id: int, credits: int, charged_on: dt.date, *, refund: bool) -> None:
    """A job ended: free its concurrency slot and, if it did not succeed, give back its job
    and credits (only within the day and month they were counted in)."""
    Quota.objects.filter(user_id=user_id, active_jobs__gt=0).update(
        active_jobs=F("active_jobs") - 1
    )
    if not refund:
        return
    Quota.objects.filter(user_id=user_id, day=charged_on, jobs_today__gt=0).update(
        jobs_today=F("jobs_today") - 1
    )
    if credits:
        Quota.objects.filter(
            user_id=user_id, month=charged_on.replace(day=1), credits_this_month__gte=credits
        ).update(credits_this_month=F("credits_this_month") - credits)


def _when(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
