"""Albums through the API: make, list, read, rename and delete albums; add, remove and order
their results; share an album by link (one, or one per person) and revoke all its links.

The work is editor.albums' and editor.shares', the same the album pages call; album links are
share links (GET /shares lists them with ``album`` set, DELETE /shares/{id} revokes one).
"""

from __future__ import annotations

import uuid

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Status

from accounts.http import AuthenticatedHttpRequest
from api.errors import ApiError
from api.idempotency import idempotent
from api.schemas import (
    AlbumIn,
    AlbumItemOut,
    AlbumOrderIn,
    AlbumOut,
    AlbumPage,
    AlbumResultIn,
    AlbumShareIn,
    Error,
    Page,
    Revoked,
    ShareOut,
)
from api.shares import describe as describe_share
from editor import access, albums, shares
from editor.models import Album, ShareLink

router = Router(tags=["albums"])


def describe(album: Album) -> AlbumOut:
    return AlbumOut(
        id=album.pk,
        title=album.title,
        items=[
            AlbumItemOut(
                result=item.result_id,
                job=item.result.job_id,
                position=item.position,
                added_at=item.added_at,
            )
            for item in albums.items(album)
        ],
        deleted_results=album.deleted_results,
        created_at=album.created_at,
    )


def _refused(error: albums.AlbumError, field: str) -> ApiError:
    return ApiError(422, "invalid", f"{field}: {error}", field=field)


@router.get(
    "/albums",
    response={200: AlbumPage, 401: Error, 422: Error},
    summary="Your albums",
    description=f"Newest first, {albums.PAGE_SIZE} a page (`page`, from 1).",
)
def list_albums(request: AuthenticatedHttpRequest, page: Page = 1) -> AlbumPage:
    paginator = Paginator(Album.objects.filter(owner=request.user), albums.PAGE_SIZE)
    rows = paginator.page(page).object_list if page <= paginator.num_pages else []
    return AlbumPage(items=[describe(album) for album in rows], count=paginator.count)


@router.post("/albums", response={201: AlbumOut, 401: Error, 422: Error}, summary="Make an album")
@idempotent
def create_album(request: AuthenticatedHttpRequest, body: AlbumIn) -> Status[AlbumOut]:
    try:
        album = albums.create(request.user, body.title)
    except albums.AlbumError as error:
        raise _refused(error, "title") from None
    return Status(201, describe(album))


@router.get("/albums/{album_id}", response={200: AlbumOut, 401: Error, 404: Error})
def get_album(request: AuthenticatedHttpRequest, album_id: uuid.UUID) -> AlbumOut:
    return describe(access.get_album_for_user(request.user, album_id))


@router.patch(
    "/albums/{album_id}",
    response={200: AlbumOut, 401: Error, 404: Error, 422: Error},
    summary="Rename an album",
)
def rename_album(request: AuthenticatedHttpRequest, album_id: uuid.UUID, body: AlbumIn) -> AlbumOut:
    album = access.get_album_for_user(request.user, album_id)
    try:
        albums.rename(album, body.title)
    except albums.AlbumError as error:
        raise _refused(error, "title") from None
    return describe(album)


@router.delete(
    "/albums/{album_id}",
    response={204: None, 401: Error, 404: Error},
    summary="Delete an album and its links",
    description="Its results stay; its links are revoked first (and recorded) and then go.",
)
def delete_album(request: AuthenticatedHttpRequest, album_id: uuid.UUID) -> HttpResponse:
    album = access.get_album_for_user(request.user, album_id)
    shares.revoke_all(request, request.user, album=album)
    album.delete()
    return HttpResponse(status=204)


@router.post(
    "/albums/{album_id}/results",
    response={201: AlbumOut, 401: Error, 404: Error, 422: Error},
    summary="Add a result to an album",
    description="At the end of the album; a result already in it stays where it is.",
)
@idempotent
def add_result(
    request: AuthenticatedHttpRequest, album_id: uuid.UUID, body: AlbumResultIn
) -> Status[AlbumOut]:
    album = access.get_album_for_user(request.user, album_id)
    result = access.get_own_result(request.user, body.result)
    try:
        albums.add(album, result)
    except albums.AlbumError as error:
        raise _refused(error, "result") from None
    return Status(201, describe(album))


@router.delete(
    "/albums/{album_id}/results/{result_id}",
    response={204: None, 401: Error, 404: Error},
    summary="Take a result out of an album",
    description="The result itself stays. 404 when it is not in the album.",
)
def remove_result(
    request: AuthenticatedHttpRequest, album_id: uuid.UUID, result_id: uuid.UUID
) -> HttpResponse:
    album = access.get_album_for_user(request.user, album_id)
    result = access.get_own_result(request.user, result_id)
    if not albums.remove(album, result):
        raise ApiError(404, "not_found", _("That result is not in this album."))
    return HttpResponse(status=204)


@router.put(
    "/albums/{album_id}/order",
    response={200: AlbumOut, 401: Error, 404: Error, 422: Error},
    summary="Put an album's results in order",
)
def order_album(
    request: AuthenticatedHttpRequest, album_id: uuid.UUID, body: AlbumOrderIn
) -> AlbumOut:
    album = access.get_album_for_user(request.user, album_id)
    try:
        albums.reorder(album, [str(result_id) for result_id in body.results])
    except albums.AlbumError as error:
        raise _refused(error, "results") from None
    return describe(album)


@router.get(
    "/albums/{album_id}/shares",
    response={200: list[ShareOut], 401: Error, 404: Error},
    summary="An album's links",
)
def list_album_shares(request: AuthenticatedHttpRequest, album_id: uuid.UUID) -> list[ShareOut]:
    album = access.get_album_for_user(request.user, album_id)
    links = ShareLink.objects.filter(album=album)
    return [describe_share(request, link) for link in links]


@router.post(
    "/albums/{album_id}/shares",
    response={201: list[ShareOut], 401: Error, 404: Error, 422: Error},
    summary="Share an album by link",
    description="One link, or one per name in `names` (each with its own view count and "
    "revoke). Each answer's `url` holds the link's secret token. Visitors see the album's "
    "photos only, without location data.",
)
@idempotent
def create_album_shares(
    request: AuthenticatedHttpRequest, album_id: uuid.UUID, body: AlbumShareIn
) -> Status[list[ShareOut]]:
    album = access.get_album_for_user(request.user, album_id)
    made = []
    for name in body.names or [""]:
        link, token = shares.make(
            request, album, lifetime=body.expires_in, password=body.password, name=name
        )
        made.append(describe_share(request, link, token))
    return Status(201, made)


@router.post(
    "/albums/{album_id}/shares/revoke",
    response={200: Revoked, 401: Error, 404: Error},
    summary="Revoke every link to an album",
)
@idempotent
def revoke_album_shares(request: AuthenticatedHttpRequest, album_id: uuid.UUID) -> Revoked:
    album = access.get_album_for_user(request.user, album_id)
    return Revoked(revoked=shares.revoke_all(request, request.user, album=album))
