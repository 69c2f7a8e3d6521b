"""A person's usage page: what they used of their plan's limits, and when each limit resets.

The figures are the ones the quota enforces (accounts.quotas): the person's limits from
``limits_for`` and their ``Quota`` row, read without writing. A counter whose day or month has
passed reads as zero, which is what the next charge's reset will make it. Credits by operation
come from the person's jobs charged this month, counted as the quota counts them: a job is
charged when it is submitted and refunded when it fails or is canceled, so every job of the
month counts except the failed and canceled ones. Jobs deleted since still count in the quota
(their credits were spent); the table shows their share on a line of its own, so it always
adds up to the quota's figure.

The page costs the same few queries however many jobs there are: the limits, the quota row,
one aggregate over the month's jobs by day and operation, and the studio's house keys.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from accounts.models import Quota, User
from accounts.quotas import Limits, limits_for
from editor import operations
from editor.models import Job, JobStatus, Vendor, VendorKey

TEMPLATE = "editor/usage.html"
# Refunded jobs: what accounts.quotas.release gives back (editor.jobs ends them so).
REFUNDED = (JobStatus.FAILED, JobStatus.CANCELED)
# The line for credits the quota counted whose jobs were deleted since.
DELETED = "deleted"

# The chart, in SVG user units; the browser scales it to the page.
CHART_WIDTH = 640
CHART_HEIGHT = 230
PLOT_LEFT = 60  # room for the credit labels (larger on a phone, see studio.css)
PLOT_RIGHT = CHART_WIDTH - 8
PLOT_TOP = 14
PLOT_BOTTOM = CHART_HEIGHT - 36  # room for the day labels
BAR_SHARE = 0.7  # of each day's slot
LABELLED_DAYS = frozenset({1, 5, 10, 15, 20, 25})  # and the month's last day


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
class Segment:
    """One operation's part of one day's bar."""

    slug: str
    label: str
    credits: int
    y: str
    height: str


@dataclass(frozen=True)
class DayColumn:
    day: dt.date
    total: int
    segments: tuple[Segment, ...]
    x: str
    width: str
    label_x: str
    label: str  # the day's number under the axis, or "" for an unlabelled day
    is_today: bool

    @property
    def breakdown(self) -> str:
        """ "Retouch 3, Colorize 1": the day's credits by operation, for the text version."""
        return ", ".join(f"{segment.label} {segment.credits}" for segment in self.segments)


@dataclass(frozen=True)
class Tick:
    value: int
    y: str


@dataclass(frozen=True)
class Chart:
    columns: tuple[DayColumn, ...]
    ticks: tuple[Tick, ...]
    legend: tuple[tuple[str, str], ...]  # (slug, label) of each operation drawn
    total: int
    busiest: DayColumn | None
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = PLOT_LEFT
    right: int = PLOT_RIGHT
    top: int = PLOT_TOP
    bottom: int = PLOT_BOTTOM

    @property
    def spent_days(self) -> tuple[DayColumn, ...]:
        return tuple(column for column in self.columns if column.total)


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
    operations: tuple[OperationRow, ...]
    jobs_this_month: int
    chart: Chart
    allowed_operations: tuple[str, ...]  # labels; empty: every operation
    allowed_providers: tuple[str, ...]  # labels; empty: every provider
    house_vendors: tuple[str, ...]  # vendors with a house key the person may use

    @property
    def credits_total(self) -> int:
        return sum(row.credits for row in self.operations)

    @property
    def has_deleted(self) -> bool:
        return any(row.slug == DELETED for row in self.operations)


def next_midnight(today: dt.date) -> dt.datetime:
    """When the daily count resets: the next midnight in the studio's time zone."""
    return timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min))


def _first_of_next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def next_month(month: dt.date) -> dt.datetime:
    """When the monthly credits reset: midnight on the 1st of the next month."""
    return timezone.make_aware(dt.datetime.combine(_first_of_next_month(month), dt.time.min))


def _operation_label(slug: str) -> str:
    try:
        return str(operations.get(slug).label)
    except KeyError:  # an operation since removed from editor.operations
        return slug


def _provider_labels() -> dict[str, str]:
    labels: dict[str, str] = {}
    for operation in operations.OPERATIONS:
        for provider in operation.providers:
            labels.setdefault(provider.name, str(provider.label))
    return labels


def _order(slug: str) -> int:
    slugs = [operation.slug for operation in operations.OPERATIONS]
    return slugs.index(slug) if slug in slugs else len(slugs)


def _scale(peak: int) -> tuple[int, int]:
    """A round top for the credit axis and the step between its labelled lines."""
    peak = max(peak, 1)
    target = peak / 4
    magnitude = 10 ** math.floor(math.log10(target)) if target >= 1 else 1
    step = magnitude
    for factor in (1, 2, 5, 10):
        step = max(1, factor * magnitude)
        if step >= target:
            break
    return step * math.ceil(peak / step), step


def _units(value: float) -> str:
    # SVG coordinates: a dot for decimals whatever the language of the page.
    return f"{value:.1f}"


def _chart(month: dt.date, today: dt.date, by_day: dict[dt.date, dict[str, int]]) -> Chart:
    days = calendar.monthrange(month.year, month.month)[1]
    totals = {day: sum(credits.values()) for day, credits in by_day.items()}
    top, step = _scale(max(totals.values(), default=0))
    plot_height = PLOT_BOTTOM - PLOT_TOP
    slot = (PLOT_RIGHT - PLOT_LEFT) / days
    bar = slot * BAR_SHARE
    columns = []
    for number in range(1, days + 1):
        day = month.replace(day=number)
        credits = by_day.get(day, {})
        segments = []
        base = float(PLOT_BOTTOM)
        for slug in sorted(credits, key=_order):
            if not credits[slug]:
                continue
            height = plot_height * credits[slug] / top
            base -= height
            segments.append(
                Segment(slug, _operation_label(slug), credits[slug], _units(base), _units(height))
            )
        left = PLOT_LEFT + (number - 1) * slot
        columns.append(
            DayColumn(
                day=day,
                total=totals.get(day, 0),
                segments=tuple(segments),
                x=_units(left + (slot - bar) / 2),
                width=_units(bar),
                label_x=_units(left + slot / 2),
                label=str(number) if number in LABELLED_DAYS or number == days else "",
                is_today=day == today,
            )
        )
    ticks = tuple(
        Tick(value, _units(PLOT_BOTTOM - plot_height * value / top))
        for value in range(0, top + 1, step)
    )
    drawn = sorted({slug for credits in by_day.values() for slug, n in credits.items() if n})
    legend = tuple((slug, _operation_label(slug)) for slug in sorted(drawn, key=_order))
    spent = [column for column in columns if column.total]
    busiest = max(spent, key=lambda column: column.total) if spent else None
    return Chart(tuple(columns), ticks, legend, sum(totals.values()), busiest)


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
            owner=user, charged_on__gte=month, charged_on__lt=_first_of_next_month(month)
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
            slug, _operation_label(slug), jobs_by_operation[slug], credits_by_operation[slug]
        )
        for slug in sorted(jobs_by_operation, key=_order)
    ]
    deleted = credits_used - sum(credits_by_operation.values())
    if deleted > 0:
        table.append(OperationRow(DELETED, _("Deleted jobs"), None, deleted))

    providers = _provider_labels()
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
        day_resets=next_midnight(today),
        month_resets=next_month(month),
        jobs_today=Meter(jobs_today, limits.jobs_per_day),
        credits=Meter(credits_used, limits.credits_per_month),
        storage=Meter(quota.stored_bytes, limits.storage_bytes),
        running=Meter(quota.active_jobs, limits.concurrent_jobs),
        operations=tuple(table),
        jobs_this_month=sum(jobs_by_operation.values()),
        chart=_chart(month, today, by_day),
        allowed_operations=tuple(_operation_label(slug) for slug in limits.operations),
        allowed_providers=tuple(providers.get(name, name) for name in limits.providers),
        house_vendors=house_vendors,
    )


def chart_description(usage: Usage) -> str:
    """The chart's <desc>: what it shows, in a sentence or two."""
    month = formats.date_format(usage.month, "YEAR_MONTH_FORMAT")
    chart = usage.chart
    if chart.busiest is None:
        return _("No vendor credits spent in %(month)s yet.") % {"month": month}
    total = ngettext("%(count)d credit in all", "%(count)d credits in all", chart.total) % {
        "count": chart.total
    }
    busiest = ngettext(
        "the busiest day was %(day)s, with %(count)d credit",
        "the busiest day was %(day)s, with %(count)d credits",
        chart.busiest.total,
    ) % {
        "day": formats.date_format(chart.busiest.day, "MONTH_DAY_FORMAT"),
        "count": chart.busiest.total,
    }
    return _(
        "Vendor credits spent each day of %(month)s, one bar a day, coloured by operation: "
        "%(total)s; %(busiest)s."
    ) % {"month": month, "total": total, "busiest": busiest}


@require_GET
@login_required
def usage(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    figures = usage_for(request.user)
    return render(
        request,
        TEMPLATE,
        {"usage": figures, "chart": figures.chart, "chart_desc": chart_description(figures)},
    )
