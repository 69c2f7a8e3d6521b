"""A person's usage page: the figures of editor.usage (their plan's limits, what they used and
when each limit resets), the month's credits by operation, and a chart of credits per day,
drawn here as SVG (with a table of the same figures).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from editor import operations, usage

TEMPLATE = "editor/usage.html"

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
        for slug in sorted(credits, key=usage.order):
            if not credits[slug]:
                continue
            height = plot_height * credits[slug] / top
            base -= height
            segments.append(
                Segment(
                    slug, operations.label_of(slug), credits[slug], _units(base), _units(height)
                )
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
    legend = tuple((slug, operations.label_of(slug)) for slug in sorted(drawn, key=usage.order))
    spent = [column for column in columns if column.total]
    busiest = max(spent, key=lambda column: column.total) if spent else None
    return Chart(tuple(columns), ticks, legend, sum(totals.values()), busiest)


def chart_description(figures: usage.Usage, chart: Chart) -> str:
    """The chart's <desc>: what it shows, in a sentence or two."""
    month = formats.date_format(figures.month, "YEAR_MONTH_FORMAT")
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
def usage_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    figures = usage.usage_for(request.user)
    chart = _chart(figures.month, figures.today, figures.by_day)
    return render(
        request,
        TEMPLATE,
        {"usage": figures, "chart": chart, "chart_desc": chart_description(figures, chart)},
    )
