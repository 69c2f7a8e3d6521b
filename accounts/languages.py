"""A person's language: the one they chose with the switcher (saved on their account), else
their browser's (Django's LocaleMiddleware: the language cookie, then Accept-Language).

What reaches a person from outside a request (an email, a vendor's reason for a failed job,
worded in a worker) is in ``for_user``: their choice, else their browser's when they last
signed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import get_language_from_request

from accounts.models import User

CODES = frozenset(code for code, _name in settings.LANGUAGES)


def for_user(user: User) -> str:
    """The language to word anything for ``user`` in, outside a request."""
    return user.language or user.browser_language or settings.LANGUAGE_CODE


@contextmanager
def speaking_to(user: User | None) -> Iterator[None]:
    """Word everything inside in ``user``'s language (the default language without one)."""
    with translation.override(for_user(user) if user is not None else settings.LANGUAGE_CODE):
        yield


def choose(request: HttpRequest, response: HttpResponse, code: str) -> bool:
    """The switcher: ``code`` becomes this browser's language (a cookie) and, for a signed-in
    person, their account's. False, changing nothing, for a language the studio does not speak."""
    if code not in CODES:
        return False
    user = request.user
    if user.is_authenticated:
        User.objects.filter(pk=user.pk).update(language=code)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    translation.activate(code)
    return True


def remember_browser_language(
    sender: object, request: HttpRequest | None, user: User, **_: object
) -> None:
    """On sign-in (``user_logged_in``), for a person who has chosen no language: one chosen with
    the switcher before signing in (on the sign-up page, say) becomes their account's; else the
    browser's is kept for ``for_user``. One write at sign-in, none per page."""
    if request is None or user.language:
        return
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if chosen in CODES:
        User.objects.filter(pk=user.pk).update(language=chosen)
        user.language = chosen
        return
    seen = get_language_from_request(request)
    if seen != user.browser_language:
        User.objects.filter(pk=user.pk).update(browser_language=seen)
        user.browser_language = seen


class SavedLanguage:
    """After LocaleMiddleware and the user are known: a signed-in person's saved choice wins over
    the browser's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.language in CODES:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)
