"""Bearer-token authentication for the API, with a rate limit per token.

A request names its token in ``Authorization: Bearer <token>``; an unknown or revoked token is
a 401. Each token may make ``API_RATE_LIMIT`` requests (allauth's cache-based limiter, the one
that throttles logins, so every web process shares the count).
"""

from __future__ import annotations

from allauth.core.internal import ratelimit
from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from api.errors import ApiError
from api.models import ApiToken


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = ApiToken.find(token)
        if found is None:
            return None
        usage = ratelimit.consume(
            request,
            app="api",
            action="request",
            key=str(found.pk),
            config={"request": settings.API_RATE_LIMIT},
            limit_get=True,
        )
        if usage is None:
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
