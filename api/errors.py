"""Every API error is JSON ``{"code": ..., "message": ...}`` with a fitting status.

Views raise ``ApiError`` (or let ``Http404`` from editor.access, ``QuotaExceeded`` and
``StorageUnavailable`` through);
``install`` maps those and django-ninja's own errors (validation, authentication) to that shape.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts.quotas import QuotaExceeded
from editor import storage

# How soon a client may try again when the storage would not take its photos.
STORAGE_RETRY_AFTER_S = 60


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def not_found(message: str | None = None) -> ApiError:
    return ApiError(404, "not_found", _("Not found.") if message is None else message)


def _reply(api: NinjaAPI, request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


def install(api: NinjaAPI) -> None:
    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, error: ApiError) -> HttpResponse:
        response = _reply(
            api,
            request,
            error.status,
            {"code": error.code, "message": error.message, **error.extra},
        )
        if error.status == 429 and "retry_after" in error.extra:
            response["Retry-After"] = str(error.extra["retry_after"])
        return response

    @api.exception_handler(QuotaExceeded)
    def quota(request: HttpRequest, error: QuotaExceeded) -> HttpResponse:
        resets: dt.datetime | None = error.resets_at
        return _reply(
            api,
            request,
            429,
            {
                "code": "quota_exceeded",
                "message": error.message,
                "limit": error.limit,
                "resets_at": resets.isoformat() if resets else None,
            },
        )

    @api.exception_handler(storage.StorageUnavailable)
    def unavailable(request: HttpRequest, error: storage.StorageUnavailable) -> HttpResponse:
        response = _reply(
            api, request, 503, {"code": "storage_unavailable", "message": error.message}
        )
        response["Retry-After"] = str(STORAGE_RETRY_AFTER_S)
        return response

    @api.exception_handler(ValidationError)
    def invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
        first = error.errors[0] if error.errors else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        message = f"{where}: {first.get('msg', 'invalid')}"
        return _reply(
            api, request, 422, {"code": "invalid", "message": message, "errors": error.errors}
        )

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
        response = _reply(
            api,
            request,
            401,
            {
                "code": "unauthenticated",
                "message": _("Send a valid personal access token: Authorization: Bearer <token>."),
            },
        )
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    @api.exception_handler(Http404)
    def missing(request: HttpRequest, error: Http404) -> HttpResponse:
        # editor.access says what was not found ("No such job."), the same for someone else's.
        message = str(error) if error.args else _("Not found.")
        return _reply(api, request, 404, {"code": "not_found", "message": message})

    @api.exception_handler(MultiPartParserError)
    def unreadable_body(request: HttpRequest, error: MultiPartParserError) -> HttpResponse:
        # Django's own answer is an HTML page: a client of the API gets the same JSON as always.
        return _reply(
            api,
            request,
            400,
            {
                "code": "unreadable_body",
                "message": _(
                    "The request body could not be read as multipart/form-data: "
                    "check its Content-Type boundary and its parts."
                ),
            },
        )

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
        return _reply(
            api, request, error.status_code, {"code": "error", "message": str(error.message)}
        )
