"""Jobs through the API: submit, list, read, download, cancel, retry, delete.

Submitting builds the page's own editor.forms.OperationForm from the request, so validation,
fitting notes, the key choice (the caller's own key, else the studio's house key when the plan
includes one) and plan checks are the same code as the operation page; then editor.jobs.submit,
with the same quotas. Downloads go through metadata.strip_metadata / images.convert like the web
downloads (editor/download_views.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from ninja import Field, Query, Router, Schema, Status

from api import webhooks
from api.auth import token_of
from api.errors import ApiError, Error, not_found
from api.models import Webhook
from editor import images, jobs, operations
from editor.download_views import ORIGINAL, DownloadForm, attachment, encode
from editor.forms import OperationForm
from editor.models import Job, JobStatus, Result
from editor.views import current_user

router = Router(tags=["jobs"])

# One uploaded file may be at most this big (413 "too_large" above it). Photos bigger than a
# vendor takes are scaled down, as on the page; this only bounds what a request may store.
MAX_FILE_BYTES = 64 * 1024 * 1024
# Request fields that are not parameters of the operation.
FIXED_FIELDS = frozenset({"operation", "provider", "key", "webhook_url"})


class InvalidError(Error):
    errors: dict[str, list[str]] | None = None


class QuotaError(Error):
    limit: str | None = None
    resets_at: dt.datetime | None = None


class JobError(Schema):
    code: str
    message: str


class ResultOut(Schema):
    width: int
    height: int
    bytes: int
    format: str  # "jpeg", "png" or "webp"
    url: str


class JobOut(Schema):
    id: uuid.UUID
    operation: str
    provider: str
    status: str
    progress: int
    error: JobError | None
    params: dict[str, Any]
    created_at: dt.datetime
    finished_at: dt.datetime | None
    result: ResultOut | None = Field(
        description="The first result once the job succeeded; null until then."
    )
    results: list[ResultOut] = Field(
        description="Every result (an operation may make several); the first is `result`."
    )


class JobPage(Schema):
    items: list[JobOut]
    next: str | None = Field(description="The URL of the next page; null on the last one.")


class JobFilters(Schema):
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0)
    operation: str | None = None
    status: JobStatus | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


def _format_name(mime: str) -> str:
    media = images.BY_MIME.get(mime)
    return media.format.lower() if media else mime


def _result_out(job: Job, result: Result, base: str) -> ResultOut:
    path = reverse("api-v1:job_result", args=[job.pk])
    query = f"?position={result.position}" if result.position else ""
    return ResultOut(
        width=result.width,
        height=result.height,
        bytes=result.bytes,
        format=_format_name(result.media_type),
        url=f"{base}{path}{query}",
    )


def job_out(job: Job, base: str) -> JobOut:
    """A job as the API (and its webhooks) show it. ``base``: scheme and host for URLs."""
    done = job.status == JobStatus.SUCCEEDED
    results = [_result_out(job, r, base) for r in job.results.all()] if done else []
    failed = job.status == JobStatus.FAILED
    return JobOut(
        id=job.pk,
        operation=job.operation,
        provider=job.provider,
        status=job.status,
        progress=job.progress,
        error=JobError(code=job.error_code or "failed", message=job.error_message)
        if failed
        else None,
        params=job.params,
        created_at=job.created_at,
        finished_at=job.finished_at,
        result=results[0] if results else None,
        results=results,
    )


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def get_job_for_token(request: HttpRequest, job_id: uuid.UUID) -> Job:
    """The caller's job; anyone else's is the same 404 as one that does not exist."""
    job = Job.objects.filter(pk=job_id, owner=current_user(request)).first()
    if job is None:
        raise not_found("No such job.")
    return job


# --- Submitting ----------------------------------------------------------------------------


def _invalid(errors: dict[str, list[str]]) -> ApiError:
    field, messages = next(iter(errors.items()))
    return ApiError(422, "invalid", f"{field}: {messages[0]}", errors=errors)


def _operation(data: QueryDict) -> operations.Operation:
    slug = data.get("operation", "")
    if not slug:
        raise _invalid({"operation": ["This field is required."]})
    try:
        return operations.get(slug)
    except KeyError:
        known = ", ".join(o.slug for o in operations.OPERATIONS)
        raise _invalid({"operation": [f"Unknown operation {slug!r}. Known: {known}."]}) from None


def _form_input(
    request: HttpRequest, operation: operations.Operation
) -> tuple[QueryDict, MultiValueDict[str, UploadedFile]]:
    """The request in the form's names: parameters keep theirs, a file role ``r`` becomes
    ``file_r``. Anything the operation does not declare is refused, so a typo is an error
    rather than a default silently used (and the page's draft and reuse fields stay out)."""
    params = {param.name: param for param in operation.params}
    roles = {spec.role for spec in operation.files}
    # A file part without a file name arrives as a plain field: say what to send instead.
    as_text = sorted(role for role in roles if role in request.POST)
    if as_text:
        raise _invalid(
            {
                role: ["Send the photo as a file (a multipart part with a file name)."]
                for role in as_text
            }
        )
    unknown = sorted(
        {name for name in request.POST if name not in FIXED_FIELDS and name not in params}
        | {name for name in request.FILES if name not in roles}
    )
    if unknown:
        raise _invalid({name: [f"{operation.slug} takes no field {name!r}."] for name in unknown})
    data = QueryDict(mutable=True)
    for name in request.POST:
        if name == "webhook_url":
            continue
        values = request.POST.getlist(name)
        param = params.get(name)
        if param is not None and param.kind == "colors":
            # Comma-separated, or the field repeated: both become the page's "A, B" text.
            data[name] = ",".join(values)
        else:
            data[name] = values[-1]
    for name, param in params.items():
        # The page sends every field filled with its default; a script sends what it changes.
        if name not in data and param.default not in (None, ""):
            default = param.default
            data[name] = ",".join(default) if isinstance(default, tuple) else str(default)
    files: MultiValueDict[str, UploadedFile] = MultiValueDict()
    for role in roles:
        uploads = request.FILES.getlist(role)
        for upload in uploads:
            if (upload.size or 0) > MAX_FILE_BYTES:
                raise ApiError(
                    413,
                    "too_large",
                    f"{role}: the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.",
                    max_bytes=MAX_FILE_BYTES,
                )
        if len(uploads) > 1:
            raise _invalid({role: ["Send one photo per job."]})
        if uploads:
            files.setlist(f"file_{role}", uploads)
    return data, files


def _form_errors(form: OperationForm) -> ApiError:
    """A field's error first (a bad ``key`` explains a missing key), then the form's own."""
    fields = {name: errors for name, errors in form.errors.items() if name != "__all__"}
    if fields:
        return _invalid(
            {
                name.removeprefix("file_"): [str(m) for m in errors]
                for name, errors in fields.items()
            }
        )
    for error in form.non_field_errors().as_data():
        if error.code in ("no_key", "not_in_plan"):
            return ApiError(422, str(error.code), error.messages[0])
    errors: dict[str, list[str]] = {}
    for name, messages in form.errors.items():
        field = "request" if name == "__all__" else name.removeprefix("file_")
        errors[field] = [str(message) for message in messages]
    return _invalid(errors)


SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["operation", "image"],
                    "properties": {
                        "operation": {"type": "string", "description": "An operation's slug."},
                        "provider": {
                            "type": "string",
                            "description": "One of the operation's providers; default: the "
                            "first one your plan allows.",
                        },
                        "key": {
                            "type": "string",
                            "format": "uuid",
                            "description": "The id of one of your vault keys; default: your "
                            "most recently used key for the vendor, else the studio's house "
                            "key if your plan includes it.",
                        },
                        "webhook_url": {
                            "type": "string",
                            "format": "uri",
                            "description": "https URL called when the job ends (see the "
                            "API description).",
                        },
                        "image": {"type": "string", "format": "binary"},
                        "style": {"type": "string", "format": "binary"},
                        "ref": {"type": "string", "format": "binary"},
                        "mask": {"type": "string", "format": "binary"},
                    },
                    "additionalProperties": {"type": "string"},
                }
            }
        },
    }
}


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
        "`webhook_url`. A `colors` parameter is hex colors separated by commas "
        "(`DB0D0D,0E0CBB`) or the field repeated once per color. The same checks as the "
        "operation page apply. Errors: an unknown operation or field, a bad parameter or "
        "photo: 422 `invalid` with `errors` by field; no key for the vendor: 422 `no_key`; "
        "an operation your plan does not include: 422 `not_in_plan`; a file over 64 MB: 413 "
        "`too_large`; a quota: 429 `quota_exceeded` with `limit` and `resets_at`. Answers 202 "
        "with the job and its URL in `Location`."
    ),
    openapi_extra=SUBMIT_BODY,
)
def submit_job(request: HttpRequest, response: HttpResponse) -> Status[JobOut]:
    operation = _operation(request.POST)
    webhook_url = request.POST.get("webhook_url", "").strip()
    if webhook_url:
        webhooks.check_url(webhook_url)
    data, files = _form_input(request, operation)
    form = OperationForm(operation, current_user(request), data, files)
    if not data.get("provider"):
        data["provider"] = form.offered_providers[0].name
    if not form.is_valid():
        raise _form_errors(form)
    with transaction.atomic():
        job = jobs.submit(
            owner=form.user,
            operation=form.operation,
            provider=form.chosen_provider(),
            params=form.params,
            files=form.files_by_role,
            key=form.key_to_use,
            photo_name=form.photo_name,
        )
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
        raise _invalid({name: ["Give a date and time between the years 1 and 9999."]}) from None


@router.get(
    "/jobs",
    response={200: JobPage, 401: Error, 422: InvalidError},
    summary="Your jobs, newest first",
    description=(
        "Paginated by `limit` (1-100, default 20) and `offset`; `next` is the URL of the next "
        "page. Filters: `operation`, `status`, `created_after`, `created_before` (ISO 8601)."
    ),
)
def list_jobs(request: HttpRequest, filters: Query[JobFilters]) -> JobPage:
    found = Job.objects.filter(owner=current_user(request))
    if filters.operation:
        found = found.filter(operation=filters.operation)
    if filters.status:
        found = found.filter(status=filters.status)
    if filters.created_after:
        found = found.filter(created_at__gt=_instant("created_after", filters.created_after))
    if filters.created_before:
        found = found.filter(created_at__lt=_instant("created_before", filters.created_before))
    page = list(
        found.order_by("-created_at", "-pk").prefetch_related("results")[
            filters.offset : filters.offset + filters.limit + 1
        ]
    )
    next_url = None
    if len(page) > filters.limit:
        page = page[: filters.limit]
        query = request.GET.copy()
        query["offset"] = str(filters.offset + filters.limit)
        next_url = request.build_absolute_uri(f"{request.path}?{urlencode(list(query.items()))}")
    base = _base(request)
    return JobPage(items=[job_out(job, base) for job in page], next=next_url)


@router.get(
    "/jobs/{job_id}",
    response={200: JobOut, 401: Error, 404: Error, 422: InvalidError},
    summary="One job",
    url_name="job",
)
def get_job(request: HttpRequest, job_id: uuid.UUID) -> JobOut:
    return job_out(get_job_for_token(request, job_id), _base(request))


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
        "converted copy. `position` picks a later result of a job that has several. 404 until "
        "the job has succeeded."
    ),
    url_name="job_result",
    openapi_extra=RESULT_RESPONSES,
)
def job_result(
    request: HttpRequest,
    job_id: uuid.UUID,
    format: str = ORIGINAL,
    quality: int | None = None,
    position: int = 0,
) -> HttpResponse:
    job = get_job_for_token(request, job_id)
    result = (
        job.results.filter(position=position).first() if job.status == JobStatus.SUCCEEDED else None
    )
    if result is None or not result.file.name or not default_storage.exists(result.file.name):
        raise not_found("This job has no result yet.")
    form = DownloadForm({"format": format, "quality": "" if quality is None else str(quality)})
    if not form.is_valid():
        errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        raise _invalid(errors)
    with default_storage.open(result.file.name, "rb") as handle:
        data: bytes = handle.read()
    try:
        body, fmt = encode(data, form.cleaned_data)
    except images.ImageRejected as rejected:
        raise ApiError(422, "unreadable", f"This result cannot be downloaded: {rejected}") from None
    return attachment(result, body, fmt)


# --- Changing ------------------------------------------------------------------------------


@router.post(
    "/jobs/{job_id}/cancel",
    response={200: JobOut, 401: Error, 404: Error, 409: Error, 422: InvalidError},
    summary="Cancel a job",
    description="Stops a job under way and refunds its credits. A job that ended is a 409.",
)
def cancel_job(request: HttpRequest, job_id: uuid.UUID) -> JobOut:
    job = get_job_for_token(request, job_id)
    if not jobs.cancel(job):
        raise ApiError(409, "not_active", "This job has ended already.")
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
def retry_job(request: HttpRequest, job_id: uuid.UUID) -> JobOut:
    job = get_job_for_token(request, job_id)
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELED):
        raise ApiError(409, "not_retryable", "Only a failed or canceled job can run again.")
    job = jobs.retry(job)
    if job.status != JobStatus.QUEUED:
        raise ApiError(409, "not_retryable", "Only a failed or canceled job can run again.")
    return job_out(job, _base(request))


@router.delete(
    "/jobs/{job_id}",
    response={204: None, 401: Error, 404: Error, 422: InvalidError},
    summary="Delete a job",
    description="Cancels it if under way (credits refunded), then deletes it and its files.",
)
def delete_job(request: HttpRequest, job_id: uuid.UUID) -> Status[None]:
    jobs.delete(get_job_for_token(request, job_id))
    return Status(204, None)
