"""Job feedback on every page: which of a person's jobs ended since a moment.

``static/js/notify.js`` polls :func:`job_feed` only while the page says the person has jobs under
way (``data-active-jobs`` on ``<body>``, from :func:`job_activity`), and turns each ended job into
a toast, a title and favicon badge and, if the person allowed it, a browser notification.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from editor import jobs, operations
from editor.models import UNFINISHED_STATUSES, Job, JobStatus

# How far back ``since`` may reach: a page polls every few seconds, so this only bounds what a
# forged or stale cursor can ask for.
MAX_LOOKBACK = dt.timedelta(hours=1)
# The most ended jobs one answer lists, newest first.
MAX_JOBS = 20
# notify.js polls this often while jobs are under way.
POLL_MS = 3000


def _epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _parse_since(raw: str, now: dt.datetime) -> dt.datetime | None:
    """Epoch milliseconds (what notify.js sends) or an ISO 8601 date-time; None if neither."""
    raw = raw.strip()
    if not raw:
        return now
    if raw.isdigit():
        try:
            since = dt.datetime.fromtimestamp(int(raw) / 1000, tz=dt.UTC)
        except (OverflowError, ValueError, OSError):
            return None
    else:
        try:
            parsed = parse_datetime(raw.replace(" ", "+"))  # a "+" in a query string is a space
        except ValueError:
            return None
        if parsed is None:
            return None
        since = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.UTC)
    return max(since, now - MAX_LOOKBACK)


@require_GET
@login_required
def job_feed(request: AuthenticatedHttpRequest) -> HttpResponse:
    """``GET /jobs/feed/?since=<epoch ms>``: the person's jobs that ended at or after ``since``
    and how many are still under way, in one query on the person's own jobs."""
    now = timezone.now()
    since = _parse_since(request.GET.get("since", ""), now)
    if since is None:
        message = _("“since” must be epoch milliseconds or ISO 8601.")
        return JsonResponse({"error": message}, status=400)
    rows = list(
        Job.objects.filter(owner=request.user)
        .filter(Q(status__in=UNFINISHED_STATUSES) | Q(finished_at__gte=since))
        .order_by("-finished_at")
        # A recipe step's place in its run, in the same query (a job is at most one step).
        .values_list(
            "id",
            "operation",
            "status",
            "finished_at",
            "recipe_steps__index",
            "recipe_steps__run__steps",
        )
    )
    active = sum(1 for row in rows if row[2] in UNFINISHED_STATUSES)
    ended = [row for row in rows if row[2] not in UNFINISHED_STATUSES and not _handed_on(row)]
    said = []
    for job_id, slug, status, finished_at, _index, _steps in ended[:MAX_JOBS]:
        label = operations.label_of(slug)
        said.append(
            {
                "id": str(job_id),
                "operation": slug,
                "label": label,
                "status": status,
                "status_label": str(JobStatus(status).label),
                "message": jobs.ended_message(slug, status),
                "url": reverse("editor:job", args=[job_id]),
                "finished_at": _epoch_ms(finished_at) if finished_at else None,
            }
        )
    response = JsonResponse({"now": _epoch_ms(now), "active": active, "jobs": said})
    response["Cache-Control"] = "private, no-store"
    return response


def _handed_on(row: tuple[Any, ...]) -> bool:
    """A recipe step that succeeded with steps after it: its result went on to the next step,
    so its end is not news (a recipe of three steps on a batch of three said it nine times).
    Its run's last step, or a step that failed and stopped the run, is said."""
    _id, _slug, status, _finished, index, steps = row
    return index is not None and status == JobStatus.SUCCEEDED and index < len(steps or []) - 1


def job_activity(request: HttpRequest) -> dict[str, Any]:
    """Context processor: how many of the signed-in person's jobs are under way, and the
    server's clock, for ``<body data-active-jobs data-jobs-since>``. The count is lazy, so
    HTMX fragments that never show it cost no query."""
    user = getattr(request, "user", None)
    if not isinstance(user, User):
        return {}

    @functools.cache
    def count() -> int:
        return Job.objects.filter(owner=user, status__in=UNFINISHED_STATUSES).count()

    active: Callable[[], int] = count
    return {
        "active_jobs": active,
        "jobs_since": _epoch_ms(timezone.now()),
        "job_poll_ms": POLL_MS,
    }
