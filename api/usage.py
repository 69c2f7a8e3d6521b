"""``GET /api/v1/usage``: the caller's plan, limits and usage, the figures of the /usage/ page
(editor.usage_views.usage_for computes both)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema

from accounts.models import User
from api.errors import Error
from editor.usage_views import usage_for

router = Router(tags=["usage"])


class LimitsOut(Schema):
    jobs_per_day: int
    credits_per_month: int
    storage_bytes: int
    concurrent_jobs: int
    operations: list[str] = Field(description="Operation slugs you may run; empty: every one.")
    providers: list[str] = Field(description="Providers you may use; empty: every one.")
    house_keys: bool = Field(description="Whether jobs may run on the studio's own keys.")


class UsedOut(Schema):
    jobs_today: int
    jobs_today_resets_at: dt.datetime
    credits_this_month: int
    credits_resets_at: dt.datetime
    stored_bytes: int
    running_jobs: int


class UsageOut(Schema):
    plan: str
    limits: LimitsOut
    usage: UsedOut


@router.get(
    "/usage", response={200: UsageOut, 401: Error}, summary="Your plan's limits and your usage"
)
def usage(request: HttpRequest) -> UsageOut:
    assert isinstance(request.user, User)
    figures = usage_for(request.user)
    limits = figures.limits
    return UsageOut(
        plan=str(figures.plan),
        limits=LimitsOut(
            jobs_per_day=limits.jobs_per_day,
            credits_per_month=limits.credits_per_month,
            storage_bytes=limits.storage_bytes,
            concurrent_jobs=limits.concurrent_jobs,
            operations=list(limits.operations),
            providers=list(limits.providers),
            house_keys=limits.house_keys,
        ),
        usage=UsedOut(
            jobs_today=figures.jobs_today.used,
            jobs_today_resets_at=figures.day_resets,
            credits_this_month=figures.credits.used,
            credits_resets_at=figures.month_resets,
            stored_bytes=figures.storage.used,
            running_jobs=figures.running.used,
        ),
    )
