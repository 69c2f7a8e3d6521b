"""Company sign-in through allauth's OpenID Connect provider: the studio's side of it.

- a person of a domain whose ``SignInRule`` names another provider is refused;
- an email is required (the studio's accounts are keyed on it), and is trusted as verified only
  from the provider that a rule names for its domain (so a provider cannot claim someone else's
  address and take over their account);
- every failure (the provider answered an error, its token did not verify, it could not be
  reached) brings the person back to the sign-in page with a message that says what happened,
  and is logged with the provider's id and the kind of error, never a token or a secret;
- at each company sign-in the provider's groups claim sets the person's company plan.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.base import AuthError
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts import audit, signin
from accounts.models import AuditAction, User

logger = logging.getLogger(__name__)


def back_to_sign_in(request: HttpRequest, message: str) -> ImmediateHttpResponse:
    messages.error(request, message)
    return ImmediateHttpResponse(HttpResponseRedirect(reverse("account_login")))


def claimed_email(sociallogin: SocialLogin) -> str:
    addresses = [address.email for address in sociallogin.email_addresses if address.email]
    return str(getattr(sociallogin.user, "email", "") or (addresses[0] if addresses else ""))


class SocialAccountAdapter(DefaultSocialAccountAdapter):  # type: ignore[misc]
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # The company vouches for its people: its sign-in makes an account even when open
        # registration (ACCOUNT_ALLOW_REGISTRATION) is off.
        return True

    def is_email_verified(self, provider: Any, email: str) -> bool:
        rule = signin.rule_for(email or "")
        if rule is not None and rule.provider_id == getattr(provider, "sub_id", None):
            return True
        return bool(super().is_email_verified(provider, email))

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        provider_id = sociallogin.account.provider
        name = signin.provider_name(provider_id)
        email = claimed_email(sociallogin)
        if not email:
            logger.warning("company sign-in without an email claim (provider %s)", provider_id)
            raise back_to_sign_in(
                request,
                _(
                    "%(provider)s did not give the studio your email address, which it needs "
                    "to sign you in. Ask your company's administrator to share the email claim "
                    "with the studio."
                )
                % {"provider": name},
            )
        rule = signin.rule_for(email)
        if rule is not None and rule.required and rule.provider_id != provider_id:
            raise back_to_sign_in(
                request,
                _("People at %(domain)s sign in with %(provider)s.")
                % {"domain": rule.domain, "provider": signin.provider_name(rule.provider_id)},
            )

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: str | None = None,
        exception: Exception | None = None,
        extra_context: dict[str, Any] | None = None,
    ) -> None:
        provider_id = str(getattr(provider, "sub_id", "") or getattr(provider, "id", ""))
        name = signin.provider_name(provider_id)
        # The kind of error only: an exception's text may quote what the provider sent.
        logger.warning(
            "company sign-in failed (provider %s, error %s, %s)",
            provider_id,
            error,
            type(exception).__name__ if exception else "no exception",
        )
        if error == AuthError.CANCELLED:
            message = _("Signing in with %(provider)s was cancelled.")
        elif exception is None and error == AuthError.UNKNOWN and request.GET.get("error"):
            message = _("%(provider)s refused the sign-in. Please try again or ask your admin.")
        elif isinstance(exception, requests.RequestException):
            message = _("%(provider)s could not be reached. Please try again in a moment.")
        elif exception is not None:
            message = _(
                "The answer from %(provider)s could not be verified, so you were not signed in. "
                "Please try again or ask your admin."
            )
        else:
            message = _("Signing in with %(provider)s did not work. Please try again.")
        raise back_to_sign_in(request, message % {"provider": name})


def apply_company_plan(sender: object, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """On allauth's ``user_logged_in``: after a company sign-in, the plan of the person's
    highest-priority mapped group becomes their company plan (none when no group maps)."""
    sociallogin = kwargs.get("sociallogin")
    if sociallogin is None:
        return
    provider_id = sociallogin.account.provider
    extra = sociallogin.account.extra_data or {}
    claims = [extra.get("userinfo") or {}, extra.get("id_token") or {}, extra]
    groups = signin.claimed_groups(claims, signin.groups_claim(provider_id))
    plan = signin.plan_for_groups(provider_id, groups)
    plan_id = plan.pk if plan is not None else None
    if user.company_plan_id == plan_id:
        return
    User.objects.filter(pk=user.pk).update(company_plan=plan)
    user.company_plan = plan
    audit.record(
        AuditAction.PLAN_ASSIGNED,
        user,
        request=request,
        details={
            "plan": plan.name if plan else None,
            "from": "company groups",
            "provider": provider_id,
        },
    )


class CompanySignInErrors:
    """Middleware for allauth's "continue to the provider" page:

    - its form posts, then is redirected to the provider, which the studio's CSP
      ``form-action 'self'`` would block: that one page also allows the provider's origin (its
      issuer's; the authorization endpoint is expected there);
    - the provider's discovery document is read when the person sets off, outside allauth's
      error handling: a provider that cannot be reached or answers nonsense sends them back to
      the sign-in page with a message instead of a 500.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        match = request.resolver_match
        if match is not None and match.url_name == "openid_connect_login":
            origin = signin.provider_origin(str(match.kwargs.get("provider_id", "")))
            if origin:
                response._csp_update = {"form-action": [origin]}  # type: ignore[attr-defined]
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or match.url_name != "openid_connect_login":
            return None
        if not isinstance(exception, (requests.RequestException, ValueError, KeyError)):
            return None
        provider_id = str(match.kwargs.get("provider_id", ""))
        logger.warning(
            "company sign-in could not start (provider %s, %s)",
            provider_id,
            type(exception).__name__,
        )
        messages.error(
            request,
            _("%(provider)s could not be reached. Please try again in a moment.")
            % {"provider": signin.provider_name(provider_id)},
        )
        return HttpResponseRedirect(reverse("account_login"))
