"""Days and months as the studio counts them: in ``TIME_ZONE``, starting at midnight.

Quotas reset on these boundaries, the usage page shows them, and date filters (the gallery,
the admin dashboard) turn whole days into the moments that bound them.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def day_of(now: dt.datetime) -> dt.date:
    """The studio's day that ``now`` falls in."""
    return timezone.localdate(now)


def month_of(now: dt.datetime) -> dt.date:
    """The first day of the studio's month that ``now`` falls in."""
    return day_of(now).replace(day=1)


def midnight(day: dt.date) -> dt.datetime:
    """The moment ``day`` starts."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def next_day(today: dt.date) -> dt.datetime:
    """When the day starting on ``today`` ends: the next midnight."""
    return midnight(today + dt.timedelta(days=1))


def first_of_next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def next_month(month: dt.date) -> dt.datetime:
    """When the month starting on ``month`` ends: midnight on the 1st of the next one."""
    return midnight(first_of_next_month(month))
