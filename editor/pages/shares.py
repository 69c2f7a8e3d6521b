"""Share links: a person makes a public link to one result, lists, copies and revokes their
links (one, or all at once); anyone with the link sees that result (and the photo it came from,
when allowed). A link to an album (made on the album's page, editor.pages.albums) opens here
too: the album's photos as a gallery with a full-screen viewer (static/js/album.js), each photo
on its own, and the whole album as a streamed ZIP (editor.albums.zip_stream).

The public side answers unknown, expired and revoked tokens with the same 404 page. A
password is checked by editor.shares.unlock, in budgets of its own (never the sign-in ones):
per link and address, a few tries at once and then growing delays (1 s, 2 s, 4 s… up to a cap);
per link, a growing delay for addresses that already failed on it once many have. A refused try
gets a 429 with ``Retry-After`` and a message saying when; the owner sees the wrong passwords
counted on the link's row. A page unlocked with the password stays unlocked for that browser's
session. Every public answer carries ``noindex`` and is not stored by shared caches; the
studio's referrer policy (same-origin) keeps the address from other sites. (``no-referrer``
would make browsers send ``Origin: null`` with the password form, which CSRF protection
rightly refuses.) Images leave without their EXIF or GPS (``editor.metadata.strip_metadata``),
with their ICC profile. Making and revoking links is editor.shares', shared with the API.
"""

from __future__ import annotations

import uuid

from allauth.account.adapter import get_adapter
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.http import AuthenticatedHttpRequest, HtmxHttpRequest
from editor import access, albums, images, media, metadata, operations, shares
from editor.forms import ShareForm
from editor.models import Album, AlbumItem, JobStatus, ShareLink
from limiter import wording
from limiter.core import StoreDown

# Session key: the ids of password-protected links this browser has unlocked.
UNLOCKED = "unlocked_share_links"
PUBLIC_HEADERS = {
    "X-Robots-Tag": "noindex, nofollow",
    # The address is the secret: no shared cache keeps the page, and a revoked link stops
    # working at once.
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
}


class UnlockForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )


# --- The owner's side --------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def share_new(
    request: AuthenticatedHttpRequest, job_id: uuid.UUID, result_id: uuid.UUID
) -> HttpResponse:
    """The form for a new link to one result; a made link is shown on the list of links."""
    result = access.get_result_for_user(request.user, job_id, result_id)
    if result.job.status != JobStatus.SUCCEEDED:
        raise Http404
    form = ShareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        link, _token = shares.make(
            request,
            result,
            lifetime=form.cleaned_data["lifetime"],
            password=form.cleaned_data["password"],
            include_original=form.cleaned_data["include_original"],
        )
        messages.success(request, _("Link made. Copy it and send it to whoever should see it."))
        return redirect(f"{reverse('editor:shares')}?made={link.pk}#share-{link.pk}")
    return render(
        request,
        "editor/share_new.html",
        {
            "form": form,
            "result": result,
            "operation_label": operations.label_of(result.job.operation),
        },
        status=400 if form.errors else 200,
    )


@require_GET
@login_required
def share_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The person's links, newest first, a page at a time, each with its address to copy."""
    links = ShareLink.objects.filter(owner=request.user).select_related("result__job", "album")
    page = Paginator(links, shares.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "editor/shares.html",
        {
            "page": page,
            "rows": [_row(request, link) for link in page.object_list],
            "made": request.GET.get("made", ""),
        },
    )


def _row(request: HttpRequest, link: ShareLink) -> dict[str, object]:
    token = link.token
    return {
        "link": link,
        "url": shares.url(request, token) if token else "",
        "label": link.album.title
        if link.album is not None
        else operations.label_of(link.result.job.operation if link.result else ""),
    }


@require_POST
@login_required
@vary_on_headers("HX-Request")
def share_revoke(request: HtmxHttpRequest, link_id: uuid.UUID) -> HttpResponse:
    link = access.get_share_link_for_user(request.user, link_id)
    shares.revoke(request, link)
    if request.htmx:
        return render(request, "editor/shares.html#row", {"row": _row(request, link)})
    messages.success(request, _("Link revoked. It no longer opens."))
    return redirect("editor:shares")


@require_POST
@login_required
def share_revoke_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Revoke every live link the person has made, to results and albums alike."""
    count = shares.revoke_all(request, request.user)
    messages.success(
        request,
        ngettext("%(count)d link revoked.", "%(count)d links revoked.", count) % {"count": count},
    )
    return redirect("editor:shares")


# --- The public side -----------------------------------------------------------------------


def _missing(request: HttpRequest) -> HttpResponse:
    """One answer for every token that does not open: unknown, expired or revoked."""
    return _public(render(request, "editor/share_missing.html", status=404))


def _public(response: HttpResponse) -> HttpResponse:
    for header, value in PUBLIC_HEADERS.items():
        response[header] = value
    return response


def _unlocked(request: HttpRequest, link: ShareLink) -> bool:
    return not link.has_password or str(link.pk) in request.session.get(UNLOCKED, [])


def _source_name(link: ShareLink) -> str | None:
    if link.result is None:
        return None
    job = link.result.job
    name = job.prepared.get("image") or job.inputs.get("image")
    return str(name) if name else None


@require_http_methods(["GET", "POST"])
def shared(request: HttpRequest, token: str) -> HttpResponse:
    link = ShareLink.find(token)
    if link is None:
        return _missing(request)
    if not _unlocked(request, link):
        return _password_page(request, link, token)
    if request.method == "POST":
        return redirect("editor:shared", token=token)
    link.count_view()
    if link.album is not None:
        return _shared_album(request, link, token)
    result = link.result
    assert result is not None  # a link opens a result or an album (a database constraint)
    image_url = reverse("editor:shared_file", args=[token, "result"])
    return _public(
        render(
            request,
            "editor/shared.html",
            {
                "link": link,
                "result": result,
                "title": operations.label_of(result.job.operation),
                "page_url": shares.url(request, token),
                "image_url": image_url,
                # Link previews fetch the image without a session: only for open links.
                "preview_url": "" if link.has_password else request.build_absolute_uri(image_url),
                "original_url": reverse("editor:shared_file", args=[token, "original"])
                if link.include_original and _source_name(link)
                else "",
                "download_url": f"{image_url}?download=1",
            },
        )
    )


def _password_page(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    form = UnlockForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        return _password_form(request, form, 200)
    address = get_adapter(request).get_client_ip(request)
    try:
        unlocked = shares.unlock(address, link, form.cleaned_data["password"])
    except StoreDown:
        form.add_error(
            "password", _("Passwords cannot be checked for a moment. Please try again shortly.")
        )
        return _password_form(request, form, 503)
    if unlocked.opened:
        request.session[UNLOCKED] = [*request.session.get(UNLOCKED, []), str(link.pk)][-50:]
        return _public(redirect("editor:shared", token=token))
    if unlocked.wait > 0:
        form.add_error(
            "password",
            _("Too many wrong passwords. You can try again %(when)s.")
            % {"when": wording.in_words(unlocked.wait)},
        )
        response = _password_form(request, form, 429)
        response["Retry-After"] = str(wording.retry_after(unlocked.wait))
        return response
    form.add_error("password", _("That password is not right."))
    return _password_form(request, form, 403)


def _password_form(request: HttpRequest, form: UnlockForm, status: int) -> HttpResponse:
    return _public(render(request, "editor/shared_password.html", {"form": form}, status=status))


@require_GET
def shared_file(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    """The shared result (``kind`` "result") or its original ("original", when allowed), inline
    or, with ``?download=1``, as an attachment. Always without EXIF or GPS."""
    link = ShareLink.find(token)
    if link is None or link.result is None or not _unlocked(request, link):
        return _missing(request)
    if kind == "result":
        name: str | None = link.result.file.name
    elif kind == "original" and link.include_original:
        name = _source_name(link)
    else:
        return _missing(request)
    if not name or not default_storage.exists(name):
        return _missing(request)
    with default_storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    try:
        body = metadata.strip_metadata(data)
    except images.ImageRejected:
        return _missing(request)
    fmt = images.format_of(body)
    response = HttpResponse(body, content_type=images.MEDIA_TYPES[fmt])
    download = bool(request.GET.get("download")) and kind == "result"
    media.protect(
        response,
        download_name=link.result.download_name(images.EXTENSIONS[fmt]) if download else "",
    )
    return _public(response)


# --- A shared album ----------------------------------------------------------------------------


def _shared_album(request: HttpRequest, link: ShareLink, token: str) -> HttpResponse:
    """The album as a gallery with a full-screen viewer: its photos only, in its order."""
    album = link.album
    assert album is not None
    photos = [
        {
            "item": item,
            "url": reverse("editor:shared_album_photo", args=[token, item.pk]),
            "label": operations.label_of(item.result.job.operation),
        }
        for item in albums.items(album)
    ]
    return _public(
        render(
            request,
            "editor/shared_album.html",
            {
                "link": link,
                "album": album,
                "photos": photos,
                "zip_url": reverse("editor:shared_album_zip", args=[token]) if photos else "",
            },
        )
    )


def _album_link(request: HttpRequest, token: str) -> tuple[ShareLink, Album] | None:
    link = ShareLink.find(token)
    if link is None or link.album is None or not _unlocked(request, link):
        return None
    return link, link.album


@require_GET
def shared_album_photo(request: HttpRequest, token: str, item_id: uuid.UUID) -> HttpResponse:
    """One photo of a shared album, inline or, with ``?download=1``, as an attachment; always
    without EXIF or GPS. Only the album's own items: any other id is the same 404."""
    opened = _album_link(request, token)
    if opened is None:
        return _missing(request)
    item = (
        AlbumItem.objects.select_related("result__job").filter(pk=item_id, album=opened[1]).first()
    )
    found = albums.read_stripped(item.result) if item is not None else None
    if item is None or found is None:
        return _missing(request)
    body, fmt = found
    response = HttpResponse(body, content_type=images.MEDIA_TYPES[fmt])
    download = bool(request.GET.get("download"))
    media.protect(
        response,
        download_name=item.result.download_name(images.EXTENSIONS[fmt]) if download else "",
    )
    return _public(response)


@require_GET
def shared_album_zip(request: HttpRequest, token: str) -> HttpResponseBase:
    """The whole album as one ZIP, streamed as it is written (editor.albums.zip_stream)."""
    opened = _album_link(request, token)
    if opened is None:
        return _missing(request)
    album = opened[1]
    response = StreamingHttpResponse(albums.zip_stream(album), content_type="application/zip")
    media.protect(response, download_name=f"{slugify(album.title) or 'album'}.zip")
    for header, value in PUBLIC_HEADERS.items():
        response[header] = value
    return response
