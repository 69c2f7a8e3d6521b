"""How private media leaves the studio: only from views that have checked who may see it.

With local storage Django streams the file itself, or, behind a proxy configured for it, hands
the sending to the proxy (``MEDIA_ACCEL=nginx``: X-Accel-Redirect to an ``internal`` location;
``MEDIA_ACCEL=sendfile``: X-Sendfile for Apache or lighttpd). With S3 storage the answer is a
redirect to a presigned URL that expires after ``AWS_QUERYSTRING_EXPIRE`` seconds, with the
content type set by us, not by the bucket. Every path sets the type and ``nosniff`` itself.

Every response that carries a file a person or a vendor gave us (inputs, results, thumbnails,
downloads, shared links, batch ZIPs) goes through ``protect``: the type we verified from the
file's own bytes and nothing a browser guesses instead, and a sandbox should one render it as
a page anyway.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase

from editor import images

# Browsers may keep what they were shown for a while, but only for the signed-in person.
PRIVATE_CACHE = "private, max-age=3600"
# A file opened as a page (an image with HTML stuck on behind, a type a browser second-guessed)
# gets a unique origin and runs no script: it reaches no cookie, session or page of ours.
SANDBOX = "sandbox"
# The JPEG quality of the copy shown for a photo browsers cannot show (a HEIC).
SHOWN_QUALITY = 90


def protect(response: HttpResponseBase, *, download_name: str = "") -> HttpResponseBase:
    """``response``, which carries a file people gave us, with the headers every such response
    has: ``nosniff`` (the declared type is the one we verified) and a CSP sandbox; with
    ``download_name``, as an attachment under that name (ours: plain ASCII, nothing to
    escape). Returns the same response."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    if download_name:
        response["Content-Disposition"] = f'attachment; filename="{download_name}"'
    return response


def private_image(name: str) -> HttpResponseBase:
    """``private_file`` for a stored photo whose type is read from its own first bytes (a
    person's upload: never from its name); 404 when it is gone."""
    if not name or not default_storage.exists(name):
        raise Http404
    found = images.sniff(_first_bytes(name, images.SNIFF_BYTES))
    if found is not None and not found.shown_by_browsers:
        return _shown_as_jpeg(name)
    return private_file(name, found.mime if found else "application/octet-stream")


def _shown_as_jpeg(name: str) -> HttpResponseBase:
    """A stored photo browsers cannot show (a HEIC) as a JPEG copy made for the occasion,
    upright and without metadata (``images.convert``, within the memory budget); 404 when it
    cannot be read."""
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    try:
        body = images.convert(data, "JPEG", SHOWN_QUALITY)
    except images.ImageRejected:
        raise Http404 from None
    response = HttpResponse(body, content_type=images.MEDIA_TYPES["JPEG"])
    response["Cache-Control"] = PRIVATE_CACHE
    return protect(response)


def _first_bytes(name: str, count: int) -> bytes:
    """The stored file's first ``count`` bytes. On S3 a ranged GET: opening the file there would
    download all of it (a 48 MP photo) to read 16 bytes."""
    if settings.MEDIA_STORAGE == "s3":
        s3: Any = default_storage
        ranged = s3.bucket.Object(s3._normalize_name(name)).get(Range=f"bytes=0-{count - 1}")
        data: bytes = ranged["Body"].read()
        return data
    with default_storage.open(name, "rb") as handle:
        head: bytes = handle.read(count)
    return head


def private_file(
    name: str, content_type: str, *, cache_control: str = PRIVATE_CACHE
) -> HttpResponseBase:
    """An inline response for the stored file ``name``; 404 when it is gone."""
    if not name or not default_storage.exists(name):
        raise Http404
    response: HttpResponseBase
    if settings.MEDIA_STORAGE == "s3":
        # storages.backends.s3.S3Storage: its url() takes response parameters and a lifetime.
        s3: Any = default_storage
        url = s3.url(
            name,
            parameters={"ResponseContentType": content_type, "ResponseCacheControl": "private"},
            expire=settings.AWS_QUERYSTRING_EXPIRE,
        )
        response = HttpResponseRedirect(url)
        # The presigned address expires: the redirect itself must not be kept.
        response["Cache-Control"] = "private, no-store"
        return protect(response)
    if settings.MEDIA_ACCEL == "nginx":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_PREFIX + quote(name)
    elif settings.MEDIA_ACCEL == "sendfile":
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = default_storage.path(name)
    else:
        response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Cache-Control"] = cache_control
    return protect(response)
