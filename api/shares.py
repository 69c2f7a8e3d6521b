"""Share links through the API: make one for a finished job's result, list yours, revoke one.

Links are made and revoked by editor.share_views' own helpers (the same audit events). The
link's address carries its token: it is in the answer that makes the link and, like the page
of links, in the list for links that still open; never for revoked or expired ones.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from accounts.models import User
from api.errors import ApiError, Error, not_found
from editor.models import Job, JobStatus, Result, ShareLink
from editor.share_views import PAGE_SIZE, make_link, revoke_link, share_url

router = Router(tags=["shares"])

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
    job: uuid.UUID
    result: uuid.UUID
    url: str | None = Field(
        description="The public address; null once the link no longer opens (or its address "
        "can no longer be decrypted)."
    )
    expires_at: dt.datetime | None
    has_password: bool
    include_original: bool
    views: int
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def current_user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def describe(request: HttpRequest, link: ShareLink, token: str | None = None) -> ShareOut:
    if token is None and link.is_live:
        token = link.token or None
    return ShareOut(
        id=link.pk,
        job=link.result.job_id,
        result=link.result_id,
        url=share_url(request, token) if token else None,
        expires_at=link.expires_at,
        has_password=link.has_password,
        include_original=link.include_original,
        views=link.views,
        created_at=link.created_at,
        revoked_at=link.revoked_at,
    )


def _result(job: Job, wanted: int | uuid.UUID | None) -> Result:
    results = job.results.all()
    if wanted is None:
        found = results.first()
    elif isinstance(wanted, int):
        found = results.filter(position=wanted).first()
    else:
        found = results.filter(pk=wanted).first()
    if found is None:
        raise ApiError(422, "invalid", "result: this job has no such result.", field="result")
    return found


@router.post(
    "/jobs/{job_id}/shares",
    response={201: ShareOut, 401: Error, 404: Error, 409: Error, 422: Error},
    summary="Share a job's result by link",
    description="Only for a job that succeeded (409 otherwise). The answer's `url` holds the "
    "link's secret token: send it to whoever should see the result.",
)
def create_share(request: HttpRequest, job_id: uuid.UUID, body: ShareIn) -> Status[ShareOut]:
    job = Job.objects.filter(pk=job_id, owner=current_user(request)).first()
    if job is None:
        raise not_found("No such job.")
    if job.status != JobStatus.SUCCEEDED:
        raise ApiError(
            409,
            "not_succeeded",
            f"Only a job that succeeded can be shared; this one is {job.status}.",
            job_status=job.status,
        )
    result = _result(job, body.result)
    link, token = make_link(
        request,
        result,
        lifetime=body.expires_in,
        password=body.password,
        include_original=body.include_original,
    )
    return Status(201, describe(request, link, token))


Page = Annotated[int, Field(ge=1, le=1_000_000)]


class SharePage(Schema):
    items: list[ShareOut]
    count: int = Field(description="How many links you have in all.")


@router.get(
    "/shares",
    response={200: SharePage, 401: Error, 422: Error},
    summary="Your share links",
    description=f"Newest first, {PAGE_SIZE} a page (`page`, from 1; past the last: no items).",
)
def list_shares(request: HttpRequest, page: Page = 1) -> SharePage:
    links = ShareLink.objects.filter(owner=current_user(request)).select_related("result")
    paginator = Paginator(links, PAGE_SIZE)
    rows = paginator.page(page).object_list if page <= paginator.num_pages else []
    return SharePage(items=[describe(request, link) for link in rows], count=paginator.count)


@router.delete(
    "/shares/{share_id}",
    response={204: None, 401: Error, 404: Error},
    summary="Revoke a share link",
    description="The link stops opening at once. Revoking it again is harmless.",
)
def delete_share(request: HttpRequest, share_id: uuid.UUID) -> HttpResponse:
    link = ShareLink.objects.filter(pk=share_id, owner=current_user(request)).first()
    if link is None:
        raise not_found("No such share link.")
    revoke_link(request, link)
    return HttpResponse(status=204)
