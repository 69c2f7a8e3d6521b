"""Bearer-token authentication for the API, with a rate limit per token.

A request names its token in ``Authorization: Bearer <token>``; an unknown or revoked token is
a 401. Each token may make ``API_RATE_LIMIT`` requests a window, every method counted
(django-ratelimit, counted in the shared cache so every web process shares the count).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from ninja.security import HttpBearer

from api.errors import ApiError
from api.models import ApiToken


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = ApiToken.find(token)
        if found is None:
            return None
        usage = get_usage(
            request,
            group="api.token",
            key=lambda group, request: str(found.pk),
            rate=settings.API_RATE_LIMIT,
            method=ALL,
            increment=True,
        )
        if usage is not None and usage["should_limit"]:
            raise ApiError(
                429,
                "rate_limited",
                "Too many requests with this token. Slow down and try again in a minute.",
                retry_after=60,
            )
        found.touch()
        request.user = found.owner
        return found


def token_of(request: HttpRequest) -> ApiToken:
    """The token the request was authenticated with (ninja keeps it in ``request.auth``)."""
    token = getattr(request, "auth", None)
    assert isinstance(token, ApiToken)
    return token
