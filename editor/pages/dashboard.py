"""The admin dashboard: how the studio is used and whether its queue keeps up.

One page for staff, in the admin's look: jobs per day over the last 30 days by operation and
outcome (a table and a bar chart drawn here as inline SVG: no chart library, nothing from a
CDN), failures grouped by the vendor's error code, the credits spent this month, storage, the
busiest people this month, the queue and its oldest job, and each vendor's last hour (jobs,
error rate, how long it took). Every figure is one aggregate query,
so the page costs the same handful of queries with ten jobs or ten million.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts import periods
from accounts.models import Quota
from editor import operations
from editor.models import UNFINISHED_STATUSES, Job, JobStatus

DAYS = 30
BUSIEST = 10
FAILURE_ROWS = 50
# Vendor health: the jobs that ended in this last stretch, at most this many of them.
HEALTH_WINDOW = dt.timedelta(hours=1)
HEALTH_ROWS = 20_000
# The outcomes a day's bar is stacked from, bottom up; "active" is every status not yet ended.
OUTCOMES: tuple[tuple[str, Any], ...] = (
    (JobStatus.SUCCEEDED, gettext_lazy("Succeeded")),
    (JobStatus.FAILED, gettext_lazy("Failed")),
    (JobStatus.CANCELED, gettext_lazy("Canceled")),
    ("active", gettext_lazy("In progress")),
)
# The chart's drawing area in SVG units; the bars share its width.
CHART_WIDTH = 720
CHART_HEIGHT = 180
CHART_LEFT = 36
CHART_BOTTOM = 24
CHART_RIGHT = 20  # room for the last day's label


@dataclass(frozen=True)
class Bar:
    """One outcome's part of one day's bar."""

    outcome: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    by_operation: list[int]
    by_outcome: list[int]
    total: int


def _outcome(status: str) -> str:
    return "active" if status in UNFINISHED_STATUSES else status


def _vendor_of(provider: str) -> str:
    """The vendor a provider calls, or the built-in engine."""
    declared = operations.PROVIDERS.get(provider)
    if declared is None:
        return provider
    return declared.vendor.label if declared.vendor else _("Built-in engine")


def _jobs_per_day(start: dt.datetime, days: list[dt.date]) -> dict[str, Any]:
    """The per-day table (newest first), the totals by operation and outcome, and the chart."""
    counts = (
        Job.objects.filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day", "operation", "status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    slugs = [operation.slug for operation in operations.OPERATIONS]
    outcome_names = [name for name, _label in OUTCOMES]
    per_day: dict[dt.date, dict[str, int]] = {day: {} for day in days}
    by_operation: dict[str, dict[str, int]] = {}
    for row in counts:
        day = row["day"]
        if day not in per_day:
            continue
        outcome = _outcome(row["status"])
        cells = per_day[day]
        cells[row["operation"]] = cells.get(row["operation"], 0) + row["count"]
        cells[outcome] = cells.get(outcome, 0) + row["count"]
        totals = by_operation.setdefault(row["operation"], {})
        totals[outcome] = totals.get(outcome, 0) + row["count"]
    # Operations no longer declared still count, after the declared ones.
    slugs += sorted(set(by_operation) - set(slugs))
    rows = [
        DayRow(
            day=day,
            by_operation=[per_day[day].get(slug, 0) for slug in slugs],
            by_outcome=[per_day[day].get(name, 0) for name in outcome_names],
            total=sum(per_day[day].get(name, 0) for name in outcome_names),
        )
        for day in days
    ]
    operation_rows = [
        {
            "label": operations.label_of(slug),
            "cells": [by_operation.get(slug, {}).get(name, 0) for name in outcome_names],
            "total": sum(by_operation.get(slug, {}).values()),
        }
        for slug in slugs
    ]
    return {
        "day_rows": list(reversed(rows)),
        "operation_columns": [operations.label_of(slug) for slug in slugs],
        "operation_rows": operation_rows,
        "chart": _chart(rows),
    }


def _chart(rows: list[DayRow]) -> dict[str, Any]:
    """Stacked bars, oldest day on the left, scaled to the busiest day."""
    peak = max((row.total for row in rows), default=0) or 1
    slot = CHART_WIDTH / max(len(rows), 1)
    bars: list[Bar] = []
    labels: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        x = CHART_LEFT + index * slot + slot * 0.15
        base = float(CHART_HEIGHT)
        for (name, label), count in zip(OUTCOMES, row.by_outcome, strict=True):
            if not count:
                continue
            height = CHART_HEIGHT * count / peak
            base -= height
            bars.append(
                Bar(
                    outcome=name,
                    x=round(x, 1),
                    y=round(base, 1),
                    width=round(slot * 0.7, 1),
                    height=round(height, 1),
                    title=f"{row.day.isoformat()}: {count} {label}",
                )
            )
        if index % 5 == 0 or index == len(rows) - 1:
            labels.append({"x": round(x + slot * 0.35, 1), "text": row.day.strftime("%m-%d")})
    return {
        "bars": bars,
        "labels": labels,
        "peak": peak,
        "width": CHART_LEFT + CHART_WIDTH + CHART_RIGHT,
        "height": CHART_HEIGHT + CHART_BOTTOM,
        "left": CHART_LEFT,
        "right": CHART_LEFT + CHART_WIDTH,
        "base": CHART_HEIGHT,
        "label_y": CHART_HEIGHT + 16,
        "legend": [{"name": name, "label": label} for name, label in OUTCOMES],
    }


def _failures(start: dt.datetime) -> list[dict[str, Any]]:
    rows = (
        Job.objects.filter(status=JobStatus.FAILED, created_at__gte=start)
        .values("provider", "error_code")
        .annotate(count=Count("pk"), last=Max("finished_at"), example=Max("error_message"))
        .order_by("-count", "provider", "error_code")[:FAILURE_ROWS]
    )
    return [
        {**row, "vendor": _vendor_of(row["provider"]), "error_code": row["error_code"] or "-"}
        for row in rows
    ]


def _vendor_health(now: dt.datetime) -> list[dict[str, Any]]:
    """Each vendor's last hour, from the jobs that ended in it: how many, the share that
    failed, and how long the vendor took (median and 95th percentile of ``vendor_seconds``).
    Read at most ``HEALTH_ROWS`` jobs: enough for the figures, bounded whatever the traffic."""
    rows = Job.objects.filter(
        finished_at__gte=now - HEALTH_WINDOW,
        status__in=(JobStatus.SUCCEEDED, JobStatus.FAILED),
    ).values_list("provider", "status", "vendor_seconds")[:HEALTH_ROWS]
    by_vendor: dict[str, dict[str, Any]] = {}
    for provider, status, seconds in rows:
        entry = by_vendor.setdefault(_vendor_of(provider), {"jobs": 0, "failed": 0, "times": []})
        entry["jobs"] += 1
        entry["failed"] += status == JobStatus.FAILED
        if seconds is not None:
            entry["times"].append(seconds)
    health = []
    for vendor, entry in sorted(by_vendor.items()):
        times = sorted(entry.pop("times"))
        health.append(
            {
                "vendor": vendor,
                **entry,
                "error_rate": round(100 * entry["failed"] / entry["jobs"]),
                "p50": _percentile(times, 0.5),
                "p95": _percentile(times, 0.95),
            }
        )
    return health


def _percentile(ordered: list[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _credits(month: dt.date) -> dict[str, Any]:
    """Credits of this month's jobs by operation: spent (succeeded), still in flight, and the
    part of the spent ones that ran on house keys. Failed and canceled jobs were refunded."""
    rows = list(
        Job.objects.filter(charged_on__gte=month)
        .values("operation")
        .annotate(
            jobs=Count("pk"),
            spent=Coalesce(Sum("credits", filter=Q(status=JobStatus.SUCCEEDED)), 0),
            pending=Coalesce(Sum("credits", filter=Q(status__in=UNFINISHED_STATUSES)), 0),
            house=Coalesce(Sum("credits", filter=Q(status=JobStatus.SUCCEEDED, house_key=True)), 0),
        )
        .order_by("-spent", "operation")
    )
    for row in rows:
        row["label"] = operations.label_of(row["operation"])
    return {
        "rows": rows,
        "spent": sum(row["spent"] for row in rows),
        "pending": sum(row["pending"] for row in rows),
        "house": sum(row["house"] for row in rows),
    }


def _busiest(month: dt.date, order: str) -> list[dict[str, Any]]:
    """The people with the most jobs (or credits) this month; credits count what was not
    refunded."""
    return list(
        Job.objects.filter(charged_on__gte=month)
        .values("owner_id", "owner__username")
        .annotate(
            jobs=Count("pk"),
            credits=Coalesce(
                Sum("credits", filter=~Q(status__in=(JobStatus.FAILED, JobStatus.CANCELED))), 0
            ),
        )
        .order_by(f"-{order}", "-jobs" if order == "credits" else "-credits", "owner__username")[
            :BUSIEST
        ]
    )


def _queue() -> dict[str, Any]:
    depth = dict(
        Job.objects.filter(status__in=UNFINISHED_STATUSES)
        .values_list("status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    oldest = (
        Job.objects.filter(status__in=UNFINISHED_STATUSES)
        .select_related("owner")
        .order_by("created_at")
        .first()
    )
    return {
        "depth": [
            {"status": status, "label": status.label, "count": depth.get(status, 0)}
            for status in UNFINISHED_STATUSES
        ],
        "total": sum(depth.values()),
        "oldest": oldest,
    }


@require_GET
@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    today = timezone.localdate(now)
    days = [today - dt.timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    start = periods.midnight(days[0])
    month = today.replace(day=1)
    stored = Quota.objects.aggregate(total=Coalesce(Sum("stored_bytes"), 0))["total"]
    context = {
        **admin.site.each_context(request),
        "title": _("Studio dashboard"),
        "days": DAYS,
        "outcomes": [label for _name, label in OUTCOMES],
        **_jobs_per_day(start, days),
        "failures": _failures(start),
        "vendor_health": _vendor_health(now),
        "credits": _credits(month),
        "month": month,
        "stored_bytes": stored,
        "busiest_by_jobs": _busiest(month, "jobs"),
        "busiest_by_credits": _busiest(month, "credits"),
        "queue": _queue(),
        "now": now,
    }
    return render(request, "admin/dashboard.html", context)
