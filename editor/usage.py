"""A person's usage: what they used of their plan's limits, and when each limit resets. The
usage page and the API's ``GET /usage`` show these figures.

The figures are the ones the quota enforces (accounts.quotas): the person's limits from
``limits_for`` and their ``Quota`` row, read without writing. A counter whose day or month has
passed reads as zero, which is what the next charge's reset will make it. Credits by operation
come from the person's jobs charged this month, counted as the quota counts them: a job is
charged when it is submitted and refunded when it fails or is canceled, so every job of the
month counts except the failed and canceled ones. Jobs deleted since still count in the quota
(their credits were spent); the table shows their share on a line of its own, so it always
adds up to the quota's figure.

The figures cost the same few queries however many jobs there are: the limits, the quota row,
one aggregate over the month's jobs by day and operation, and the studio's house keys.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import periods
from accounts.models import Quota, User
from accounts.quotas import Limits, limits_for
from editor import operations
from editor.models import Job, JobStatus, Vendor, VendorKey

# Refunded jobs: what accounts.quotas.release gives back (editor.jobs ends them so).
REFUNDED = (JobStatus.FAILED, JobStatus.CANCELED)
# The line for credits the quota counted whose jobs were deleted since.
DELETED = "deleted"


@dataclass(frozen=True)
class Meter:
    """One limit: how much of it is used."""

    used: int
    limit: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def percent(self) -> int:
        if self.limit <= 0:
            return 100 if self.used else 0
        return min(100, math.floor(100 * self.used / self.limit))

    @property
    def scale(self) -> int:
        """The meter's maximum (a <meter> needs one above zero)."""
        return max(self.limit, 1)

    @property
    def low(self) -> int:
        return math.floor(self.scale * 0.7)

    @property
    def high(self) -> int:
        return math.floor(self.scale * 0.9)


@dataclass(frozen=True)
class OperationRow:
    slug: str
    label: str
    jobs: int | None  # None: not known (the jobs were deleted)
    credits: int


@dataclass(frozen=True)
class Usage:
    limits: Limits
    plan: str
    today: dt.date
    month: dt.date
    day_resets: dt.datetime
    month_resets: dt.datetime
    jobs_today: Meter
    credits: Meter
    storage: Meter
    running: Meter
    # Jobs accepted beyond the running ones, waiting for a slot (editor.fairqueue).
    waiting: Meter
    operations: tuple[OperationRow, ...]
    jobs_this_month: int
    # Credits by day and operation, as the quota counts them.
    by_day: dict[dt.date, dict[str, int]]
    allowed_operations: tuple[str, ...]  # labels; empty: every operation
    allowed_providers: tuple[str, ...]  # labels; empty: every provider
    house_vendors: tuple[str, ...]  # vendors with a house key the person may use

    @property
    def credits_total(self) -> int:
        return sum(row.credits for row in self.operations)

    @property
    def has_deleted(self) -> bool:
        return any(row.slug == DELETED for row in self.operations)


def order(slug: str) -> int:
    """Where an operation comes in lists: as declared, removed ones last."""
    slugs = [operation.slug for operation in operations.OPERATIONS]
    return slugs.index(slug) if slug in slugs else len(slugs)


def usage_for(user: User, now: dt.datetime | None = None) -> Usage:
    """Everything the usage page shows, as the quota counts it at ``now``."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    month = today.replace(day=1)
    limits = limits_for(user)
    quota = Quota.objects.filter(user=user).first() or Quota(user=user)
    # A counter from an earlier day or month is what the next charge resets to zero.
    jobs_today = quota.jobs_today if quota.day == today else 0
    credits_used = quota.credits_this_month if quota.month == month else 0

    rows = (
        Job.objects.filter(
            owner=user, charged_on__gte=month, charged_on__lt=periods.first_of_next_month(month)
        )
        .exclude(status__in=REFUNDED)
        .values_list("charged_on", "operation")
        .annotate(jobs=Count("id"), credits=Sum("credits"))
        .order_by()
    )
    jobs_by_operation: dict[str, int] = {}
    credits_by_operation: dict[str, int] = {}
    by_day: dict[dt.date, dict[str, int]] = {}
    for day, slug, jobs, credits in rows:
        jobs_by_operation[slug] = jobs_by_operation.get(slug, 0) + jobs
        credits_by_operation[slug] = credits_by_operation.get(slug, 0) + (credits or 0)
        by_day.setdefault(day, {})[slug] = credits or 0
    table = [
        OperationRow(
            slug, operations.label_of(slug), jobs_by_operation[slug], credits_by_operation[slug]
        )
        for slug in sorted(jobs_by_operation, key=order)
    ]
    deleted = credits_used - sum(credits_by_operation.values())
    if deleted > 0:
        table.append(OperationRow(DELETED, _("Deleted jobs"), None, deleted))

    house_vendors: tuple[str, ...] = ()
    if limits.house_keys:
        house_vendors = tuple(
            Vendor(vendor).label
            for vendor in VendorKey.objects.filter(owner__isnull=True)
            .order_by("vendor")
            .values_list("vendor", flat=True)
        )
    return Usage(
        limits=limits,
        plan=limits.plan or _("Studio defaults"),
        today=today,
        month=month,
        day_resets=periods.next_day(today),
        month_resets=periods.next_month(month),
        jobs_today=Meter(jobs_today, limits.jobs_per_day),
        credits=Meter(credits_used, limits.credits_per_month),
        storage=Meter(quota.stored_bytes, limits.storage_bytes),
        running=Meter(quota.active_jobs, limits.concurrent_jobs),
        waiting=Meter(quota.waiting_jobs, limits.waiting_jobs),
        operations=tuple(table),
        jobs_this_month=sum(jobs_by_operation.values()),
        by_day=by_day,
        allowed_operations=tuple(operations.label_of(slug) for slug in limits.operations),
        allowed_providers=tuple(operations.provider_label(name) for name in limits.providers),
        house_vendors=house_vendors,
    )
