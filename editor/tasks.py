"""Thin Celery tasks: they take ids and call editor.jobs."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from editor import jobs
from editor.models import ENDED_STATUSES, Draft, Job

logger = logging.getLogger(__name__)

# Retention looks up this many old jobs at a time and deletes at most this many per run: a
# backlog (retention just switched on) is worked off over a few hourly runs instead of holding
# a worker for long.
RETENTION_BATCH = 100
RETENTION_MAX_PER_RUN = 2000


@shared_task(name="editor.tasks.advance", ignore_result=True)
def advance(job_id: str, dispatch: int) -> None:
    """Do the next step of a job (the sender picks the queue: ``cpu`` or ``io``)."""
    jobs.advance(job_id, dispatch)


@shared_task(name="editor.tasks.sweep", ignore_result=True, queue="cpu")
def sweep() -> None:
    jobs.sweep()
    Draft.purge(timezone.now() - dt.timedelta(seconds=settings.DRAFT_MAX_AGE_SECONDS))


@shared_task(name="editor.tasks.delete_expired_jobs", ignore_result=True, queue="cpu")
def delete_expired_jobs() -> None:
    delete_expired(timezone.now())


def delete_expired(now: dt.datetime) -> int:
    """Delete the jobs created more than ``RETENTION_DAYS`` before ``now``, oldest first, with
    their files, through jobs.delete (which gives their storage back to the owner's quota).
    Jobs still under way are left for a later run. Returns how many were deleted."""
    if settings.RETENTION_DAYS <= 0:
        return 0
    cutoff = now - dt.timedelta(days=settings.RETENTION_DAYS)
    expired = Job.objects.filter(created_at__lt=cutoff, status__in=ENDED_STATUSES)
    deleted = 0
    failed: set[object] = set()
    while deleted + len(failed) < RETENTION_MAX_PER_RUN:
        batch = list(
            expired.exclude(pk__in=failed)
            .order_by("created_at")
            .values_list("pk", flat=True)[:RETENTION_BATCH]
        )
        for pk in batch:
            try:
                with transaction.atomic():
                    # Checked again under the lock: a retry may have started it meanwhile.
                    job = expired.select_for_update().filter(pk=pk).first()
                    if job is not None:
                        jobs.delete(job)
                        deleted += 1
            except Exception:
                logger.exception("retention: could not delete job %s", pk)
                failed.add(pk)
        if len(batch) < RETENTION_BATCH:
            break
    if deleted or failed:
        logger.info(
            "retention: deleted %d jobs created before %s (%d could not be deleted)",
            deleted,
            cutoff.isoformat(),
            len(failed),
        )
    return deleted
