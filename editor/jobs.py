"""Cross-model workflows of a job: submit, advance one step, cancel, retry, sweep.

The database is the source of truth; the broker is only a doorbell. A job's status says which
step comes next (queued: fit the inputs; running/waiting: call or poll the vendor; storing:
thumbnails and metadata). Every message carries ``(job id, dispatch number)``; a worker claims a
step with a conditional UPDATE that matches that dispatch number and sets a lease, and every
transition bumps the dispatch number, so duplicate or stale messages do nothing. The sweeper
re-sends the step of any job whose lease expired or whose message never arrived.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import quotas
from accounts.models import User
from editor import images, operations, signals, vault
from editor.models import (
    ACTIVE_STATUSES,
    ENDED_STATUSES,
    Batch,
    Job,
    JobStatus,
    Result,
    VendorKey,
    display_name,
)
from editor.vendors.base import (
    Done,
    InputImage,
    Pending,
    ResultImage,
    VendorAdapter,
    VendorError,
    VendorRequest,
)

logger = logging.getLogger(__name__)

# Raised by an adapter's own rate limiter before anything is sent (editor.vendors.picwish).
AdapterT = TypeVar("AdapterT", bound=VendorAdapter)
LOCAL_RATE_LIMIT = "rate_limited_local"
# Retention looks up this many old jobs at a time and deletes at most this many per run: a
# backlog (retention just switched on) is worked off over a few hourly runs instead of holding
# a worker for long.
RETENTION_BATCH = 100
RETENTION_MAX_PER_RUN = 2000
# Vendor error codes that mean the key itself is wrong: shown on the key in the vault.
BAD_KEY_CODES = frozenset(
    {"unauthorized", "ERROR_APPLICATIONS_NOT_EXISTS", "ERROR_USER_NOT_EXISTS"}
)


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.JOB_LEASE_SECONDS)


# --- Stored files ------------------------------------------------------------------------------
# Every file stored for a person is counted in their Quota.stored_bytes when it is written and
# given back when it is deleted, by the bytes actually there (accounts.quotas).


def _save_file(owner_id: int, name: str, content: Any) -> str:
    """Store one file of a person's and count it. Where the storage overwrites a file of the
    same name, the bytes it replaced are given back."""
    replaced = default_storage.size(name) if default_storage.exists(name) else 0
    stored = default_storage.save(name, content)
    if stored != name:
        replaced = 0  # kept beside the other file, under a name of its own
    quotas.add_storage(owner_id, default_storage.size(stored) - replaced)
    return stored


def _discard_files(owner_id: int, names: Iterable[str]) -> int:
    """Delete files of a person's now and give their bytes back; returns the bytes freed. A
    file already gone counts nothing; one that cannot be deleted is logged and still counted
    as stored."""
    freed = 0
    for name in set(names):
        if not name:
            continue
        try:
            size = default_storage.size(name)
            default_storage.delete(name)
        except FileNotFoundError:
            continue
        except Exception:
            logger.exception("could not delete the file %s", name)
            continue
        freed += size
    quotas.free_storage(owner_id, freed)
    return freed


def _size_of(upload: UploadedFile | bytes) -> int:
    if isinstance(upload, bytes):
        return len(upload)
    return upload.size or 0


# --- Submitting --------------------------------------------------------------------------------


def _store_input(job: Job, role: str, upload: UploadedFile | bytes) -> str:
    """Inputs go to storage under names we make: never a user-controlled file name."""
    if isinstance(upload, bytes):
        content: Any = ContentFile(upload)
        suffix = images.EXTENSIONS.get(images.format_of(upload), "bin")
    else:
        # Copied, never moved: a batch stores one upload (a shared style photo) for every job,
        # and a rolled-back submit must leave the upload for the draft that keeps it.
        content = File(upload.file)
        upload.seek(0)
        suffix = images.EXTENSIONS.get(images.format_of(upload.read(64)), "bin")
        upload.seek(0)
    return default_storage.save(f"jobs/{job.owner_id}/{job.pk}/input-{role}.{suffix}", content)


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
) -> Job:
    """Charge the quota (and the key's monthly cap), create the job with its inputs, and ring
    the doorbell on commit.

    ``key``: the owner's own key, or the studio's house key for the vendor (the job is then
    marked ``house_key`` and charged to the owner like any other). ``source_job``: the earlier
    job of the same owner whose photo this one reuses ("run again with changes"); the reused
    bytes come in ``files`` and are stored under this job's names. ``batch``: the batch this
    job is one photo of. ``photo_name``: the name the person's photo had, for display (storage
    names are ours).

    Raises quotas.QuotaExceeded (nothing is created) when a limit would be passed, the plan
    does not allow the operation, provider or house key, or the key's cap would be passed.
    """
    with transaction.atomic():
        return _create(
            owner=owner,
            operation=operation,
            provider=provider,
            params=params,
            files=files,
            key=key,
            source_job=source_job,
            batch=batch,
            photo_name=photo_name,
            storage_reserved=False,
        )


def _create(
    *,
    owner: User,
    operation: operations.Operation,
    provider: operations.Provider,
    params: Mapping[str, Any],
    files: Mapping[str, UploadedFile | bytes],
    key: VendorKey | None,
    source_job: Job | None,
    batch: Batch | None,
    photo_name: str,
    storage_reserved: bool,
) -> Job:
    """submit(), inside its transaction. ``storage_reserved``: the inputs' bytes were counted
    already (a batch counts all its photos at once)."""
    if source_job is not None and source_job.owner_id != owner.pk:
        raise ValueError("a job can only reuse the photo of its owner's own job")
    if key is not None and key.owner_id not in (owner.pk, None):
        raise ValueError("a job runs on its owner's own key or on a house key")
    now = timezone.now()
    expected = sum(_size_of(upload) for upload in files.values())
    charged_on = quotas.charge(
        owner,
        provider.credits,
        now=now,
        storage_bytes=0 if storage_reserved else expected,
        operation=operation.slug,
        provider=provider.name,
        house_key=key is not None and key.is_house_key,
    )
    if key is not None:
        _charge_key(key, provider.credits, now)
    job = Job(
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
        deadline=now + dt.timedelta(seconds=operation.deadline_seconds),
        created_at=now,
        due_at=now,
    )
    job.inputs = {role: _store_input(job, role, upload) for role, upload in files.items()}
    # The charge counted the uploads' sizes; the quota keeps what storage actually holds.
    stored = sum(default_storage.size(name) for name in job.inputs.values())
    quotas.add_storage(owner.pk, stored - expected)
    job.save()
    _send_on_commit(job)
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
) -> Batch:
    """Several photos with the same settings: one job each, all or none. ``photos`` are the
    ``image`` inputs with their names; ``files`` the other inputs, shared by every job (each
    job stores its own copy). The storage the whole batch needs is counted at once.

    Raises quotas.QuotaExceeded when the whole batch would pass a limit: nothing is created
    and nothing is kept in storage.
    """
    stored: list[str] = []
    shared = sum(_size_of(upload) for upload in files.values())
    needed = sum(_size_of(photo) for photo, _name in photos) + shared * len(photos)
    try:
        with transaction.atomic():
            quotas.reserve_storage(owner, needed)
            batch = Batch.objects.create(owner=owner, operation=operation.slug)
            for photo, name in photos:
                job = _create(
                    owner=owner,
                    operation=operation,
                    provider=provider,
                    params=params,
                    files={**files, "image": photo},
                    key=key,
                    source_job=None,
                    batch=batch,
                    photo_name=name,
                    storage_reserved=True,
                )
                stored += job.inputs.values()
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
    return batch


# --- A key's monthly credit cap --------------------------------------------------------------


def _charge_key(key: VendorKey, credits: int, now: dt.datetime) -> None:
    """Count a job's credits on its key: one conditional UPDATE that refuses to pass the key's
    monthly cap (if it has one), after moving the key's count to this month."""
    month = quotas.month_of(now)
    VendorKey.objects.filter(pk=key.pk, credits_month__lt=month).update(
        credits_month=month, credits_this_month=0
    )
    if not credits:
        return
    charged = (
        VendorKey.objects.filter(pk=key.pk, credits_month=month)
        .filter(
            Q(monthly_credit_cap__isnull=True)
            | Q(monthly_credit_cap__gte=F("credits_this_month") + credits)
        )
        .update(credits_this_month=F("credits_this_month") + credits)
    )
    if charged:
        return
    key.refresh_from_db(fields=["monthly_credit_cap", "credits_month", "credits_this_month"])
    cap = key.monthly_credit_cap or 0
    resets = quotas.month_resets(month)
    values = {
        "needed": credits,
        "label": key.label,
        "vendor": key.get_vendor_display(),
        "left": max(0, cap - key.credits_this_month),
        "cap": cap,
        "time": quotas.when(resets),
    }
    if key.is_house_key:
        message = _(
            "This job needs %(needed)d credits and the studio's %(vendor)s key has %(left)d "
            "of its monthly %(cap)d left. It resets on %(time)s."
        )
    else:
        message = _(
            "This job needs %(needed)d credits and your key “%(label)s” has %(left)d of its "
            "monthly cap of %(cap)d left. The cap resets on %(time)s; you can raise it in your "
            "vault."
        )
    raise quotas.QuotaExceeded("key_cap", message % values, resets)


def _refund_key(job: Job) -> None:
    """A job that did not succeed gives its credits back to its key, within the month they
    were counted in (like the quota's refund)."""
    if job.key_id is None or not job.credits:
        return
    VendorKey.objects.filter(
        pk=job.key_id,
        credits_month=job.charged_on.replace(day=1),
        credits_this_month__gte=job.credits,
    ).update(credits_this_month=F("credits_this_month") - job.credits)


def _send_on_commit(job: Job, countdown: float = 0.0) -> None:
    """Queue the job's next step once the transaction that decided it has committed."""
    from editor.tasks import advance

    queue = _queue_for(job)
    job_id, number = str(job.pk), job.dispatch
    transaction.on_commit(
        lambda: advance.apply_async((job_id, number), countdown=countdown, queue=queue)
    )


def _queue_for(job: Job) -> str:
    """Image work (fitting, the built-in engine, thumbnails) runs on the prefork ``cpu``
    queue; vendor I/O on the threaded ``io`` queue."""
    if job.status in (JobStatus.RUNNING, JobStatus.WAITING) and job.provider != "local":
        return "io"
    return "cpu"


# --- Advancing ---------------------------------------------------------------------------------


def _claim(job_id: str, number: int) -> Job | None:
    now = timezone.now()
    claimed = (
        Job.objects.filter(pk=job_id, dispatch=number, status__in=ACTIVE_STATUSES)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + _lease(), started_at=Coalesce("started_at", Value(now)))
    )
    if not claimed:
        return None
    return Job.objects.select_related("key").get(pk=job_id)


def _move(job: Job, status: str, *, countdown: float = 0.0, **fields: Any) -> bool:
    """Hand the job to its next step: one conditional UPDATE (it loses if the job was canceled
    or another worker took over), then the message, after commit."""
    with transaction.atomic():
        moved = Job.objects.filter(
            pk=job.pk, dispatch=job.dispatch, status__in=ACTIVE_STATUSES
        ).update(
            status=status,
            dispatch=F("dispatch") + 1,
            lease_until=None,
            due_at=timezone.now() + dt.timedelta(seconds=countdown),
            **fields,
        )
        if moved:
            job.refresh_from_db()
            _send_on_commit(job, countdown)
    return bool(moved)


def advance(job_id: str, number: int) -> None:
    """Do the next step of a job, if this message is still the current one."""
    job = _claim(job_id, number)
    if job is None:
        return
    if job.deadline < timezone.now() and _not_paid_for(job):
        # A step that waited past the deadline (busy workers) starts no vendor work the job
        # has no time left for; it ends as the sweeper would end it. Work already paid for (a
        # vendor task to poll, a result to finish) is still collected.
        _expire(job)
        return
    try:
        if job.status == JobStatus.QUEUED:
            _prepare(job)
        elif job.status in (JobStatus.RUNNING, JobStatus.WAITING):
            _call_vendor(job)
        elif job.status == JobStatus.STORING:
            _finish(job)
    except VendorError as error:
        _handle_vendor_error(job, error)
    except images.ImageRejected as error:
        _fail(job, "invalid_image", str(error))
    except vault.VaultError as error:
        _fail(job, "vault", str(error))
    except Exception:
        logger.exception("job %s: unexpected error in step %s", job.pk, job.status)
        _handle_vendor_error(
            job,
            VendorError(
                _("Something went wrong on our side."),
                retryable=True,
                code="internal",
            ),
        )


def _not_paid_for(job: Job) -> bool:
    return job.status == JobStatus.QUEUED or (
        job.status == JobStatus.RUNNING and not job.vendor_ref
    )


def _prepare(job: Job) -> None:
    """Fit every input to the provider's limits and keep the fitted copies."""
    operation = operations.get(job.operation)
    provider = operation.provider(job.provider)
    adapter = provider.adapter
    prepared: dict[str, str] = {}
    notes: list[str] = []
    photo_size: tuple[int, int] | None = None
    for role in sorted(job.inputs, key=lambda name: name == "mask"):
        with default_storage.open(job.inputs[role], "rb") as handle:
            data = handle.read()
        if role == "mask":
            if photo_size is None:
                raise images.ImageRejected(_("A mask needs a photo."))
            fitted_image = images.fit_mask(data, photo_size)
        else:
            fitted = images.fit(
                data, adapter.limits(provider.vendor_operation, role), vendor_label=adapter.label
            )
            fitted_image = fitted.image
            notes.extend(fitted.notes)
            if role == "image":
                photo_size = (fitted.width, fitted.height)
        extension = images.extension_for(fitted_image.media_type)
        name = f"jobs/{job.owner_id}/{job.pk}/prepared-{role}.{extension}"
        if default_storage.exists(name):
            # Left by a run of this step that died before its move (a killed worker): no row
            # names it, and the storage would keep the new copy beside it under another name.
            _discard_files(job.owner_id, [name])
        prepared[role] = _save_file(job.owner_id, name, ContentFile(fitted_image.data))
    earlier = set(job.prepared.values()) - set(prepared.values())
    if _move(job, JobStatus.RUNNING, prepared=prepared, notes=notes, progress=10):
        # A step run again (a retried job) replaces the fitted copies of the run before.
        _discard_files(job.owner_id, earlier)
    else:
        # The job was canceled, deleted or taken over meanwhile: these copies are nobody's.
        _discard_files(job.owner_id, prepared.values())


def _adapter(job: Job, provider: operations.Provider) -> VendorAdapter:
    if provider.vendor is None:
        return provider.adapter(api_key="")
    if job.key is None:
        raise VendorError(
            _("The API key for this job was deleted. Add a key and retry the job."),
            retryable=False,
            code="no_key",
        )
    # Decrypted in the worker, right before the vendor call.
    return adapter_for(provider.adapter, vault.decrypt(job.key.ciphertext))


def adapter_for(adapter: Callable[..., AdapterT], secret: str) -> AdapterT:
    """The adapter for a decrypted key: sandbox keys go to the sandbox (when it is enabled),
    real keys to the vendor, side by side."""
    if settings.SANDBOX_ENABLED and secret.startswith(settings.SANDBOX_KEY_PREFIX):
        return adapter(api_key=secret, base_url=settings.SANDBOX_URL)
    return adapter(api_key=secret)


def _load_prepared(job: Job) -> dict[str, InputImage]:
    loaded: dict[str, InputImage] = {}
    for role, name in job.prepared.items():
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
        media = images.sniff(data)
        if media is None:
            raise images.damaged()
        loaded[role] = InputImage(data, media.mime, PurePosixPath(name).name)
    return loaded


def _call_vendor(job: Job) -> None:
    operation = operations.get(job.operation)
    provider = operation.provider(job.provider)
    adapter = _adapter(job, provider)
    if job.vendor_ref:
        # A restarted worker resumes polling; it never pays for a second submit.
        outcome = adapter.poll(job.vendor_ref)
    else:
        request = VendorRequest(
            operation=provider.vendor_operation,
            files=_load_prepared(job),
            params=operation.vendor_params(provider, job.params),
        )
        outcome = adapter.submit(request)
    if isinstance(outcome, Pending):
        # The task ref first, before anything else: until it is in the database, a worker
        # that dies would make the job submit (and pay for) a second task.
        progress = 10 + int(0.8 * (outcome.progress or 0))
        _move(
            job,
            JobStatus.WAITING,
            countdown=outcome.poll_after,
            vendor_ref=outcome.task_ref,
            progress=max(job.progress, min(progress, 90)),
        )
        _key_worked(job)
        return
    _key_worked(job)
    _store_results(job, outcome)


def _key_worked(job: Job) -> None:
    if job.key is not None:
        VendorKey.objects.filter(pk=job.key.pk).update(last_used_at=timezone.now(), last_error="")


def _store_results(job: Job, done: Done) -> None:
    """The vendor's bytes, unchanged, into our storage: before any vendor URL can expire."""
    stored: list[tuple[int, ResultImage, str]] = []
    for position, image in enumerate(done.images):
        extension = images.extension_for(image.media_type)
        name = f"jobs/{job.owner_id}/{job.pk}/result-{position}.{extension}"
        if default_storage.exists(name):
            _discard_files(job.owner_id, [name])
        stored.append((position, image, _save_file(job.owner_id, name, ContentFile(image.data))))
    new_names = {name for _position, _image, name in stored}
    with transaction.atomic():
        if not Job.objects.filter(
            pk=job.pk, dispatch=job.dispatch, status__in=ACTIVE_STATUSES
        ).exists():
            _discard_files(job.owner_id, new_names)
            return
        # Results of an earlier run of this step (a retried job) are replaced, files included.
        replaced = _result_files(Result.objects.filter(job=job)) - new_names
        Result.objects.filter(job=job).delete()
        Result.objects.bulk_create(
            Result(
                job=job,
                position=position,
                file=name,
                media_type=image.media_type,
                bytes=len(image.data),
            )
            for position, image, name in stored
        )
        owner_id = job.owner_id
        # Registered before the next step's message, so it runs first: the next step writes
        # new thumbnails under the names of the old ones.
        transaction.on_commit(lambda: _discard_files(owner_id, replaced))
        _move(job, JobStatus.STORING, progress=95)


def _result_files(results: Iterable[Result]) -> set[str]:
    return {
        name for result in results for name in (result.file.name, result.thumbnail.name) if name
    }


def _finish(job: Job) -> None:
    for result in job.results.all():
        with default_storage.open(result.file.name, "rb") as handle:
            info = images.thumbnail(handle.read())
        thumb = f"jobs/{job.owner_id}/{job.pk}/thumb-{result.position}.jpg"
        earlier = result.thumbnail.name
        if default_storage.exists(thumb):
            _discard_files(job.owner_id, [thumb])
        result.thumbnail.name = _save_file(job.owner_id, thumb, ContentFile(info.thumbnail))
        result.width, result.height = info.width, info.height
        result.save(update_fields=["thumbnail", "width", "height"])
        if earlier and earlier != result.thumbnail.name:
            _discard_files(job.owner_id, [earlier])
    _end(job, JobStatus.SUCCEEDED, progress=100)


# --- Ending --------------------------------------------------------------------------------


def _end(job: Job, status: str, **fields: Any) -> bool:
    with transaction.atomic():
        ended = Job.objects.filter(
            pk=job.pk, dispatch=job.dispatch, status__in=ACTIVE_STATUSES
        ).update(
            status=status,
            dispatch=F("dispatch") + 1,
            lease_until=None,
            finished_at=timezone.now(),
            **fields,
        )
        if ended:
            refund = status != JobStatus.SUCCEEDED
            quotas.release(job.owner_id, job.credits, job.charged_on, refund=refund)
            if refund:
                _refund_key(job)
            _announce_end(job, status)
    return bool(ended)


def _announce_end(job: Job, status: str) -> None:
    """Tell editor.signals.job_ended's receivers (the API's webhooks), once committed. A
    receiver that raises is logged by Django and does not disturb the job or the others."""
    job_id = str(job.pk)
    transaction.on_commit(
        lambda: signals.job_ended.send_robust(sender=Job, job_id=job_id, status=str(status))
    )


def _fail(job: Job, code: str, message: str) -> None:
    _end(job, JobStatus.FAILED, error_code=code[:80], error_message=message)


def _backoff(attempts: int) -> float:
    base = min(settings.JOB_RETRY_MAX_SECONDS, settings.JOB_RETRY_BASE_SECONDS * 2**attempts)
    return float(base * random.uniform(0.5, 1.5))


def _handle_vendor_error(job: Job, error: VendorError) -> None:
    # Our own limiter kept the request from being sent: the job simply waits its turn; it is
    # not a failed attempt and nothing went wrong.
    wait = error.retry_after if error.code == LOCAL_RATE_LIMIT else None
    if wait is not None and timezone.now() + dt.timedelta(seconds=wait) < job.deadline:
        _move(job, job.status, countdown=wait)
        return
    if job.key is not None and error.code in BAD_KEY_CODES:
        VendorKey.objects.filter(pk=job.key.pk).update(last_error=error.message[:500])
    if error.retryable:
        delay = error.retry_after if error.retry_after is not None else _backoff(job.attempts)
        if timezone.now() + dt.timedelta(seconds=delay) < job.deadline:
            _move(
                job,
                job.status,
                countdown=delay,
                attempts=F("attempts") + 1,
                error_code=error.code[:80],
                error_message=error.message,
            )
            return
    _fail(job, error.code or "vendor_error", error.message)


def cancel(job: Job) -> bool:
    """Stop a job that has not ended; its credits are refunded. Work already in flight finds
    the job canceled at its next conditional update and stops there."""
    with transaction.atomic():
        canceled = Job.objects.filter(pk=job.pk, status__in=ACTIVE_STATUSES).update(
            status=JobStatus.CANCELED,
            dispatch=F("dispatch") + 1,
            lease_until=None,
            finished_at=timezone.now(),
        )
        if canceled:
            quotas.release(job.owner_id, job.credits, job.charged_on, refund=True)
            _refund_key(job)
            _announce_end(job, JobStatus.CANCELED)
    job.refresh_from_db()
    return bool(canceled)


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


def delete(job: Job) -> int:
    """Delete a job for good. An active job is canceled first, so its credits are refunded;
    then its rows go (jobs run again from it keep their own copies of the photo and only lose
    the link), and its files once that has committed, so a rolled-back delete loses nothing.

    Returns the bytes its files took in storage, which the owner's storage quota gets back in
    the same transaction."""
    folder = _folder_of(job)
    owner_id = job.owner_id
    with transaction.atomic():
        # Unconditionally: the conditional UPDATE in cancel(), not this copy's status, says
        # whether the job is still under way (it may have been retried in another tab).
        cancel(job)
        names = _files_of(job) | _folder_files(folder)
        freed = sum(default_storage.size(name) for name in names if default_storage.exists(name))
        job_id = str(job.pk)
        job.delete()
        quotas.free_storage(owner_id, freed)
        transaction.on_commit(lambda: _remove_files(job_id, owner_id, names, folder))
    return freed


def _folder_of(job: Job) -> str:
    return f"jobs/{job.owner_id}/{job.pk}/"


def _folder_files(folder: str) -> set[str]:
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return set()
    return {folder + name for name in files}


def _files_of(job: Job) -> set[str]:
    names = {*job.inputs.values(), *job.prepared.values()}
    for result in job.results.all():
        names.update(name for name in (result.file.name, result.thumbnail.name) if name)
    return {name for name in names if name}


def _remove_files(job_id: str, owner_id: int, names: set[str], folder: str) -> None:
    """The job's files (their bytes were given back already), and anything a worker still
    busy with it wrote into its folder since (given back here). A file that cannot be deleted
    is logged, not raised: the job is already deleted."""
    removed = 0
    for name in sorted(names):
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("deleted job %s: could not delete the file %s", job_id, name)
        else:
            removed += 1
    late = _folder_files(folder) - names
    if late:
        removed += len(late)
        _discard_files(owner_id, late)
    # The folder itself, now empty, where folders exist (the file system); on S3 this names
    # no object and does nothing.
    try:
        default_storage.delete(folder)
    except OSError:
        logger.warning("deleted job %s: its folder %s is not empty", job_id, folder)
    logger.info("deleted job %s: removed %d files", job_id, removed)


def retry(job: Job) -> Job:
    """Run a failed or canceled job again from the start, charging the quota (and its key's
    cap) again; the plan must still allow it."""
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
            _charge_key(job.key, job.credits, now)
        updated = Job.objects.filter(
            pk=job.pk, status__in=(JobStatus.FAILED, JobStatus.CANCELED)
        ).update(
            status=JobStatus.QUEUED,
            dispatch=F("dispatch") + 1,
            lease_until=None,
            due_at=now,
            deadline=now + dt.timedelta(seconds=operation.deadline_seconds),
            charged_on=charged_on,
            attempts=0,
            progress=0,
            vendor_ref="",
            error_code="",
            error_message="",
            finished_at=None,
        )
        if not updated:
            transaction.set_rollback(True)
            job.refresh_from_db()
            return job
        job.refresh_from_db()
        _send_on_commit(job)
    return job


# --- Sweeping ------------------------------------------------------------------------------


def _expire(job: Job) -> bool:
    """End a job past its deadline. One that was retrying a vendor's error ends with that
    error, which says more than the deadline would."""
    if job.error_code:
        return _end(job, JobStatus.FAILED)
    return _end(
        job,
        JobStatus.FAILED,
        error_code="deadline",
        error_message=_("The job did not finish in time. Your credits were refunded."),
    )


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Fail jobs past their deadline; re-send the step of jobs whose worker died (lease
    expired) or whose message was lost (due long ago, never claimed)."""
    now = now or timezone.now()
    expired = 0
    for job in Job.objects.filter(status__in=ACTIVE_STATUSES, deadline__lt=now):
        if _expire(job):
            expired += 1
    grace = dt.timedelta(seconds=settings.JOB_LOST_MESSAGE_SECONDS)
    stuck = Job.objects.filter(status__in=ACTIVE_STATUSES, deadline__gte=now).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, due_at__lt=now - grace)
    )
    resent = 0
    for job in stuck:
        with transaction.atomic():
            moved = Job.objects.filter(pk=job.pk, dispatch=job.dispatch).update(
                dispatch=F("dispatch") + 1, lease_until=None, due_at=now
            )
            if moved:
                job.refresh_from_db()
                _send_on_commit(job)
                resent += 1
    if expired or resent:
        logger.info("sweeper: %d jobs past deadline, %d re-sent", expired, resent)
    return {"expired": expired, "resent": resent}
