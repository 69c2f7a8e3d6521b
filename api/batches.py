"""``POST /api/v1/batches``: many photos, one operation, in one request; one job per photo, all
or none, as the operation page's batch. The photos come under the operation's ``image`` field,
repeated; everything else as ``POST /api/v1/jobs`` takes it (api.multipart reads both), checked
by editor.submissions' one validator and started by editor.jobs.start_batch, with the same
quotas: a batch that would pass a limit starts nothing.
"""

from __future__ import annotations

import contextlib

from django.db import transaction
from ninja import Router, Status

from accounts.http import AuthenticatedHttpRequest
from api import multipart, webhooks
from api.auth import token_of
from api.idempotency import idempotent
from api.models import Webhook
from api.schemas import BatchOut, Error, InvalidError, QuotaError, batch_out
from editor import jobs

router = Router(tags=["batches"])


@router.post(
    "/batches",
    response={
        201: BatchOut,
        401: Error,
        413: Error,
        422: InvalidError,
        429: QuotaError,
    },
    summary="Start a batch: many photos, one operation",
    description=(
        "Multipart form as for POST /api/v1/jobs, with the photos under `image`, the field "
        "repeated once per photo (at most the studio's batch size, 20 unless its admins "
        "changed it). Other files (`style`, `ref`) go with every job; a mask fits one photo "
        "and cannot go with a batch. One job per photo with the same settings, all or none: "
        "a photo that fails its checks is a 422 `invalid` naming it in `errors.image`, and a "
        "batch whose jobs together would pass a quota is a 429 `quota_exceeded` and starts "
        "nothing. Jobs beyond your concurrent-jobs limit wait for a slot (status `pending`, "
        "with `queue_position` and `estimated_start`) and start in turn; only your "
        "waiting-jobs limit refuses a batch for its size (`limit` `waiting_jobs`). "
        "`webhook_url` is called as each job ends. Answers 201 with the batch and its jobs, "
        "in the order the photos were sent."
    ),
    openapi_extra=multipart.body_schema(many="image"),
)
@idempotent
def submit_batch(request: AuthenticatedHttpRequest) -> Status[BatchOut]:
    operation = multipart.operation_of(request.POST)
    webhook_url = request.POST.get("webhook_url", "").strip()
    if webhook_url:
        webhook_url = webhooks.check_url(webhook_url)
    submission = multipart.submission(request, operation, many="image")
    # The jobs and their webhooks commit together; without, jobs.start_batch's transaction is all.
    with transaction.atomic() if webhook_url else contextlib.nullcontext():
        batch, started = jobs.start_batch(submission)
        if webhook_url:
            token_hash = token_of(request).token_hash
            Webhook.objects.bulk_create(
                Webhook(job=job, url=webhook_url, token_hash=token_hash) for job in started
            )
    base = request.build_absolute_uri("/").rstrip("/")
    return Status(201, batch_out(batch, started, base))
