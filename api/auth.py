"""Bearer-token authentication for the API, with a rate limit per token.

A request names its token in ``Authorization: Bearer <token>``; an unknown or revoked token is
a 401. Each token may make ``API_RATE_LIMIT`` requests in any window of its length, every
method counted, in the limiter (limiter/: atomic on Redis or the database, shared by every web
process); the 429 says in ``Retry-After`` exactly when the next request is allowed.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja.security import HttpBearer

from api.errors import ApiError
from api.models import ApiToken
from limiter import core as limiter


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = ApiToken.find(token)
        if found is None:
            return None
        rate = limiter.rates_by(settings.API_RATE_LIMIT).get("key", limiter.NO_BUDGET)
        try:
            slot = limiter.take(limiter.budget_name("api-token", str(found.pk)), rate)
        except limiter.StoreDown:
            raise ApiError(
                503,
                "unavailable",
                _("The API cannot take requests for a moment. Try again soon."),
            ) from None
        if not slot.go:
            wait = math.ceil(slot.wait)
            raise ApiError(
                429,
                "rate_limited",
                ngettext(
                    "Too many requests with this token. Try again in %(count)d second.",
                    "Too many requests with this token. Try again in %(count)d seconds.",
                    wait,
                )
                % {"count": wait},
                retry_after=wait,
            )
        found.touch()
        request.user = found.owner
        return found


def token_of(request: HttpRequest) -> ApiToken:
    """The token the request was authenticated with (ninja keeps it in ``request.auth``)."""
    token = getattr(request, "auth", None)
    assert isinstance(token, ApiToken)
    return token
