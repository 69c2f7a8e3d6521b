"""``GET /api/v1/usage``: the caller's plan, limits and usage, the figures of the /usage/ page
(editor.usage.usage_for computes both)."""

from __future__ import annotations

from ninja import Router

from accounts.http import AuthenticatedHttpRequest
from api.schemas import Error, LimitsOut, UsageOut, UsedOut
from editor.usage import usage_for

router = Router(tags=["usage"])


@router.get(
    "/usage", response={200: UsageOut, 401: Error}, summary="Your plan's limits and your usage"
)
def usage(request: AuthenticatedHttpRequest) -> UsageOut:
    figures = usage_for(request.user)
    limits = figures.limits
    return UsageOut(
        plan=str(figures.plan),
        limits=LimitsOut(
            jobs_per_day=limits.jobs_per_day,
            credits_per_month=limits.credits_per_month,
            storage_bytes=limits.storage_bytes,
            concurrent_jobs=limits.concurrent_jobs,
            waiting_jobs=limits.waiting_jobs,
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
            waiting_jobs=figures.waiting.used,
        ),
    )
