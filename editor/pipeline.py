"""What a worker does with a job: claim a step, do it, hand the job to its next step; and the
sweeper that re-sends lost steps and ends jobs past their deadline.

The database is the source of truth; the broker is only a doorbell. A job's status says which
step comes next (queued: fit the inputs; running/waiting: call or poll the vendor; storing:
thumbnails and metadata). Every message carries ``(job id, dispatch number)``; a worker claims a
step with a conditional UPDATE that matches that dispatch number and sets a lease, and every
transition bumps the dispatch number (``Job.objects.transition``), so duplicate or stale
messages do nothing. The sweeper re-sends the step of any job whose lease expired or whose
message never arrived.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import random
import secrets
import time
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import languages
from editor import (
    images,
    instruments,
    jobs,
    keycheck,
    operations,
    outbound,
    polling,
    storage,
    vault,
)
from editor.models import (
    ACTIVE_STATUSES,
    CONVERSION_PREFIX,
    Job,
    JobStatus,
    Result,
    VendorKey,
)
from editor.vendors.base import (
    BAD_RESPONSE,
    Done,
    InputImage,
    Pending,
    VendorAdapter,
    VendorError,
    VendorRequest,
    adapter_for,
)
from limiter import core as limiter

logger = logging.getLogger(__name__)

# A job waiting for its rate slot is woken this much before it: more than a message takes to
# reach a worker (the filesystem broker polls every 50 ms) and a worker to claim the step.
WAKE_EARLY = 0.2
# A step's unexpected error: retried (INTERNAL) until it has happened too often in a row.
INTERNAL = "internal"
INTERNAL_FAILURE = "internal_repeated"
# How fresh a key's "last used" must be before a job that used it writes it again.
KEY_USED_RESOLUTION = dt.timedelta(seconds=30)
# Vendor error codes that mean the key itself is wrong: shown on the key in the vault.
BAD_KEY_CODES = frozenset(
    {"unauthorized", "ERROR_APPLICATIONS_NOT_EXISTS", "ERROR_USER_NOT_EXISTS"}
)
# A submit the vendor answered (HTTP 200) in a way we could not read: it may have been billed,
# so it is never sent again on our own (the job page warns next to its Retry button).
UNREADABLE_ANSWER = "unreadable_answer"


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.JOB_LEASE_SECONDS)


# --- Claiming and moving on ------------------------------------------------------------------


def _claim(job_id: str, number: int) -> Job | None:
    now = timezone.now()
    claimed = (
        Job.objects.filter(pk=job_id, dispatch=number, status__in=ACTIVE_STATUSES)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + _lease(), started_at=Coalesce("started_at", Value(now)))
    )
    if not claimed:
        return None
    return Job.objects.select_related("key", "owner").get(pk=job_id)


class Moved(enum.Enum):
    LOST = "lost"  # canceled, deleted or taken over meanwhile: nothing more to do here
    SENT = "sent"  # the next step's message goes out after commit
    HERE = "here"  # the next step is due now on this worker's queue: claimed, done in this task


def _move(
    job: Job, status: str, *, countdown: float = 0.0, go_on: bool = False, **fields: Any
) -> Moved:
    """Hand the job to its next step: one conditional UPDATE (it loses if the job was canceled
    or another worker took over), then the message, after commit.

    ``go_on``: the caller does the next step itself when it can (it must, on ``Moved.HERE``):
    a step due now on the queue this one runs on is claimed in the same UPDATE instead, with no
    round trip through the broker; a worker that dies before it is done leaves a lease for the
    sweeper, as any claimed step does."""
    now = timezone.now()
    after = dict(fields, status=status, due_at=now + dt.timedelta(seconds=countdown))
    here = (
        go_on
        and countdown <= 0
        and jobs.queue_for(job.provider, status, after.get("light", job.light))
        == jobs.queue_for(job.provider, job.status, job.light)
    )
    if here:
        after["lease_until"] = now + _lease()
    with transaction.atomic():
        if not Job.objects.transition(job, **after):
            return Moved.LOST
        _changed(job, after)
        if not here:
            jobs.ring(job, countdown)
    return Moved.HERE if here else Moved.SENT


def _changed(job: Job, changes: dict[str, Any]) -> None:
    """Bring this copy of a job up to date after its transition without reading it again: the
    UPDATE matched this copy's dispatch number, so only ``changes`` (and the number) moved."""
    job.dispatch += 1
    job.lease_until = None
    computed = []
    for name, value in changes.items():
        if hasattr(value, "resolve_expression"):
            computed.append(name)
        else:
            setattr(job, name, value)
    if computed:
        job.refresh_from_db(fields=computed)


def advance(job_id: str, number: int) -> None:
    """Do the next step of a job, if this message is still the current one, and the steps
    after it that fall to this task (``Moved.HERE``)."""
    job = _claim(job_id, number)
    while job is not None:
        # What a step words (a vendor's reason, a retry's promise) is stored for the owner to
        # read: in their language, not the worker's.
        with languages.speaking_to(job.owner):
            job = _step(job)


def _step(job: Job) -> Job | None:
    """Do the claimed step. Returns the job when its next step is claimed for this task."""
    if job.deadline < timezone.now() and jobs.not_paid_for(job):
        # A step that waited past the deadline (busy workers) starts no vendor work the job
        # has no time left for; it ends as the sweeper would end it. Work already paid for (a
        # vendor task to poll, a result to finish) is still collected.
        _expire(job)
        return None
    try:
        if job.status == JobStatus.QUEUED:
            return _prepare(job)
        if job.status in (JobStatus.RUNNING, JobStatus.WAITING):
            return _call_vendor(job)
        if job.status == JobStatus.STORING:
            _finish(job)
    except VendorError as error:
        _handle_vendor_error(job, error)
    except images.ImageRejected as error:
        _fail(job, "invalid_image", str(error))
    except vault.VaultError as error:
        _fail(job, "vault", str(error))
    except Exception as error:
        # A reference the person can quote and an admin can find in the log, next to the
        # traceback (which never reaches the job's message).
        incident = secrets.token_hex(4)
        logger.exception(
            "job %s: unexpected error in step %s (incident %s)", job.pk, job.status, incident
        )
        _handle_vendor_error(job, _internal(job, error, incident))
    return None


def _internal(job: Job, error: Exception, incident: str) -> VendorError:
    """What an unexpected error in a step means for the job. The studio's own services (the
    database, the broker, storage) failing is passing trouble: the step is tried again until
    the deadline. Anything else is a bug that this job's input or settings set off, which
    would happen again on every try: it gets ``JOB_INTERNAL_RETRIES`` more, then the job
    ends saying so, rather than retrying for minutes."""
    passing = isinstance(error, DatabaseError | ConnectionError | storage.StorageUnavailable) or (
        isinstance(error, OSError) and error.errno is not None
    )
    again = job.error_code == INTERNAL and job.attempts >= settings.JOB_INTERNAL_RETRIES
    if not passing and again:
        return VendorError(
            _(
                "Something in this job makes our own processing fail every time, so it was "
                "stopped (reference %(incident)s). We have logged it; your credits were "
                "refunded. Trying another photo or other settings may work."
            )
            % {"incident": incident},
            retryable=False,
            code=INTERNAL_FAILURE,
        )
    if isinstance(error, storage.StorageUnavailable):
        # Said as it is: the person's photo and earlier results are safe, only this one waits.
        said = _(
            "The studio's storage is not answering, so the result could not be kept yet "
            "(reference %(incident)s)."
        ) % {"incident": incident}
    else:
        said = _("Something went wrong on our side (reference %(incident)s).") % {
            "incident": incident
        }
    return VendorError(
        said + " " + _("The job will try again shortly."), retryable=True, code=INTERNAL
    )


# --- The steps -------------------------------------------------------------------------------


def _prepare(job: Job) -> Job | None:
    """Fit every input to the provider's limits and keep the fitted copies (an input that
    fits as it is is used as it is)."""
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
        if fitted_image.data is data:
            # It fits as it is: the vendor gets the input itself, with no copy to write.
            prepared[role] = job.inputs[role]
            continue
        extension = images.extension_for(fitted_image.media_type)
        prepared[role] = _save_fresh(
            job, f"{jobs.folder_of(job)}prepared-{role}.{extension}", fitted_image.data
        )
    inputs = set(job.inputs.values())
    copies = set(prepared.values()) - inputs
    earlier = set(job.prepared.values()) - set(prepared.values()) - inputs
    moved = _move(job, JobStatus.RUNNING, go_on=True, prepared=prepared, notes=notes, progress=10)
    if moved is Moved.LOST:
        # The job was canceled, deleted or taken over meanwhile: these copies are nobody's.
        storage.discard(job.owner_id, copies)
        return None
    # A step run again (a retried job) replaces the fitted copies of the run before.
    storage.discard(job.owner_id, earlier)
    return job if moved is Moved.HERE else None


def _secret(job: Job) -> str:
    if job.key is None:
        raise VendorError(
            _("The API key for this job was deleted. Add a key and retry the job."),
            retryable=False,
            code="no_key",
        )
    # Decrypted in the worker, right before the vendor call.
    return vault.decrypt(job.key.ciphertext)


def _adapter(provider: operations.Provider, secret: str) -> VendorAdapter:
    if provider.vendor is None:
        return provider.adapter(api_key="")
    return adapter_for(provider.adapter, secret)


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


def _call_vendor(job: Job) -> Job | None:
    operation = operations.get(job.operation)
    provider = operation.provider(job.provider)
    request = None
    if not job.vendor_ref:
        request = VendorRequest(
            operation=provider.vendor_operation,
            files=_load_prepared(job),
            params=operation.vendor_params(provider, job.params),
        )
    if provider.vendor is None:  # the built-in engine: no key, no budget
        outcome = _ask(_adapter(provider, ""), job, request)
    else:
        secret = _secret(job)
        budget = outbound.vendor_budget(provider.vendor, secret)
        adapter = _adapter(provider, secret)
        if request is not None and not _intend_submit(job):
            return None
        # The slot last, so the request leaves right after it is granted (the window's margin
        # covers the time between the two); the process's HTTP client is made before it, as
        # making the first one takes tens of milliseconds (its TLS context).
        outbound.shared_client()
        if not _slot(job, budget, outbound.vendor_rate(provider.vendor)):
            return None
        try:
            outcome = _ask(adapter, job, request)
        except VendorError as error:
            if error.throttled:
                # The vendor says this key is going too fast: no call on it for a while,
                # whichever worker or job would make it.
                _hold(budget, error.retry_after or 1.0)
            raise
    if isinstance(outcome, Pending):
        # The task ref first, before anything else: until it is in the database, a worker
        # that dies would make the job submit (and pay for) a second task.
        progress = 10 + int(0.8 * (outcome.progress or 0))
        fields: dict[str, Any] = {}
        countdown = outcome.poll_after
        if job.vendor_ref and timezone.now() >= job.deadline:
            # That was the last poll: the vendor is still at it, and the job's time is up.
            _expire(job)
            return None
        if not job.vendor_ref:
            countdown = polling.first_poll_after(job, outcome.poll_after)
            fields = {
                "submitted_at": timezone.now(),
                "submit_started_at": None,
                "vendor_seconds": countdown,
            }
        _move(
            job,
            JobStatus.WAITING,
            countdown=countdown,
            vendor_ref=outcome.task_ref,
            progress=max(job.progress, min(progress, 90)),
            **fields,
        )
        _key_worked(job)
        return None
    _key_worked(job)
    if job.vendor_ref:
        job.vendor_seconds = polling.seconds_taken(job, timezone.now(), provider.adapter.poll_every)
    elif job.submit_started_at is not None:
        job.vendor_seconds = (timezone.now() - job.submit_started_at).total_seconds()
    return _store_results(job, outcome)


def _ask(adapter: VendorAdapter, job: Job, request: VendorRequest | None) -> Done | Pending:
    if request is None:
        # A restarted worker resumes polling; it never pays for a second submit. A poll whose
        # answer could not be read is asked again: both vendors' status queries are free and
        # change nothing (vendor contracts: AILabTools §2.3-2.4, PicWish §6).
        return adapter.poll(job.vendor_ref)
    try:
        return adapter.submit(request)
    except VendorError as error:
        if error.code != BAD_RESPONSE:
            raise
        raise _unreadable(job, error) from None


def _unreadable(job: Job, error: VendorError) -> VendorError:
    """A submit answered 200 whose answer we could not read (not JSON, cut off, fields
    missing). The vendor got the request and answered it, so it may have charged the key.

    Synchronous calls did the work in that call: sending it again pays twice. An asynchronous
    create is no different, though the "cut off after it left" path (``_intend_submit``) does
    resend: there we never heard back and the vendor may not have the request at all; here it
    answered, so a task most likely exists and is billed, and neither vendor lets us look a
    task up by anything of ours to poll it instead. Both fail the step alike, saying so, and
    resending is the person's choice (Retry, with that warning)."""
    logger.warning(
        "job %s: %s answered a submit unreadably (%s); not resending",
        job.pk,
        job.provider,
        error.message,
    )
    return VendorError(
        _("The vendor answered but the answer was unreadable; it may have charged you."),
        retryable=False,
        code=UNREADABLE_ANSWER,
    )


def _intend_submit(job: Job) -> bool:
    """Record that a submit is about to go, committed before it goes. Found still set (and no
    task ref) by the next run of this step, it means the last submit was cut off after it left:
    the vendor may hold a task we will never hear of. Neither vendor offers a way to look a task
    up by anything of ours, so it is submitted again, counted and logged; the person was charged
    once, when the job was accepted, and is not charged again.

    False, and nothing is sent, when the job was canceled or taken over since this step was
    claimed (an earlier step of the same task may have taken a while)."""
    again = job.submit_started_at is not None
    if again:
        job.double_submits += 1
        logger.warning(
            "job %s: a submit to %s was cut off after it left; submitting again (%d so far)",
            job.pk,
            job.provider,
            job.double_submits,
        )
    job.submit_started_at = timezone.now()
    return bool(
        Job.objects.filter(pk=job.pk, dispatch=job.dispatch, status__in=ACTIVE_STATUSES).update(
            submit_started_at=job.submit_started_at, double_submits=job.double_submits
        )
    )


def _slot(job: Job, budget: str, rate: limiter.Rate) -> bool:
    """Take this job's slot in its key's budget. False: the job was re-scheduled for the moment
    its slot opens (reserved for it meanwhile), or ended for lack of time before its deadline."""
    try:
        slot = limiter.take(budget, rate, reserve=True, reserved_at=job.rate_slot_at)
    except limiter.StoreDown as error:
        logger.warning("job %s: rate-limit store down: %s", job.pk, error)
        raise VendorError(
            _(
                "The studio could not check this key's rate limit, so nothing was sent to the "
                "vendor. The job will try again shortly."
            ),
            retryable=True,
            code="limiter_down",
        ) from error
    if slot.wait > 0:
        instruments.limiter_waited(job.provider, slot.wait)
    if slot.taken and slot.wait <= WAKE_EARLY:
        # The slot is ours and opens within the broker's delivery delay: the last moment is
        # waited here (bounded by WAKE_EARLY, never the whole wait), so the request leaves on
        # its slot rather than late, which would lose it.
        time.sleep(slot.wait)
        if job.rate_slot_at is not None:
            job.rate_slot_at = None
            Job.objects.filter(pk=job.pk).update(rate_slot_at=None)
        return True
    if timezone.now() + dt.timedelta(seconds=slot.wait) >= jobs.gives_up_at(job):
        _fail(
            job,
            "rate_limited_local",
            _(
                "The vendor's rate limit for this key left no time to finish before the job's "
                "deadline (too many jobs on one key at once). Your credits were refunded; try "
                "again later or spread the jobs over more keys."
            ),
        )
        return False
    # Nothing was sent: the submit recorded just before is not in flight.
    _move(
        job,
        job.status,
        countdown=slot.wait - WAKE_EARLY,
        rate_slot_at=slot.at,
        submit_started_at=None,
    )
    return False


def _hold(budget: str, seconds: float) -> None:
    try:
        limiter.hold(budget, seconds)
    except limiter.StoreDown as error:
        # The vendor's own answer already slows this job (its retry waits); others may run
        # into the vendor's limit too until the store is back.
        logger.warning("could not hold a rate budget after a vendor 429: %s", error)


def _key_worked(job: Job) -> None:
    """Note on the key that it just worked: the vault shows when a key was last used (to the
    minute) and clears a stale error. Only a row that needs it is written: hundreds of jobs on
    one key would otherwise queue up on that one row's lock, two writes a job."""
    if job.key is None:
        return
    now = timezone.now()
    VendorKey.objects.filter(pk=job.key.pk).filter(
        Q(last_used_at__isnull=True)
        | Q(last_used_at__lt=now - KEY_USED_RESOLUTION)
        | ~Q(last_error="")
    ).update(last_used_at=now, last_error="")
    keycheck.used(job.key)


def _store_results(job: Job, done: Done) -> Job | None:
    """The vendor's bytes, unchanged, into our storage: before any vendor URL can expire, and
    committed before any thumbnail work, so a worker that dies after this never makes the job
    pay the vendor again. Returns the job when the thumbnail step falls to this task (a light
    job's small results, or the built-in engine's)."""
    stored: list[Result] = []
    for position, image in enumerate(done.images):
        extension = images.extension_for(image.media_type)
        result = Result(job=job, position=position, media_type=image.media_type)
        result.bytes = len(image.data)
        result.file.name = _save_fresh(
            job, f"{jobs.folder_of(job)}result-{position}.{extension}", image.data
        )
        stored.append(result)
    new_names = _result_files(stored)
    owner_id = job.owner_id
    with transaction.atomic():
        # Results of an earlier run of this step (a retried job) are replaced, files included;
        # registered before the next step's message, so it runs first: the thumbnail step
        # writes new thumbnails under the names of the old ones.
        earlier = list(Result.objects.filter(job=job))
        replaced = _result_files(earlier) - new_names
        # And the converted downloads kept of the old results (editor.downloads): their names
        # carry the old results' ids, so none would be sent again, but they are counted.
        replaced |= {
            name
            for name in storage.files_in(jobs.folder_of(job))
            if PurePosixPath(name).name.startswith(CONVERSION_PREFIX)
        }
        transaction.on_commit(lambda: storage.discard(owner_id, replaced))
        if earlier:
            Result.objects.filter(pk__in=[result.pk for result in earlier]).delete()
        Result.objects.bulk_create(stored)
        moved = _move(
            job,
            JobStatus.STORING,
            go_on=True,
            progress=95,
            submit_started_at=None,
            vendor_seconds=job.vendor_seconds,
            light=job.light and jobs.is_light(image.data for image in done.images),
        )
        if moved is Moved.LOST:
            # Canceled or taken over meanwhile: nothing of this run is kept (nor discarded).
            transaction.set_rollback(True)
    if moved is Moved.LOST:
        storage.discard(owner_id, new_names)
        return None
    return job if moved is Moved.HERE else None


def _save_fresh(job: Job, name: str, data: bytes) -> str:
    """Store ``data`` under ``name``, replacing a file left there by a run of this step that
    died before its move (a killed worker): no row names it, and the storage would keep the
    new copy beside it under another name."""
    if default_storage.exists(name):
        storage.discard(job.owner_id, [name])
    return storage.save(job.owner_id, name, ContentFile(data))


def _result_files(results: Iterable[Result]) -> set[str]:
    return {
        name for result in results for name in (result.file.name, result.thumbnail.name) if name
    }


def _finish(job: Job) -> None:
    for result in job.results.all():
        with default_storage.open(result.file.name, "rb") as handle:
            info = images.thumbnail(handle.read())
        thumb = f"{jobs.folder_of(job)}thumb-{result.position}.jpg"
        earlier = result.thumbnail.name
        if default_storage.exists(thumb):
            storage.discard(job.owner_id, [thumb])
        result.thumbnail.name = storage.save(job.owner_id, thumb, ContentFile(info.thumbnail))
        result.width, result.height = info.width, info.height
        result.save(update_fields=["thumbnail", "width", "height"])
        if earlier and earlier != result.thumbnail.name:
            storage.discard(job.owner_id, [earlier])
    jobs.end(job, JobStatus.SUCCEEDED, progress=100)


# --- Errors and deadlines --------------------------------------------------------------------


def _fail(job: Job, code: str, message: str) -> None:
    jobs.end(job, JobStatus.FAILED, error_code=code[:80], error_message=message)


def _backoff(attempts: int) -> float:
    base = min(settings.JOB_RETRY_MAX_SECONDS, settings.JOB_RETRY_BASE_SECONDS * 2**attempts)
    return float(base * random.uniform(0.5, 1.5))


def _handle_vendor_error(job: Job, error: VendorError) -> None:
    if job.key is not None and error.code in BAD_KEY_CODES:
        VendorKey.objects.filter(pk=job.key.pk).update(last_error=error.message[:500])
    if error.retryable:
        delay = error.retry_after if error.retry_after is not None else _backoff(job.attempts)
        # Not past the deadline, even for a task paid for: that gets one last poll, from the
        # sweeper, not retries.
        if timezone.now() + dt.timedelta(seconds=delay) < job.deadline:
            _move(
                job,
                job.status,
                countdown=delay,
                attempts=F("attempts") + 1,
                error_code=error.code[:80],
                error_message=error.message,
                # The vendor answered the submit with an error: no task was made.
                submit_started_at=None,
            )
            return
    _fail(job, error.code or "vendor_error", error.message)


def _expire(job: Job) -> bool:
    """End a job past its deadline. One that was retrying a vendor's error ends with that
    error, which says more than the deadline would."""
    if job.error_code:
        # The last try's message was written for a job that would go on ("will try again"):
        # the job's last word says that it ended, and why.
        return jobs.end(
            job,
            JobStatus.FAILED,
            error_message=_(
                "%(reason)s The job stopped trying at its deadline; your credits were refunded."
            )
            % {"reason": _without_promise(job.error_message)},
        )
    return jobs.end(
        job,
        JobStatus.FAILED,
        error_code="deadline",
        error_message=_("The job did not finish in time. Your credits were refunded."),
    )


def _without_promise(message: str) -> str:
    """A retry's message without what it promised for the next try."""
    for promise in (
        _("The job will try again shortly."),
        _("The job will continue in a moment."),
    ):
        message = message.replace(promise, "")
    return message.strip()


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Fail jobs past their deadline, after one last poll for those a vendor is working on;
    re-send the step of jobs whose worker died (lease expired) or whose message was lost (due
    long ago, never claimed)."""
    now = now or timezone.now()
    expired = last_polls = 0
    grace = dt.timedelta(seconds=settings.JOB_LOST_MESSAGE_SECONDS)
    for job in Job.objects.filter(status__in=ACTIVE_STATUSES, deadline__lt=now).select_related(
        "owner"
    ):
        if now < jobs.gives_up_at(job):
            last_polls += _ring_last_time(job, now, grace)
            continue
        with languages.speaking_to(job.owner):
            expired += _expire(job)
    stuck = Job.objects.filter(status__in=ACTIVE_STATUSES, deadline__gte=now).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, due_at__lt=now - grace)
    )
    resent = 0
    for job in stuck:
        with transaction.atomic():
            if Job.objects.transition(job, due_at=now):
                job.refresh_from_db()
                jobs.ring(job)
                resent += 1
    if expired or resent or last_polls:
        logger.info(
            "sweeper: %d jobs past deadline, %d polled a last time, %d re-sent",
            expired,
            last_polls,
            resent,
        )
    # The waiting line's safety net: a free slot whose promotion was lost (a process that died
    # between ending a job and starting the next) goes to the next waiting job, fairly.
    jobs.promote_waiting()
    return {"expired": expired, "last_polls": last_polls, "resent": resent}


def _ring_last_time(job: Job, now: dt.datetime, grace: dt.timedelta) -> bool:
    """A job past its deadline whose vendor task is paid for: its next step (the poll, or
    storing what came back) runs now, once more, and the step ends the job either way. Left
    alone while a worker holds it or while its last step's message is on its way."""
    if job.lease_until is not None and job.lease_until >= now:
        return False
    if job.due_at is not None and job.deadline <= job.due_at and job.due_at >= now - grace:
        return False
    with transaction.atomic():
        if not Job.objects.transition(job, due_at=now):
            return False
        job.refresh_from_db()
        jobs.ring(job)
    return True
