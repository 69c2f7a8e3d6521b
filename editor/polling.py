"""When to ask a vendor about a task, and when a job should be done: learned from the recent
jobs of the same provider and operation.

A vendor's documented cadence (AILabTools: every 5 s; PicWish: every second) says how often one
task may be asked about; it says nothing of when a task is usually done. The first poll comes
at the median time recent tasks took (from the vendor's answer to the submit until a poll found
them done), starting from the documented cadence while there is no history; later polls keep to
the cadence. A task seen done at its first poll is recorded with the time planned for it, not
the poll's late arrival, so the estimate does not creep up by the polls' own delays; a task
that was not done grows it.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time

from django.utils import timezone

from editor.models import Job, JobStatus

# How many recent jobs the median is taken over, how old they may be, and how long a worker
# process keeps the answer (300 jobs submitted at once ask once, not 300 times).
RECENT_JOBS = 50
RECENT_HOURS = 24
KEEP_SECONDS = 30.0

_known: dict[tuple[str, str], tuple[float, float | None]] = {}


def usual_seconds(provider: str, operation: str) -> float | None:
    """The median vendor time of recent succeeded jobs, or None without history."""
    now = time.monotonic()
    kept = _known.get((provider, operation))
    if kept is not None and now - kept[0] < KEEP_SECONDS:
        return kept[1]
    since = timezone.now() - dt.timedelta(hours=RECENT_HOURS)
    seconds = list(
        Job.objects.filter(
            provider=provider,
            operation=operation,
            status=JobStatus.SUCCEEDED,
            finished_at__gte=since,
            vendor_seconds__isnull=False,
        )
        .order_by("-finished_at")
        .values_list("vendor_seconds", flat=True)[:RECENT_JOBS]
    )
    usual = statistics.median(value for value in seconds if value is not None) if seconds else None
    _known[(provider, operation)] = (now, usual)
    return usual


def first_poll_after(job: Job, documented: float) -> float:
    """Seconds from the vendor's answer to the first poll."""
    usual = usual_seconds(job.provider, job.operation)
    return documented if usual is None else usual


def seconds_taken(job: Job, now: dt.datetime, cadence: float) -> float:
    """The vendor time to record for a job whose task was just seen done. ``job.vendor_seconds``
    holds the first poll's planned time while the job waits."""
    if job.submitted_at is None:
        return 0.0
    elapsed = (now - job.submitted_at).total_seconds()
    planned = job.vendor_seconds
    if planned is not None and elapsed < planned + cadence:
        return planned  # done by the first poll: it took at most what was planned
    return elapsed


def estimated_finish(job: Job) -> dt.datetime | None:
    """When an active job's vendor work should be done, or None when there is nothing to go by."""
    if job.status not in (JobStatus.RUNNING, JobStatus.WAITING) or job.provider == "local":
        return None
    usual = job.vendor_seconds or usual_seconds(job.provider, job.operation)
    if usual is None:
        return None
    if job.status == JobStatus.WAITING and job.submitted_at is not None:
        return job.submitted_at + dt.timedelta(seconds=usual)
    if job.submit_started_at is not None:
        return job.submit_started_at + dt.timedelta(seconds=usual)
    if job.rate_slot_at is not None:
        return dt.datetime.fromtimestamp(job.rate_slot_at, tz=dt.UTC) + dt.timedelta(seconds=usual)
    return None


def seconds_left(job: Job, now: dt.datetime | None = None) -> int | None:
    """Whole seconds until ``estimated_finish`` (0 once it has passed), or None."""
    finish = estimated_finish(job)
    if finish is None:
        return None
    return max(0, round((finish - (now or timezone.now())).total_seconds()))
