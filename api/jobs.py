"""Jobs through the API: submit, list, read, download, cancel, retry, delete.

Submitting calls editor.submissions' one validator, the operation page's own, so checks,
fitting notes, the key choice (the caller's own key, else the studio's house key when the plan
includes one) and plan checks are the same code as the page's; then editor.jobs.start, with the
same quotas. Downloads go through editor.downloads like the page's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from django.core.files.storage import default_storage
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from accounts.http import AuthenticatedHttpRequest
from api import multipart, webhooks
from api.auth import token_of
from api.errors import ApiError, not_found
from api.idempotency import idempotent
from api.models import Webhook
from api.schemas import Error, InvalidError, JobFilters, JobOut, JobPage, QuotaError, job_out
from editor import access, downloads, fairqueue, images, jobs
from editor.models import Job, JobStatus

router = Router(tags=["jobs"])


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


# --- Submitting ----------------------------------------------------------------------------


@router.post(
    "/jobs",
    response={
        202: JobOut,
        401: Error,
        404: Error,
        413: Error,
        422: InvalidError,
        429: QuotaError,
    },
    summary="Start a job",
    description=(
        "Multipart form: `operation`, optional `provider`, the operation's parameters by the "
        "names GET /api/v1/operations lists, its files (`image`, and `style`, `ref`, `mask` "
        "where it takes them; one photo each), optional `key` (a vault key id) and optional "
        "`webhook_url` (https, on the public internet; called when the job ends). A job "
        "beyond your concurrent-jobs limit is accepted and waits for a slot (status "
        "`pending`, with `queue_position` and `estimated_start`); past your waiting-jobs "
        "limit it is a 429 `quota_exceeded` with `limit` `waiting_jobs`. "
        "A `colors` parameter is hex colors separated by commas "
        "(`DB0D0D,0E0CBB`) or the field repeated once per color. The same checks as the "
        "operation page apply. Errors: an unknown operation or field, a bad parameter or "
        "photo: 422 `invalid` with `errors` by field; no key for the vendor: 422 `no_key`; "
        "an operation your plan does not include: 422 `not_in_plan`; a file over 64 MB: 413 "
        "`too_large`; a quota: 429 `quota_exceeded` with `limit` and `resets_at`. Answers 202 "
        "with the job and its URL in `Location`."
    ),
    openapi_extra=multipart.body_schema(),
)
@idempotent
def submit_job(request: AuthenticatedHttpRequest, response: HttpResponse) -> Status[JobOut]:
    operation = multipart.operation_of(request.POST)
    webhook_url = request.POST.get("webhook_url", "").strip()
    if webhook_url:
        webhook_url = webhooks.check_url(webhook_url)
    submission = multipart.submission(request, operation)
    # The job and its webhook commit together; without one, jobs.start's transaction is all.
    with transaction.atomic() if webhook_url else contextlib.nullcontext():
        job = jobs.start(submission)
        assert isinstance(job, Job)  # one photo per role: never a batch
        if webhook_url:
            Webhook.objects.create(
                job=job, url=webhook_url, token_hash=token_of(request).token_hash
            )
    response["Location"] = request.build_absolute_uri(reverse("api-v1:job", args=[job.pk]))
    return Status(202, job_out(job, _base(request)))


# --- Reading -------------------------------------------------------------------------------


def _instant(name: str, value: dt.datetime) -> dt.datetime:
    """A filter's moment in UTC: ISO 8601 allows offsets PostgreSQL refuses (beyond ±16 h), and a
    moment without one is read in the studio's time zone."""
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise multipart.invalid(
            {name: [_("Give a date and time between the years 1 and 9999.")]}
        ) from None


@router.get(
    "/jobs",
    response={200: JobPage, 401: Error, 422: InvalidError},
    summary="Your jobs, newest first",
    description=(
        "Paginated by `limit` (1-100, default 20) and `offset`; `next` is the URL of the next "
        "page. Filters: `operation`, `status`, `created_after`, `created_before` (ISO 8601)."
    ),
)
def list_jobs(request: AuthenticatedHttpRequest, filters: Query[JobFilters]) -> JobPage:
    found = Job.objects.filter(owner=request.user)
    if filters.operation:
        found = found.filter(operation=filters.operation)
    if filters.status:
        found = found.filter(status=filters.status)
    if filters.created_after:
        found = found.filter(created_at__gt=_instant("created_after", filters.created_after))
    if filters.created_before:
        found = found.filter(created_at__lt=_instant("created_before", filters.created_before))
    page = list(
        found.order_by("-created_at", "-pk")
        .select_related("webhook")
        .prefetch_related("results")[filters.offset : filters.offset + filters.limit + 1]
    )
    next_url = None
    if len(page) > filters.limit:
        page = page[: filters.limit]
        query = request.GET.copy()
        query["offset"] = str(filters.offset + filters.limit)
        next_url = request.build_absolute_uri(f"{request.path}?{urlencode(list(query.items()))}")
    base = _base(request)
    places = fairqueue.places(request.user.pk, page)
    return JobPage(items=[job_out(job, base, places) for job in page], next=next_url)


@router.get(
    "/jobs/{job_id}",
    response={200: JobOut, 401: Error, 404: Error, 422: InvalidError},
    summary="One job",
    url_name="job",
)
def get_job(request: AuthenticatedHttpRequest, job_id: uuid.UUID) -> JobOut:
    return job_out(access.get_job_for_user(request.user, job_id), _base(request))


RESULT_RESPONSES: dict[str, Any] = {
    "responses": {
        200: {
            "description": "The result file, metadata removed (or converted).",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in images.MEDIA_TYPES.values()
            },
        }
    }
}


@router.get(
    "/jobs/{job_id}/result",
    response={401: Error, 404: Error, 422: InvalidError},
    summary="Download a result",
    description=(
        "The stored result with its EXIF (GPS included), XMP and comments removed, or with "
        "`format=png|jpeg|webp` (and `quality=1..100` for jpeg and webp, default 90) a "
        "converted copy. `metadata` says which of the photo's details it carries: `camera` "
        "(the default) its capture date and camera, `none` nothing, `uploaded` all the studio "
        "kept of the photo's EXIF (date, camera, lens, exposure settings); never a location, "
        "which is dropped at upload. `position` picks a later result of a job that has "
        "several. 404 until the job has succeeded."
    ),
    url_name="job_result",
    openapi_extra=RESULT_RESPONSES,
)
def job_result(
    request: AuthenticatedHttpRequest,
    job_id: uuid.UUID,
    format: str = downloads.ORIGINAL,
    quality: int | None = None,
    position: int = 0,
    metadata: str = downloads.CAPTURE,
) -> HttpResponse:
    job = access.get_job_for_user(request.user, job_id)
    result = (
        job.results.filter(position=position).first() if job.status == JobStatus.SUCCEEDED else None
    )
    if result is None or not result.file.name or not default_storage.exists(result.file.name):
        raise not_found(_("This job has no result yet."))
    form = downloads.DownloadForm(
        {
            "format": format,
            "quality": "" if quality is None else str(quality),
            "metadata": metadata,
        }
    )
    if not form.is_valid():
        errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        raise multipart.invalid(errors)
    try:
        body, fmt = downloads.encode(result, form.cleaned_data)
    except images.ImageRejected as rejected:
        raise ApiError(
            422,
            "unreadable",
            _("This result cannot be downloaded: %(reason)s") % {"reason": rejected},
        ) from None
    return downloads.attachment(result, body, fmt)


# --- Changing ------------------------------------------------------------------------------


@router.post(
    "/jobs/{job_id}/cancel",
    response={200: JobOut, 401: Error, 404: Error, 409: Error, 422: InvalidError},
    summary="Cancel a job",
    description=(
        "Stops a job under way and refunds its credits; a job still waiting for a slot "
        "(`pending`) gives back everything at once. A job that ended is a 409."
    ),
)
@idempotent
def cancel_job(request: AuthenticatedHttpRequest, job_id: uuid.UUID) -> JobOut:
    job = access.get_job_for_user(request.user, job_id)
    if not jobs.cancel(job):
        raise ApiError(409, "not_active", _("This job has ended already."))
    return job_out(job, _base(request))


@router.post(
    "/jobs/{job_id}/retry",
    response={200: JobOut, 401: Error, 404: Error, 409: Error, 422: InvalidError, 429: QuotaError},
    summary="Run a failed or canceled job again",
    description=(
        "Charges the quota again (429 when a limit would be passed). A job that did not fail "
        "and was not canceled is a 409 `not_retryable`."
    ),
)
@idempotent
def retry_job(request: AuthenticatedHttpRequest, job_id: uuid.UUID) -> JobOut:
    job = access.get_job_for_user(request.user, job_id)
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELED):
        raise ApiError(409, "not_retryable", _("Only a failed or canceled job can run again."))
    job = jobs.retry(job)
    if job.status not in (JobStatus.PENDING, JobStatus.QUEUED):
        raise ApiError(409, "not_retryable", _("Only a failed or canceled job can run again."))
    return job_out(job, _base(request))


@router.delete(
    "/jobs/{job_id}",
    response={204: None, 401: Error, 404: Error, 422: InvalidError},
    summary="Delete a job",
    description="Cancels it if under way (credits refunded), then deletes it and its files.",
)
def delete_job(request: AuthenticatedHttpRequest, job_id: uuid.UUID) -> Status[None]:
    jobs.delete(access.get_job_for_user(request.user, job_id))
    return Status(204, None)
