"""The verbs pages, the API and the admin call on jobs: submit (one job, or a batch of them),
cancel, retry and delete, and the retention that deletes old jobs.

The database is the source of truth; the broker is only a doorbell. Submitting charges the
quota, creates the job with its inputs in one transaction and rings the doorbell on commit
(``ring``); what a worker then does with the job is editor.pipeline. A job beyond its owner's
concurrent-jobs limit is accepted all the same and waits for a slot (editor.fairqueue): it
starts, and rings, when a job of theirs ends (``end``) or the sweeper finds a slot free. Every
change of a job's status is one compare-and-set (``Job.objects.transition``), so a cancel
racing a worker, or two retries in two tabs, settle on one outcome.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import quotas
from accounts.models import User
from editor import fairqueue, images, keys, operations, signals, storage
from editor.models import (
    ACTIVE_STATUSES,
    ENDED_STATUSES,
    Batch,
    Job,
    JobStatus,
    VendorKey,
    display_name,
)
from editor.submissions import Submission

logger = logging.getLogger(__name__)

# The worker's task, sent by name: editor.tasks imports this module, not the other way round.
ADVANCE_TASK = "editor.tasks.advance"
# Retention looks up this many old jobs at a time and deletes at most this many per run: a
# backlog (retention just switched on) is worked off over a few hourly runs instead of holding
# a worker for long.
RETENTION_BATCH = 100
RETENTION_MAX_PER_RUN = 2000


# --- The doorbell ----------------------------------------------------------------------------


def queue_for(provider: str, status: str, light: bool) -> str:
    """The queue of a job's step at ``status``. Image work (fitting, the built-in engine,
    thumbnails) runs on the prefork ``cpu`` queue; vendor I/O on the threaded ``io`` queue,
    which also fits and thumbnails a light job's small photos (``Job.light``) rather than send
    them over."""
    if provider == "local":
        return "cpu"
    if light or status in (JobStatus.RUNNING, JobStatus.WAITING):
        return "io"
    return "cpu"


def is_light(files: Iterable[UploadedFile | bytes]) -> bool:
    """Whether every photo is small enough for the io worker (``JOB_LIGHT_PIXELS``), from the
    headers alone. One it cannot read is not: the cpu worker's fit says what is wrong."""
    limit = settings.JOB_LIGHT_PIXELS
    if limit <= 0:
        return False
    for upload in files:
        stream = io.BytesIO(upload) if isinstance(upload, bytes) else upload
        try:
            header = images.check_upload(stream)
        except images.ImageRejected:
            return False
        if header.width * header.height > limit:
            return False
    return True


def ring(job: Job, countdown: float = 0.0) -> None:
    """Queue the job's next step, ``(job id, dispatch number)``, on its queue (``queue_for``)
    once the transaction that decided it has committed."""
    _ring_all([job], countdown)


def _ring_all(rung: Sequence[Job], countdown: float = 0.0) -> None:
    """``ring`` for several jobs: one callback after commit sends every message."""
    if not rung:
        return
    messages = [
        ((str(job.pk), job.dispatch), queue_for(job.provider, job.status, job.light))
        for job in rung
    ]

    def send() -> None:
        for args, queue in messages:
            try:
                current_app.send_task(ADVANCE_TASK, args, countdown=countdown, queue=queue)
            except Exception as error:  # kombu's OperationalError, a DNS error, a full disk...
                # The job is committed, and the database, not the broker, is the truth: the
                # sweeper sends the step once its message is overdue (JOB_LOST_MESSAGE_SECONDS).
                logger.warning(
                    "job %s: the broker did not take its step (%s); the sweeper will send it",
                    args[0],
                    type(error).__name__,
                )

    transaction.on_commit(send)


# --- Submitting --------------------------------------------------------------------------------


def _size_of(upload: UploadedFile | bytes) -> int:
    if isinstance(upload, bytes):
        return len(upload)
    return upload.size or 0


def _store_input(job: Job, role: str, upload: UploadedFile | bytes) -> str:
    """Inputs go to storage under names we make: never a user-controlled file name. The bytes
    are stored as the validator left them (editor.metadata.clean_upload: the picture alone,
    without private metadata), so they take the size the quota counted."""
    if isinstance(upload, bytes):
        content: Any = ContentFile(upload)
        head = upload[:64]
    else:
        # Copied, never moved: a batch stores one upload (a shared style photo) for every job,
        # and a rolled-back submit must leave the upload for the draft that keeps it.
        content = File(upload.file)
        upload.seek(0)
        head = upload.read(64)
        upload.seek(0)
    media = images.sniff(head)
    suffix = media.extension if media else "bin"
    return storage.write(f"jobs/{job.owner_id}/{job.pk}/input-{role}.{suffix}", content)


def _sizes(job: Job, files: Mapping[str, UploadedFile | bytes]) -> dict[str, int]:
    """The bytes each stored input was counted at by the job's charge."""
    return {job.inputs[role]: _size_of(upload) for role, upload in files.items()}


def start(submission: Submission, *, source_job: Job | None = None) -> Job | Batch:
    """Start what a validated submission asks for: one job, or a batch of jobs when it holds
    several photos. ``source_job``: the earlier job whose photo it reuses, if any. Raises
    quotas.QuotaExceeded with nothing started."""
    if submission.batch:
        batch, _jobs = start_batch(submission)
        return batch
    return submit(
        owner=submission.owner,
        operation=submission.operation,
        provider=submission.provider,
        params=submission.params,
        files={role: photo.content for role, photo in submission.single.items()},
        key=submission.key,
        source_job=source_job,
        photo_name=submission.photo_name,
        photo_exif=submission.photo_details,
        limits=submission.limits,
    )


def start_batch(submission: Submission) -> tuple[Batch, list[Job]]:
    """Start a validated submission as a batch, whatever the number of its photos (the API's
    batch endpoint makes a batch of one photo too): one job per ``image``, the other inputs
    shared. Returns the batch and its jobs in the photos' order. Raises
    quotas.QuotaExceeded with nothing started."""
    shared = {role: photo for role, photo in submission.single.items() if role != "image"}
    return submit_batch(
        owner=submission.owner,
        operation=submission.operation,
        provider=submission.provider,
        params=submission.params,
        photos=[(photo.content, photo.name) for photo in submission.photos.get("image", [])],
        files={role: photo.content for role, photo in shared.items()},
        key=submission.key,
        limits=submission.limits,
        photo_exif=[photo.details for photo in submission.photos.get("image", [])],
    )


def _charge_once(
    owner: User,
    operation: operations.Operation,
    provider: operations.Provider,
    key: VendorKey | None,
    *,
    now: dt.datetime,
    count: int,
    storage_bytes: int,
    limits: quotas.Limits | None,
) -> dt.date:
    charged_on = quotas.charge(
        owner,
        provider.credits,
        now=now,
        storage_bytes=storage_bytes,
        operation=operation.slug,
        provider=provider.name,
        house_key=key is not None and key.is_house_key,
        jobs=count,
        limits=limits,
    )
    if key is not None:
        keys.charge(key, provider.credits * count, now)
    return charged_on


def _charge(
    owner: User,
    operation: operations.Operation,
    provider: operations.Provider,
    key: VendorKey | None,
    *,
    now: dt.datetime,
    count: int = 1,
    storage_bytes: int = 0,
    limits: quotas.Limits | None = None,
) -> dt.date:
    """Count ``count`` jobs on the owner's quota and their credits on the key's monthly cap:
    one conditional UPDATE each, all or none. A batch that is refused is counted again one job
    at a time (the caller rolls it all back), so that the refusal is the one the first job that
    does not fit meets, quota or key cap, as the studio has always said it. Call inside the
    transaction that creates the jobs."""
    charge = functools.partial(
        _charge_once, owner, operation, provider, key, now=now, limits=limits
    )
    if count > 1:
        try:
            with transaction.atomic():
                return charge(count=count, storage_bytes=storage_bytes)
        except quotas.QuotaExceeded:
            pass
    charged_on = charge(count=1, storage_bytes=storage_bytes)
    for _job in range(count - 1):
        charge(count=1, storage_bytes=0)
    return charged_on


def _new_job(
    owner: User,
    operation: operations.Operation,
    provider: operations.Provider,
    key: VendorKey | None,
    *,
    params: Mapping[str, Any],
    now: dt.datetime,
    charged_on: dt.date,
    source_job: Job | None = None,
    batch: Batch | None = None,
    photo_name: str = "",
) -> Job:
    """A job's row, not saved yet."""
    if source_job is not None and source_job.owner_id != owner.pk:
        raise ValueError("a job can only reuse the photo of its owner's own job")
    if key is not None and key.owner_id not in (owner.pk, None):
        raise ValueError("a job runs on its owner's own key or on a house key")
    return Job(
        owner=owner,
        operation=operation.slug,
        provider=provider.name,
        key=key,
        house_key=key is not None and key.is_house_key,
        params=dict(params),
        source_job=source_job,
        batch=batch,
        photo_name=display_name(photo_name),
        credits=provider.credits,
        charged_on=charged_on,
        # Every job starts in its owner's waiting line, and is promoted at once when a slot
        # is free (``_start_waiting``), so no job overtakes an older one of theirs.
        status=JobStatus.PENDING,
        deadline=now + dt.timedelta(seconds=operation.deadline_seconds),
        created_at=now,
        due_at=now,
    )


def submit(
    *,
    owner: User,
    operation: operations.Operation,
    provider: operations.Provider,
    params: Mapping[str, Any],
    files: Mapping[str, UploadedFile | bytes],
    key: VendorKey | None,
    source_job: Job | None = None,
    batch: Batch | None = None,
    photo_name: str = "",
    limits: quotas.Limits | None = None,
    photo_exif: bytes = b"",
) -> Job:
    """Charge the quota (and the key's monthly cap), create the job with its inputs, and ring
    the doorbell on commit.

    ``key``: the owner's own key, or the studio's house key for the vendor (the job is then
    marked ``house_key`` and charged to the owner like any other). ``source_job``: the earlier
    job of the same owner whose photo this one reuses ("run again with changes"); the reused
    bytes come in ``files`` and are stored under this job's names. ``batch``: the batch this
    job is one photo of. ``photo_name``: the name the person's photo had, for display (storage
    names are ours). ``limits``: the owner's, when the caller has just read them.
    ``photo_exif``: what is kept of the photo's EXIF (editor.metadata.photo_details).

    Raises quotas.QuotaExceeded (nothing is created) when a limit would be passed, the plan
    does not allow the operation, provider or house key, or the key's cap would be passed.
    """
    with transaction.atomic():
        now = timezone.now()
        charged_on = _charge(
            owner,
            operation,
            provider,
            key,
            now=now,
            storage_bytes=sum(_size_of(upload) for upload in files.values()),
            limits=limits,
        )
        job = _new_job(
            owner,
            operation,
            provider,
            key,
            params=params,
            now=now,
            charged_on=charged_on,
            source_job=source_job,
            batch=batch,
            photo_name=photo_name,
        )
        job.inputs = {role: _store_input(job, role, upload) for role, upload in files.items()}
        job.light = is_light(files.values())
        job.photo_exif = photo_exif
        job.save()
        storage.counted(owner.pk, _sizes(job, files))
        _start_waiting(owner.pk, now=now, limits=limits, made=[job])
    return job


def submit_batch(
    *,
    owner: User,
    operation: operations.Operation,
    provider: operations.Provider,
    params: Mapping[str, Any],
    photos: Sequence[tuple[UploadedFile | bytes, str]],
    files: Mapping[str, UploadedFile | bytes],
    key: VendorKey | None,
    limits: quotas.Limits | None = None,
    photo_exif: Sequence[bytes] = (),
) -> tuple[Batch, list[Job]]:
    """Several photos with the same settings: one job each, all or none. ``photos`` are the
    ``image`` inputs with their names (``photo_exif``: what is kept of each one's EXIF, in the
    same order); ``files`` the other inputs, shared by every job (each
    job stores its own copy). The storage the whole batch needs is counted at once, then its
    jobs and their credits; the jobs are inserted together and their messages sent after
    commit. Returns the batch and its jobs, in the order of ``photos``.

    Raises quotas.QuotaExceeded when the whole batch would pass a limit: nothing is created
    and nothing is kept in storage.
    """
    if not photos:
        raise ValueError("a batch has at least one photo")
    stored: list[str] = []
    shared = sum(_size_of(upload) for upload in files.values())
    needed = sum(_size_of(photo) for photo, _name in photos) + shared * len(photos)
    now = timezone.now()
    try:
        with transaction.atomic():
            quotas.reserve_storage(owner, needed)
            charged_on = _charge(
                owner, operation, provider, key, now=now, count=len(photos), limits=limits
            )
            batch = Batch.objects.create(owner=owner, operation=operation.slug, created_at=now)
            shared_light = is_light(files.values())
            made: list[Job] = []
            sizes: dict[str, int] = {}
            for position, (photo, name) in enumerate(photos):
                job = _new_job(
                    owner,
                    operation,
                    provider,
                    key,
                    params=params,
                    # A microsecond apart: the batch page and its ZIP list the jobs by when
                    # they were created, which is the order of the photos.
                    now=now + dt.timedelta(microseconds=position),
                    charged_on=charged_on,
                    batch=batch,
                    photo_name=name,
                )
                job.light = shared_light and is_light([photo])
                job.photo_exif = photo_exif[position] if position < len(photo_exif) else b""
                job.inputs = {}
                inputs = {**files, "image": photo}
                for role, upload in inputs.items():
                    job.inputs[role] = _store_input(job, role, upload)
                    stored.append(job.inputs[role])
                sizes.update(_sizes(job, inputs))
                made.append(job)
            Job.objects.bulk_create(made)
            storage.counted(owner.pk, sizes)
            _start_waiting(owner.pk, now=now, limits=limits, made=made)
    except quotas.QuotaExceeded as exceeded:
        for name in stored:
            default_storage.delete(name)
        message = _(
            "A batch of %(count)d photos is a job each, which would pass a limit: %(reason)s"
        ) % {"count": len(photos), "reason": exceeded.message}
        raise quotas.QuotaExceeded(exceeded.limit, message, exceeded.resets_at) from exceeded
    except BaseException:
        # Storage is not transactional: the rolled-back jobs' inputs go by hand.
        for name in stored:
            default_storage.delete(name)
        raise
    return batch, made


# --- The waiting line ---------------------------------------------------------------------------


def _start_waiting(
    owner_id: int,
    *,
    now: dt.datetime | None = None,
    limits: quotas.Limits | None = None,
    made: Sequence[Job] = (),
    most: int | None = None,
) -> list[Job]:
    """Start the owner's oldest waiting jobs in their free slots (editor.fairqueue.promote) and ring
    them after commit, as a job that never waited. ``made``: this caller's copies of jobs it
    just created, brought up to date when they started."""
    started = fairqueue.promote(owner_id, now=now, limits=limits, most=most)
    mine = {job.pk: job for job in made}
    for job in started:
        copy = mine.get(job.pk)
        if copy is not None:
            copy.status, copy.due_at, copy.deadline = job.status, job.due_at, job.deadline
    _ring_all(started)
    return started


def promote_waiting(*, most: int = 1000) -> int:
    """The sweeper's safety net: give every free slot that has a job waiting for it (a
    promotion lost with a process that died) to the next job, fairly: one job per person per
    round, in turn (editor.fairqueue.next_in_turn), each start its own transaction and its own
    moment (who started last goes to the back). Returns how many started (at most ``most``)."""
    started = 0
    while started < most:
        people = fairqueue.next_in_turn(most - started)
        round_started = 0
        for owner_id in people:
            with transaction.atomic():
                round_started += len(_start_waiting(owner_id, most=1))
        started += round_started
        if not round_started:
            break
    if started:
        logger.info("sweeper: %d jobs waiting for a slot started", started)
    return started


# --- Ending ------------------------------------------------------------------------------------


def end(
    job: Job,
    status: str,
    *,
    statuses: tuple[str, ...] = ACTIVE_STATUSES,
    current: bool = True,
    **fields: Any,
) -> bool:
    """End a job under way (``Job.objects.transition`` decides whether it still is): free its
    concurrency slot, refund its credits (quota and key) unless it succeeded, and announce it.
    Returns whether this call ended it."""
    with transaction.atomic():
        ended = Job.objects.transition(
            job,
            statuses=statuses,
            current=current,
            status=status,
            finished_at=timezone.now(),
            **fields,
        )
        if ended:
            refund = status != JobStatus.SUCCEEDED
            quotas.release(job.owner_id, job.credits, job.charged_on, refund=refund)
            if refund:
                keys.refund(job)
            _announce_end(job, status)
            # The slot it held goes to the owner's next waiting job, in the same transaction.
            _start_waiting(job.owner_id)
    return ended


def _announce_end(job: Job, status: str) -> None:
    """Tell editor.signals.job_ended's receivers (the API's webhooks), once committed. A
    receiver that raises is logged by Django and does not disturb the job or the others."""
    job_id = str(job.pk)
    transaction.on_commit(
        lambda: signals.job_ended.send_robust(sender=Job, job_id=job_id, status=str(status))
    )


# The vendors' "your account has no credits left" codes (vendor-contracts.md §1.3: AILabTools
# answers ERROR_NOT_ENOUGH_CREDITS; PicWish documents none). Retrying with the same key fails the
# same way: the job page offers the key's balance and another key first.
OUT_OF_CREDITS_CODES = frozenset({"ERROR_NOT_ENOUGH_CREDITS"})


def ended_message(operation: str, status: str) -> str:
    """What the studio says when a job has ended ("Colorize finished."), in the person's
    language: the notifications feed and the job's own page say it alike."""
    label = operations.label_of(operation)
    if status == JobStatus.SUCCEEDED:
        return _("%(operation)s finished.") % {"operation": label}
    if status == JobStatus.FAILED:
        return _("%(operation)s failed.") % {"operation": label}
    return _("%(operation)s was canceled.") % {"operation": label}


def out_of_credits(job: Job) -> bool:
    """Whether the job failed because its key's vendor account has no credits left."""
    return job.status == JobStatus.FAILED and job.error_code in OUT_OF_CREDITS_CODES


@dataclass(frozen=True)
class Retrying:
    """A job under way after failed tries: which try this is; while it waits for the next one,
    when that is and how many seconds are left (None: the try is being made now); and when
    the job gives up trying."""

    attempt: int
    next_try_in: int | None
    next_try_at: dt.datetime | None
    gives_up_at: dt.datetime
    gives_up_in_minutes: int


def not_paid_for(job: Job) -> bool:
    """Whether the job has no vendor task yet: nothing the vendor may charge for."""
    return job.status == JobStatus.QUEUED or (
        job.status == JobStatus.RUNNING and not job.vendor_ref
    )


def gives_up_at(job: Job) -> dt.datetime:
    """The moment a job stops trying, the one home of that rule (the pipeline and the sweeper
    ask it too). Retries are scheduled only before the deadline; a job with nothing paid for
    ends there. Work already paid for (a vendor task to poll, a result to store) gets one last
    step after the deadline, within ``JOB_LAST_POLL_SECONDS``, and ends by then either way."""
    if not_paid_for(job):
        return job.deadline
    return job.deadline + dt.timedelta(seconds=settings.JOB_LAST_POLL_SECONDS)


def retrying(job: Job, now: dt.datetime | None = None) -> Retrying | None:
    """How a job that is retrying a failing vendor stands, or None when it is not retrying.
    ``attempts`` counts the failed tries and ``due_at`` is when the pipeline tries again."""
    if not job.is_active or not job.error_code or job.attempts < 1:
        return None
    now = now or timezone.now()
    wait = (job.due_at - now).total_seconds() if job.due_at is not None else 0.0
    waiting = wait > 0
    until = gives_up_at(job)
    left = max(0.0, (until - now).total_seconds())
    return Retrying(
        attempt=job.attempts + 1,
        next_try_in=math.ceil(wait) if waiting else None,
        next_try_at=job.due_at if waiting else None,
        gives_up_at=until,
        gives_up_in_minutes=math.ceil(left / 60),
    )


def cancel(job: Job) -> bool:
    """Stop a job that has not ended; its credits are refunded. Work already in flight finds
    the job canceled at its next conditional update and stops there. A job still waiting for a
    slot never had one: everything it was charged is given back at once."""
    # Whatever step it is at: the dispatch number this copy holds does not matter. Waiting
    # first: one that starts meanwhile is then canceled as a job under way.
    canceled = _cancel_waiting(job) or end(job, JobStatus.CANCELED, current=False)
    job.refresh_from_db()
    return canceled


def _cancel_waiting(job: Job) -> bool:
    """Cancel the job if it is still waiting for a slot: its place in the line, its job of the
    day and its credits (quota and key) go back. Returns whether it was waiting."""
    with transaction.atomic():
        canceled = Job.objects.transition(
            job,
            statuses=(JobStatus.PENDING,),
            current=False,
            status=JobStatus.CANCELED,
            finished_at=timezone.now(),
        )
        if canceled:
            quotas.release(job.owner_id, job.credits, job.charged_on, refund=True, had_slot=False)
            keys.refund(job)
            _announce_end(job, JobStatus.CANCELED)
    return canceled


def retry(job: Job) -> Job:
    """Run a failed or canceled job again from the start, charging the quota (and its key's
    cap) again; the plan must still allow it. Like a new job, it waits for a slot when its
    owner has none free (status ``pending``), else it is ``queued``."""
    operation = operations.get(job.operation)
    now = timezone.now()
    with transaction.atomic():
        charged_on = quotas.charge(
            job.owner,
            job.credits,
            now=now,
            operation=job.operation,
            provider=job.provider,
            house_key=job.house_key,
        )
        if job.key is not None:
            keys.charge(job.key, job.credits, now)
        retried = Job.objects.transition(
            job,
            statuses=(JobStatus.FAILED, JobStatus.CANCELED),
            current=False,
            status=JobStatus.PENDING,
            due_at=now,
            deadline=now + dt.timedelta(seconds=operation.deadline_seconds),
            charged_on=charged_on,
            attempts=0,
            progress=0,
            vendor_ref="",
            # A submit the last run left in flight is that run's: this one starts afresh
            # (editor.pipeline._intend_submit would count it as cut off).
            submit_started_at=None,
            error_code="",
            error_message="",
            finished_at=None,
        )
        if not retried:
            transaction.set_rollback(True)
            job.refresh_from_db()
            return job
        _start_waiting(job.owner_id, now=now)
        job.refresh_from_db()
    return job


# --- Deleting --------------------------------------------------------------------------------


def delete(job: Job) -> int:
    """Delete a job for good. An active job is canceled first, so its credits are refunded;
    then its rows go (jobs run again from it keep their own copies of the photo and only lose
    the link), and its files once that has committed, so a rolled-back delete loses nothing.

    Returns the bytes its files took in storage, which the owner's storage quota gets back in
    the same transaction."""
    folder = folder_of(job)
    owner_id = job.owner_id
    with transaction.atomic():
        # Unconditionally: the conditional UPDATE in cancel(), not this copy's status, says
        # whether the job is still under way (it may have been retried in another tab).
        cancel(job)
        named = _files_of(job)
        names = named | storage.files_in(folder)
        job_id = str(job.pk)
        job.delete()
        freed = storage.uncount(owner_id, names, named=named)
        transaction.on_commit(lambda: _remove_files(job_id, owner_id, names, folder))
    return freed


def folder_of(job: Job) -> str:
    """Where every file of the job is stored."""
    return f"jobs/{job.owner_id}/{job.pk}/"


def _files_of(job: Job) -> set[str]:
    names = {*job.inputs.values(), *job.prepared.values()}
    for result in job.results.all():
        names.update(name for name in (result.file.name, result.thumbnail.name) if name)
    return {name for name in names if name}


def _remove_files(job_id: str, owner_id: int, names: set[str], folder: str) -> None:
    """The job's files (their bytes were given back already), and anything a worker still
    busy with it wrote into its folder since (given back here). A file that cannot be deleted
    is logged, not raised: the job is already deleted."""
    removed = storage.delete_files(names)
    late = storage.files_in(folder) - names
    if late:
        removed += len(late)
        storage.discard(owner_id, late)
    # The folder itself, now empty, where folders exist (the file system); on S3 this names
    # no object and does nothing.
    try:
        default_storage.delete(folder)
    except OSError:
        logger.warning("deleted job %s: its folder %s is not empty", job_id, folder)
    logger.info("deleted job %s: removed %d files", job_id, removed)


def delete_expired(now: dt.datetime) -> int:
    """Delete the jobs created more than ``RETENTION_DAYS`` before ``now``, oldest first, with
    their files, through ``delete`` (which gives their storage back to the owner's quota).
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
                        delete(job)
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
