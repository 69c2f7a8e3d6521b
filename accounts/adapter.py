from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django import forms
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from accounts.models import User
from limiter import core as limiter
from limiter import wording


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return bool(settings.ACCOUNT_ALLOW_REGISTRATION)

    # Failed sign-ins are counted in the limiter (atomic on every store; allauth's own counter
    # is a read and a write in the cache), per address and per account: whichever identifier
    # was typed, username or email, in any case, counts against the same account.

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        self._sign_in: limiter.Attempt | None = None
        try:
            self._sign_in = limiter.attempt(
                *sign_in_budgets(self.get_client_ip(request), credentials)
            )
        except limiter.StoreDown:
            raise forms.ValidationError(
                _("Signing in is not possible for a moment. Please try again shortly.")
            ) from None
        if not self._sign_in.allowed:
            # The page says it in words; the status and Retry-After say it to machines
            # (sign_in_refusals below, once the view has drawn the form again).
            request.sign_in_refused_for = self._sign_in.wait  # type: ignore[attr-defined]
            # When, not "later": the limiter knows when the budget frees. The page's "Forgot
            # your password?" link still works: a reset is not a sign-in and is not held back.
            raise forms.ValidationError(
                _(
                    "Too many failed login attempts. You can try again %(when)s, or reset "
                    "your password by email."
                )
                % {"when": wording.in_words(self._sign_in.wait)},
                code="too_many_login_attempts",
            )

    def authenticate(self, request: HttpRequest, **credentials: Any) -> User | None:
        user: User | None = super().authenticate(request, **credentials)
        attempt = getattr(self, "_sign_in", None)
        if user is not None and attempt is not None:
            # A right password does not count; a wrong one keeps its place in both budgets.
            # If the store is down the attempt stays counted: safe, and they are signed in.
            with contextlib.suppress(limiter.StoreDown):
                attempt.give_back()
        return user


def sign_in_refusals(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., Any]:
    """Middleware: a sign-in the budgets refused is a 429 with ``Retry-After``, as any other
    refusal of the studio's limits, not a 200 that only a person reading the page would
    understand. The page is the same login form with its message."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        wait = getattr(request, "sign_in_refused_for", None)
        if wait is not None and response.status_code == 200:
            response.status_code = 429
            response["Retry-After"] = str(wording.retry_after(wait))
        return response

    return middleware


def sign_in_budgets(address: str, credentials: dict[str, Any]) -> list[tuple[str, limiter.Rate]]:
    """``LOGIN_FAILED_RATE_LIMIT``: ``"10/m/ip,5/5m/key"``; the key is the account."""
    rates = limiter.rates_by(settings.LOGIN_FAILED_RATE_LIMIT)
    budgets: list[tuple[str, limiter.Rate]] = []
    if "ip" in rates:
        budgets.append((limiter.budget_name("sign-in", "ip", address), rates["ip"]))
    if "key" in rates:
        budgets.append(
            (limiter.budget_name("sign-in", "account", _account(credentials)), rates["key"])
        )
    return budgets


def forget_failed_sign_ins(sender: object, user: User, **kwargs: object) -> None:
    """On allauth's ``password_reset``: a reset by email proves the account is theirs, and the
    guesses counted were at the old password, so the account's budget starts afresh (the
    per-address one stays)."""
    rates = limiter.rates_by(settings.LOGIN_FAILED_RATE_LIMIT)
    if "key" in rates:
        with contextlib.suppress(limiter.StoreDown):
            limiter.forget(limiter.budget_name("sign-in", "account", f"user-{user.pk}"))


def _account(credentials: dict[str, Any]) -> str:
    login = str(credentials.get("email") or credentials.get("username") or "").strip()
    found = (
        User.objects.filter(Q(username__iexact=login) | Q(email__iexact=login))
        .values_list("pk", flat=True)
        .first()
    )
    # An unknown login is counted by itself (hashed: a typed password sometimes lands there).
    return f"user-{found}" if found is not None else limiter.secret(login.lower())
