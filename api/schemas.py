"""The API's request and answer schemas (django-ninja), by noun. The OpenAPI document at
/api/v1/openapi.json is made from these.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import httpx
from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from ninja import Field, Schema
from pydantic import AfterValidator

from api.models import Webhook
from editor import fairqueue, images, jobs, keys, polling
from editor.models import ACTIVE_STATUSES, Batch, Job, JobStatus, KeyCheck, Result, Vendor


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold a NUL byte: such input is refused (422), never a failed query.
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


# Free text that is stored or queried.
Text = Annotated[str, AfterValidator(_no_nul)]

# --- Errors ----------------------------------------------------------------------------------


class Error(Schema):
    """Every error answer: the schema endpoints name for their error statuses."""

    code: str
    message: str


class InvalidError(Error):
    errors: dict[str, list[str]] | None = None


class QuotaError(Error):
    limit: str | None = None
    resets_at: dt.datetime | None = None


# --- Operations ------------------------------------------------------------------------------


class ParamOut(Schema):
    name: str
    label: str
    type: str  # "choice", "int", "float", "text", "colors"
    required: bool
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: list[str] | None = None
    max_items: int | None = None
    max_words: int | None = None
    providers: list[str] | None = None  # only for these providers; absent: every one
    when: dict[str, str] | None = None  # only when another parameter has this value
    help: str = ""


class FileOut(Schema):
    role: str
    label: str
    required: bool
    when: dict[str, str] | None = None
    providers: list[str] | None = None
    help: str = ""


class ProviderOut(Schema):
    name: str
    label: str
    vendor: str | None
    credits: int


class OperationOut(Schema):
    slug: str
    label: str
    summary: str
    default_provider: str
    providers: list[ProviderOut]
    params: list[ParamOut]
    files: list[FileOut]


# --- Jobs ------------------------------------------------------------------------------------


class JobError(Schema):
    code: str
    message: str


class JobRetry(Schema):
    code: str
    message: str
    attempts: int = Field(description="Tries that failed so far; the next one is attempts + 1.")
    next_try_at: dt.datetime | None = Field(
        description="When the next try is made; null while it is being made."
    )
    gives_up_at: dt.datetime = Field(
        description="When the job stops trying: its deadline, or, for work the vendor was "
        "already paid for, the end of one last step after it. A job still retrying then fails "
        "with the last try's error (credits refunded)."
    )


class WebhookOut(Schema):
    url: str = Field(description="Where the job's end is sent, without its query string.")
    attempts: int = Field(description="Tries of the latest delivery so far (at most 6).")
    last_status: int | None = Field(
        description="The HTTP status the receiver answered the latest try; null when it did "
        "not answer (see `last_error`) or nothing was tried yet."
    )
    last_error: str = Field(description="Why the latest try failed; empty when it succeeded.")
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None = Field(
        description="When the receiver took the latest delivery; null until then."
    )


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
    status: str = Field(
        description="`pending` (accepted and charged, waiting for one of your concurrent-jobs "
        "slots), `queued`, `running`, `waiting` (at the vendor), `storing`, then `succeeded`, "
        "`failed` or `canceled`."
    )
    progress: int
    error: JobError | None
    retrying: JobRetry | None = Field(
        description="While the job is under way after a failed try: what that try met and how "
        "many tries have failed; null otherwise. `error` is only set once the job failed."
    )
    params: dict[str, Any]
    created_at: dt.datetime
    finished_at: dt.datetime | None
    queue_position: int | None = Field(
        description="While the job is `pending`: how many of your jobs start before it (0: it "
        "starts next, when one of your running jobs ends); null otherwise."
    )
    estimated_start: dt.datetime | None = Field(
        description="While the job is `pending`: about when it starts, from how long your "
        "recent jobs took (else everyone's), the jobs before it and how many of yours run at "
        "once; null when there is nothing to go by."
    )
    estimated_finish: dt.datetime | None = Field(
        description="While the job runs at a vendor: when it should be done, from the time "
        "recent jobs of the same provider and operation took; null when there is nothing to go by."
    )
    result: ResultOut | None = Field(
        description="The first result once the job succeeded; null until then."
    )
    results: list[ResultOut] = Field(
        description="Every result (an operation may make several); the first is `result`."
    )
    webhook: WebhookOut | None = Field(
        None,
        description="The job's `webhook_url` and how its latest delivery went; null without one.",
    )


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


def job_out(
    job: Job, base: str, places: Mapping[uuid.UUID, fairqueue.Place] | None = None
) -> JobOut:
    """A job as the API (and its webhooks) show it. ``base``: scheme and host for URLs.
    ``places``: the waiting jobs' places when the caller read them for many jobs at once."""
    if places is None:
        places = fairqueue.places(job.owner_id, [job]) if job.is_pending else {}
    place = places.get(job.pk)
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
        retrying=_retry_out(job),
        params=job.params,
        created_at=job.created_at,
        finished_at=job.finished_at,
        queue_position=place.ahead if place else None,
        estimated_start=place.starts_at if place else None,
        estimated_finish=polling.estimated_finish(job),
        result=results[0] if results else None,
        results=results,
        webhook=_webhook_out(job),
    )


def _retry_out(job: Job) -> JobRetry | None:
    if job.status not in ACTIVE_STATUSES or not job.error_code:
        return None
    # The page's line, in fields: the same facts from the same domain helper.
    state = jobs.retrying(job)
    return JobRetry(
        code=job.error_code,
        message=job.error_message,
        attempts=job.attempts,
        next_try_at=state.next_try_at if state else None,
        gives_up_at=jobs.gives_up_at(job),
    )


def _webhook_out(job: Job) -> WebhookOut | None:
    try:
        webhook: Webhook = job.webhook
    except ObjectDoesNotExist:
        return None
    return WebhookOut(
        url=shown_url(webhook.url),
        attempts=webhook.attempts,
        last_status=webhook.last_status,
        last_error=webhook.last_error,
        last_attempt_at=webhook.last_attempt_at,
        delivered_at=webhook.delivered_at,
    )


def shown_url(url: str) -> str:
    """A webhook URL as the API shows it: without a query or fragment, where a receiver may
    keep its own secret (user names and passwords are refused at submit)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return ""
    return str(parsed.copy_with(query=None, fragment=None))


class JobPage(Schema):
    items: list[JobOut]
    next: str | None = Field(description="The URL of the next page; null on the last one.")


class JobFilters(Schema):
    limit: int = Field(20, ge=1, le=100)
    # Bounded: a database takes no offset past a 64-bit integer (and none this far is real).
    offset: int = Field(0, ge=0, le=1_000_000_000)
    operation: Text | None = Field(None, max_length=40)
    status: JobStatus | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


# --- Batches ---------------------------------------------------------------------------------


class BatchOut(Schema):
    id: uuid.UUID
    operation: str
    created_at: dt.datetime
    jobs: list[JobOut] = Field(
        description="One job per photo, in the order the photos were sent; each one is also "
        "at GET /api/v1/jobs/{id}."
    )


def batch_out(batch: Batch, jobs: list[Job], base: str) -> BatchOut:
    """A batch as the API shows it: its jobs (oldest first, the photos' order) in full."""
    places = fairqueue.places(batch.owner_id, jobs)
    return BatchOut(
        id=batch.pk,
        operation=batch.operation,
        created_at=batch.created_at,
        jobs=[job_out(job, base, places) for job in jobs],
    )


# --- Keys ------------------------------------------------------------------------------------


class KeyOut(Schema):
    id: uuid.UUID
    vendor: str
    label: str
    masked: str
    last_four: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    last_error: str
    monthly_credit_cap: int | None
    check_status: KeyCheck = Field(
        description="The vendor's word on the key: checked (it answered), unchecked (it could "
        "not be reached when the key was saved; checked again later and on the key's next "
        "use), refused (a later check was refused; see last_error), uncheckable (the vendor "
        "offers no check before use)."
    )
    checked_at: dt.datetime | None = Field(description="When the vendor last answered a check.")
    credits: int | None = Field(
        description="The credits the vendor said the account had at checked_at, where it says."
    )


class KeyIn(Schema):
    vendor: Vendor
    secret: str = Field(..., max_length=keys.SECRET_MAX, json_schema_extra={"writeOnly": True})
    label: Text = Field("", max_length=100, description="Optional; like “PicWish key 2” if empty.")
    monthly_credit_cap: int | None = Field(None, ge=1, le=keys.CAP_MAX)


# --- Shares ----------------------------------------------------------------------------------

Lifetime = Literal["1h", "1d", "7d", "30d", "never"]


class ShareIn(Schema):
    expires_in: Lifetime = Field(
        "7d",
        description="How long the link opens: a key of 1h, 1d, 7d, 30d, or never (until revoked).",
    )
    password: str = Field(
        "", max_length=128, description="Optional: whoever opens the link must type it."
    )
    include_original: bool = Field(False, description="Show the original photo too.")
    result: int | uuid.UUID | None = Field(
        None,
        description="Which result, by position (0 first) or id, for a job with several; "
        "the first by default.",
    )


class ShareOut(Schema):
    id: uuid.UUID
    job: uuid.UUID | None = Field(description="The shared result's job; null for an album link.")
    result: uuid.UUID | None = Field(description="The shared result; null for an album link.")
    album: uuid.UUID | None = Field(None, description="The shared album; null for a result link.")
    name: str = Field("", description="Whom the link was made for; empty for anyone.")
    url: str | None = Field(
        description="The public address; null once the link no longer opens (or its address "
        "can no longer be decrypted)."
    )
    expires_at: dt.datetime | None
    has_password: bool
    include_original: bool
    views: int
    failed_passwords: int = Field(
        description="Wrong passwords typed on the link so far (someone may be guessing)."
    )
    last_failed_password_at: dt.datetime | None = Field(
        description="When the last wrong password was typed; null if none was."
    )
    created_at: dt.datetime
    revoked_at: dt.datetime | None


Page = Annotated[int, Field(ge=1, le=1_000_000)]


class SharePage(Schema):
    items: list[ShareOut]
    count: int = Field(description="How many links you have in all.")


# --- Albums ----------------------------------------------------------------------------------


class AlbumIn(Schema):
    title: Text = Field(min_length=1, max_length=120)


class AlbumItemOut(Schema):
    result: uuid.UUID
    job: uuid.UUID
    position: int = Field(description="Its place in the album, from 0.")
    added_at: dt.datetime


class AlbumOut(Schema):
    id: uuid.UUID
    title: str
    items: list[AlbumItemOut]
    deleted_results: int = Field(
        description="Results of the album deleted since (deleting a result takes it out)."
    )
    created_at: dt.datetime


class AlbumPage(Schema):
    items: list[AlbumOut]
    count: int = Field(description="How many albums you have in all.")


class AlbumResultIn(Schema):
    result: uuid.UUID = Field(description="A finished result of yours, by id.")


class AlbumOrderIn(Schema):
    results: list[uuid.UUID] = Field(
        max_length=1000, description="Every result of the album once, in the new order."
    )


class AlbumShareIn(Schema):
    expires_in: Lifetime = Field(
        "7d",
        description="How long the links open: a key of 1h, 1d, 7d, 30d, or never (until revoked).",
    )
    password: str = Field("", max_length=128, description="Optional: whoever opens must type it.")
    names: list[Annotated[Text, Field(max_length=80)]] = Field(
        default_factory=list,
        max_length=50,
        description="One link per person, each with its own name and view count; empty for one "
        "link for anyone.",
    )


class Revoked(Schema):
    revoked: int = Field(description="How many live links were revoked.")


# --- Usage -----------------------------------------------------------------------------------


class LimitsOut(Schema):
    jobs_per_day: int
    credits_per_month: int
    storage_bytes: int
    concurrent_jobs: int
    waiting_jobs: int = Field(
        description="How many jobs may wait for a slot beyond `concurrent_jobs`; past it, a "
        "job or batch is refused."
    )
    operations: list[str] = Field(description="Operation slugs you may run; empty: every one.")
    providers: list[str] = Field(description="Providers you may use; empty: every one.")
    house_keys: bool = Field(description="Whether jobs may run on the studio's own keys.")


class UsedOut(Schema):
    jobs_today: int
    jobs_today_resets_at: dt.datetime
    credits_this_month: int
    credits_resets_at: dt.datetime
    stored_bytes: int
    running_jobs: int
    waiting_jobs: int = Field(description="Your jobs waiting for a slot now.")


class UsageOut(Schema):
    plan: str
    limits: LimitsOut
    usage: UsedOut


# --- Recipes ---------------------------------------------------------------------------------


class RecipeIn(Schema):
    name: Text
    # Checked by editor.recipes.check_steps, which names the step and field that are wrong.
    steps: list[Any]


class RecipeOut(Schema):
    id: uuid.UUID
    name: str
    studio: bool = Field(description="A studio recipe, offered to everyone; only admins change it.")
    steps: list[dict[str, Any]]
    credits: int = Field(description="What one run costs, in credits, as each step is charged.")
    created_at: dt.datetime
    updated_at: dt.datetime


class RecipeRunIn(Schema):
    jobs: list[uuid.UUID] = Field(
        description="Your succeeded jobs whose first result each run starts from (one run each).",
        min_length=1,
        max_length=20,
    )


class RecipeStepOut(Schema):
    number: int
    operation: str
    provider: str
    state: str = Field(
        description="The step's job status, or `waiting` (a step before it is not done), "
        "`stopped` (a step before it stopped the chain), `blocked` (it could not start: "
        "`reason`)."
    )
    reason: str
    job: uuid.UUID | None
    can_retry: bool


class RecipeRunOut(Schema):
    id: uuid.UUID
    recipe: uuid.UUID | None
    name: str
    status: str = Field(description="`running`, `succeeded` or `stopped`.")
    source_job: uuid.UUID | None
    batch: uuid.UUID | None = Field(
        description="The batch the run was started in with other photos, if any."
    )
    credits: int
    steps: list[RecipeStepOut]
    created_at: dt.datetime
