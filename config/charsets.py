"""Refuse a request body declared in a charset that cannot be read as text.

Django takes the ``charset`` of a request's Content-Type whenever ``codecs.lookup`` knows the
name, then decodes multipart fields with it and ``errors="replace"``. Some names it knows are
not text encodings (``rot13``, ``hex``) or refuse that error handling (``idna``): decoding then
raises LookupError or UnicodeError inside ``request.POST``, a server error on every form and
API endpoint. Such a request is a 400 before any view, CSRF check included, reads its body.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext as _


@functools.cache
def readable(encoding: str) -> bool:
    """Whether bytes can be decoded as ``encoding`` the way Django decodes request fields."""
    try:
        b"a".decode(encoding, "replace")
    except (LookupError, UnicodeError):
        return False
    return True


def refuse_unreadable_charsets(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.encoding and not readable(request.encoding):
            return HttpResponseBadRequest(
                _("The request's charset is not a text encoding the studio reads; send UTF-8."),
                content_type="text/plain; charset=utf-8",
            )
        return get_response(request)

    return middleware
