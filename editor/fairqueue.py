"""The waiting line: jobs accepted beyond their owner's concurrent-jobs limit wait here (status
``pending``, charged like any job) until one of the owner's slots frees, then start in turn.

Order: each person's own jobs start oldest first, and only into that person's free slots (a
person's jobs never take another's slot). When several people have a free slot at once (the
sweeper's pass), they are served round-robin: whoever has the fewest jobs running goes first,
then whoever's last job started longest ago, one job each per round.

Starting a job is one atomic step per person (``promote``): the person's quota row is locked
(promotions for one person run in turn), the oldest waiting jobs are read and locked (``SELECT
... FOR UPDATE SKIP LOCKED`` on PostgreSQL: a job being canceled is skipped), the slots are
taken in one conditional UPDATE of the person's quota row (accounts.quotas.take_slots, so no
number of racing web and worker processes passes the limit), and the jobs move to ``queued``,
all in one transaction. On SQLite the write transaction itself serializes them. The caller
rings the started jobs' doorbells (editor.jobs), exactly as for a job that never waited.

Cost: a person's line is read through a partial index holding only waiting jobs, by owner and
age (``job_waiting_line``), and the people with a free slot through a partial index on the
quota rows of people with jobs waiting (``quota_waiting_fair_order``): neither grows with the
jobs that have ended.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import quotas
from accounts.models import Quota, User
from editor import operations
from editor.models import Job, JobStatus

# How many of a person's (else everyone's) latest finished jobs time an estimated start.
RECENT_JOBS = 20


def promote(
    owner_id: int,
    *,
    now: dt.datetime | None = None,
    limits: quotas.Limits | None = None,
    most: int | None = None,
) -> list[Job]:
    """Start the owner's oldest waiting jobs in their free slots (at most ``most``): choose,
    take the slots and mark them ``queued`` in one transaction. Returns the jobs started, up to
    date, for the caller to ring after commit. ``limits``: the owner's, when just read."""
    now = now or timezone.now()
    with transaction.atomic():
        # The person's quota row locked first: promotions for one person run one after the
        # other, so the oldest waiting jobs take the slots. (With SKIP LOCKED alone, a second
        # promoter would pass over the first one's jobs, lock younger ones and could win the
        # slots for them.) Ending a job and submitting one hold this lock already.
        counts = (
            Quota.objects.select_for_update()
            .filter(user_id=owner_id)
            .values("active_jobs", "waiting_jobs")
            .first()
        )
        if counts is None or counts["waiting_jobs"] <= 0:
            return []  # the usual case when a slot frees: one query, and no plan to read
        limits = limits or quotas.limits_for(User.objects.get(pk=owner_id))
        free = min(limits.concurrent_jobs - counts["active_jobs"], counts["waiting_jobs"])
        if most is not None:
            free = min(free, most)
        if free <= 0:
            quotas.take_slots(owner_id, 0, limits, now)  # keeps the sweeper's hint right
            return []
        line = oldest_waiting(owner_id, free)
        taken = quotas.take_slots(owner_id, len(line), limits, now)
        started = _start(line[:taken], now)
        quotas.untake_slots(owner_id, taken - len(started))
    return started


def oldest_waiting(owner_id: int, most: int) -> list[Job]:
    """The owner's ``most`` oldest waiting jobs, locked for the caller's transaction; jobs
    another process holds (promoting or canceling them) are skipped."""
    return list(
        Job.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(owner_id=owner_id, status=JobStatus.PENDING)
        .order_by("created_at", "id")
        .only("id", "owner_id", "operation", "provider", "light", "dispatch", "status")[:most]
    )


def _start(chosen: list[Job], now: dt.datetime) -> list[Job]:
    """Move the chosen jobs (locked by the caller) from waiting to queued. The deadline counts
    from now: time spent waiting for a slot is not time the job had to run. The dispatch number
    stays: no message was ever sent for a waiting job."""
    by_operation: dict[str, list[Job]] = defaultdict(list)
    for job in chosen:
        by_operation[job.operation].append(job)
    started: list[Job] = []
    for slug, group in by_operation.items():
        deadline = now + dt.timedelta(seconds=operations.get(slug).deadline_seconds)
        ids = [job.pk for job in group]
        moved = Job.objects.filter(pk__in=ids, status=JobStatus.PENDING).update(
            status=JobStatus.QUEUED, due_at=now, deadline=deadline, lease_until=None
        )
        if moved != len(group):
            # Only where rows are not locked (never on PostgreSQL): see which ones moved.
            ids = list(
                Job.objects.filter(pk__in=ids, status=JobStatus.QUEUED, due_at=now).values_list(
                    "pk", flat=True
                )
            )
            group = [job for job in group if job.pk in ids]
        for job in group:
            job.status, job.due_at, job.deadline = JobStatus.QUEUED, now, deadline
        started.extend(group)
    return started


def next_in_turn(most: int) -> list[int]:
    """The people who have jobs waiting and (as last seen) a free slot, in the order their
    turns come: fewest jobs running first, then whose last job started longest ago."""
    return list(
        Quota.objects.filter(waiting_jobs__gt=0, active_jobs__lt=F("slots"))
        .order_by("active_jobs", "last_started_at", "user_id")
        .values_list("user_id", flat=True)[:most]
    )


# --- Where a waiting job stands ------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A waiting job's place in its owner's line: how many of their jobs start before it, and
    about when it starts (None when there is no finished job to time it by)."""

    ahead: int
    starts_at: dt.datetime | None


def places(
    owner_id: int, waiting: Iterable[Job], *, slots: int | None = None
) -> dict[uuid.UUID, Place]:
    """The places of some of the owner's waiting jobs. Only the owner's own older waiting jobs
    start before one: other people's jobs never take this person's slots, so the round-robin
    between people does not move anyone back. Estimated start: the median time the owner's
    recent jobs took (else everyone's), times the turns ahead (``ahead // slots + 1``)."""
    wanted = {job.pk for job in waiting if job.status == JobStatus.PENDING}
    if not wanted:
        return {}
    line = list(
        Job.objects.filter(owner_id=owner_id, status=JobStatus.PENDING)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    if slots is None:
        slots = quotas.limits_for(User.objects.get(pk=owner_id)).concurrent_jobs
    slots = max(slots, 1)
    took = typical_duration(owner_id)
    now = timezone.now()
    found: dict[uuid.UUID, Place] = {}
    for ahead, pk in enumerate(line):
        if pk in wanted:
            turns = ahead // slots + 1
            found[pk] = Place(ahead, now + took * turns if took is not None else None)
    return found


def typical_duration(owner_id: int) -> dt.timedelta | None:
    """How long a job takes from its start to its end: the median of the owner's latest
    succeeded jobs, else of everyone's; None before any job has succeeded."""
    for mine in (True, False):
        recent = Job.objects.filter(
            status=JobStatus.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False
        )
        if mine:
            recent = recent.filter(owner_id=owner_id)
        spans = [
            (finished - started).total_seconds()
            # Newest first by creation, which is indexed (by owner too); close enough to the
            # latest finished for a median.
            for started, finished in recent.order_by("-created_at").values_list(
                "started_at", "finished_at"
            )[:RECENT_JOBS]
            if started is not None and finished is not None
        ]
        if spans:
            return dt.timedelta(seconds=max(statistics.median(spans), 1.0))
    return None
