"""Typed requests for views.

Django types ``request.user`` as a user *or* an anonymous one. A view behind ``login_required``
(or behind the API's token authentication, which sets ``request.user`` to the token's owner)
knows better: annotating its request as ``AuthenticatedHttpRequest`` says so once, in the
signature, instead of a check in every view. ``HtmxHttpRequest`` adds what django-htmx's
middleware attaches to every request.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User


class HtmxHttpRequest(AuthenticatedHttpRequest):
    htmx: HtmxDetails
