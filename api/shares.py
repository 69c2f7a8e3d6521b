"""Share links through the API: make one for a finished job's result, list yours, revoke one.

Links are made and revoked by editor.shares, like the share pages' (the same audit events). The
link's address carries its token: it is in the answer that makes the link and, like the page
of links, in the list for links that still open; never for revoked or expired ones.
"""

from __future__ import annotations

import uuid

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Status

from accounts.http import AuthenticatedHttpRequest
from api.errors import ApiError
from api.idempotency import idempotent
from api.schemas import Error, Page, Revoked, ShareIn, ShareOut, SharePage
from editor import access, shares
from editor.models import Job, JobStatus, Result, ShareLink

router = Router(tags=["shares"])


def describe(request: HttpRequest, link: ShareLink, token: str | None = None) -> ShareOut:
    if token is None and link.is_live:
        token = link.token or None
    return ShareOut(
        id=link.pk,
        job=link.result.job_id if link.result is not None else None,
        result=link.result_id,
        album=link.album_id,
        name=link.name,
        url=shares.url(request, token) if token else None,
        expires_at=link.expires_at,
        has_password=link.has_password,
        include_original=link.include_original,
        views=link.views,
        failed_passwords=link.failed_passwords,
        last_failed_password_at=link.last_failed_password_at,
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
        raise ApiError(422, "invalid", _("result: this job has no such result."), field="result")
    return found


@router.post(
    "/jobs/{job_id}/shares",
    response={201: ShareOut, 401: Error, 404: Error, 409: Error, 422: Error},
    summary="Share a job's result by link",
    description="Only for a job that succeeded (409 otherwise). The answer's `url` holds the "
    "link's secret token: send it to whoever should see the result.",
)
@idempotent
def create_share(
    request: AuthenticatedHttpRequest, job_id: uuid.UUID, body: ShareIn
) -> Status[ShareOut]:
    job = access.get_job_for_user(request.user, job_id)
    if job.status != JobStatus.SUCCEEDED:
        raise ApiError(
            409,
            "not_succeeded",
            _("Only a job that succeeded can be shared; this one is %(status)s.")
            % {"status": job.status},
            job_status=job.status,
        )
    result = _result(job, body.result)
    link, token = shares.make(
        request,
        result,
        lifetime=body.expires_in,
        password=body.password,
        include_original=body.include_original,
    )
    return Status(201, describe(request, link, token))


@router.get(
    "/shares",
    response={200: SharePage, 401: Error, 422: Error},
    summary="Your share links",
    description=f"Newest first, {shares.PAGE_SIZE} a page (`page`, from 1; past the last: no "
    "items).",
)
def list_shares(request: AuthenticatedHttpRequest, page: Page = 1) -> SharePage:
    links = ShareLink.objects.filter(owner=request.user).select_related("result", "album")
    paginator = Paginator(links, shares.PAGE_SIZE)
    rows = paginator.page(page).object_list if page <= paginator.num_pages else []
    return SharePage(items=[describe(request, link) for link in rows], count=paginator.count)


@router.post(
    "/shares/revoke-all",
    response={200: Revoked, 401: Error},
    summary="Revoke every link you have shared",
    description="Links to results and to albums alike; each stops opening at once.",
)
@idempotent
def revoke_all_shares(request: AuthenticatedHttpRequest) -> Revoked:
    return Revoked(revoked=shares.revoke_all(request, request.user))


# After /shares/revoke-all, which would otherwise be taken for a link's id.
@router.delete(
    "/shares/{share_id}",
    response={204: None, 401: Error, 404: Error},
    summary="Revoke a share link",
    description="The link stops opening at once. Revoking it again is harmless.",
)
def delete_share(request: AuthenticatedHttpRequest, share_id: uuid.UUID) -> HttpResponse:
    link = access.get_share_link_for_user(request.user, share_id)
    shares.revoke(request, link)
    return HttpResponse(status=204)
