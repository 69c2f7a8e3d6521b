"""Albums: a person's list of albums, an album's page (its photos in order, moved up and down
or taken out; its links, made for anyone or one per recipient, and revoked one by one or all
at once), and "Add to album" for a result of a job. What a visitor of an album link sees is
the share pages' (editor.pages.shares). The work is editor.albums' and editor.shares'.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.http import AuthenticatedHttpRequest, HtmxHttpRequest
from editor import access, albums, operations, shares
from editor.forms import AlbumForm, AlbumShareForm
from editor.models import Album, JobStatus, ShareLink


@require_http_methods(["GET", "POST"])
@login_required
def album_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The person's albums, newest first, and the form for a new one."""
    form = AlbumForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            album = albums.create(request.user, form.cleaned_data["title"])
        except albums.AlbumError as error:
            form.add_error("title", str(error))
        else:
            return redirect("editor:album", album_id=album.pk)
    owned = Album.objects.filter(owner=request.user).prefetch_related("items__result")
    page = Paginator(owned, albums.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "editor/albums.html",
        {"form": form, "page": page},
        status=400 if form.errors else 200,
    )


def _link_rows(request: HttpRequest, album: Album) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for link in ShareLink.objects.filter(album=album).select_related("album"):
        token = link.token if link.is_live else ""
        rows.append(
            {"link": link, "url": shares.url(request, token) if token else "", "label": album.title}
        )
    return rows


def _album_page(
    request: HttpRequest,
    album: Album,
    *,
    share_form: AlbumShareForm | None = None,
    status: int = 200,
    template: str = "editor/album.html",
) -> HttpResponse:
    photos = [
        {"item": item, "label": operations.label_of(item.result.job.operation)}
        for item in albums.items(album)
    ]
    return render(
        request,
        template,
        {
            "album": album,
            "photos": photos,
            "rename_form": AlbumForm(initial={"title": album.title}),
            "share_form": share_form or AlbumShareForm(),
            "rows": _link_rows(request, album),
            "live_links": ShareLink.objects.live().filter(album=album).count(),
        },
        status=status,
    )


@require_GET
@login_required
def album_detail(request: AuthenticatedHttpRequest, album_id: uuid.UUID) -> HttpResponse:
    album = access.get_album_for_user(request.user, album_id)
    return _album_page(request, album)


@require_POST
@login_required
def album_rename(request: AuthenticatedHttpRequest, album_id: uuid.UUID) -> HttpResponse:
    album = access.get_album_for_user(request.user, album_id)
    form = AlbumForm(request.POST)
    if form.is_valid():
        try:
            albums.rename(album, form.cleaned_data["title"])
        except albums.AlbumError as error:
            messages.error(request, str(error))
    else:
        messages.error(request, _("An album needs a title of at most 120 characters."))
    return redirect("editor:album", album_id=album.pk)


@require_POST
@login_required
@vary_on_headers("HX-Request")
def album_delete(request: HtmxHttpRequest, album_id: uuid.UUID) -> HttpResponse:
    """Delete the album and, with it, its links (the results themselves stay)."""
    album = access.get_album_for_user(request.user, album_id)
    shares.revoke_all(request, request.user, album=album)  # audited, before they go
    album.delete()
    messages.success(request, _("Album deleted. Its photos are still in your gallery."))
    if request.htmx:  # asked after a confirmation: the whole page goes to the list
        return HttpResponseClientRedirect(reverse("editor:albums"))
    return redirect("editor:albums")


@require_POST
@login_required
@vary_on_headers("HX-Request")
def album_move(request: HtmxHttpRequest, album_id: uuid.UUID, result_id: uuid.UUID) -> HttpResponse:
    """Move a photo one place up or down (``direction``: up or down)."""
    album = access.get_album_for_user(request.user, album_id)
    result = access.get_own_result(request.user, result_id)
    step = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if step is None:
        raise Http404
    albums.move(album, result, step)
    if request.htmx:
        return _album_page(request, album, template="editor/album.html#photos")
    return redirect(f"{reverse('editor:album', args=[album.pk])}#photos")


@require_POST
@login_required
@vary_on_headers("HX-Request")
def album_remove(
    request: HtmxHttpRequest, album_id: uuid.UUID, result_id: uuid.UUID
) -> HttpResponse:
    """Take a photo out of the album; the result stays in the gallery."""
    album = access.get_album_for_user(request.user, album_id)
    result = access.get_own_result(request.user, result_id)
    albums.remove(album, result)
    if request.htmx:
        return _album_page(request, album, template="editor/album.html#photos")
    messages.success(request, _("Photo taken out of the album."))
    return redirect(f"{reverse('editor:album', args=[album.pk])}#photos")


@require_POST
@login_required
def album_share(request: AuthenticatedHttpRequest, album_id: uuid.UUID) -> HttpResponse:
    """Make a link to the album, or one per recipient named on the form."""
    album = access.get_album_for_user(request.user, album_id)
    form = AlbumShareForm(request.POST)
    if not form.is_valid():
        return _album_page(request, album, share_form=form, status=400)
    names: list[str] = form.cleaned_data["recipients"] or [""]
    for name in names:
        shares.make(
            request,
            album,
            lifetime=form.cleaned_data["lifetime"],
            password=form.cleaned_data["password"],
            name=name,
        )
    messages.success(
        request,
        ngettext(
            "Link made. Copy it and send it to whoever should see the album.",
            "%(count)d links made, one per person. Copy each and send it to its person.",
            len(names),
        )
        % {"count": len(names)},
    )
    return redirect(f"{reverse('editor:album', args=[album.pk])}#links")


@require_POST
@login_required
def album_revoke_all(request: AuthenticatedHttpRequest, album_id: uuid.UUID) -> HttpResponse:
    album = access.get_album_for_user(request.user, album_id)
    count = shares.revoke_all(request, request.user, album=album)
    messages.success(
        request,
        ngettext("%(count)d link revoked.", "%(count)d links revoked.", count) % {"count": count},
    )
    return redirect(f"{reverse('editor:album', args=[album.pk])}#links")


@require_http_methods(["GET", "POST"])
@login_required
def album_add(
    request: AuthenticatedHttpRequest, job_id: uuid.UUID, result_id: uuid.UUID
) -> HttpResponse:
    """Put one finished result in one of the person's albums, or in a new one."""
    result = access.get_result_for_user(request.user, job_id, result_id)
    if result.job.status != JobStatus.SUCCEEDED:
        raise Http404
    error = ""
    if request.method == "POST":
        title = request.POST.get("title", "").strip()
        try:
            if request.POST.get("album"):
                album = access.get_album_for_user(request.user, request.POST["album"])
            else:
                album = albums.create(request.user, title)
            albums.add(album, result)
        except albums.AlbumError as failure:
            error = str(failure)
        else:
            messages.success(request, _("Added to %(album)s.") % {"album": album.title})
            return redirect("editor:album", album_id=album.pk)
    return render(
        request,
        "editor/album_add.html",
        {
            "result": result,
            "label": operations.label_of(result.job.operation),
            "albums": Album.objects.filter(owner=request.user),
            "error": error,
        },
        status=400 if error else 200,
    )
