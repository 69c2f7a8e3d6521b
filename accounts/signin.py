"""Who signs in how: the company providers configured in ``OIDC_PROVIDERS``, the per-domain rule
that makes a provider the only way in (``SignInRule``), and the plan a person's company groups
give them (``CompanyGroupPlan``).

The password form (``LoginForm``) refuses people of a domain whose rule is ``required`` before
their password is even looked at, and sends them to their provider instead; the provider side
lives in accounts.social.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core.exceptions import ImmediateHttpResponse
from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.forms import LoginForm as StudioLoginForm
from accounts.models import CompanyGroupPlan, Plan, SignInRule, User


def providers() -> dict[str, str]:
    """The configured company sign-ins: id → the name people see. Never their secrets."""
    return {app["provider_id"]: app["name"] for app in settings.OIDC_PROVIDERS}


def provider_name(provider_id: str) -> str:
    return providers().get(provider_id, provider_id)


def groups_claim(provider_id: str) -> str:
    for app in settings.OIDC_PROVIDERS:
        if app["provider_id"] == provider_id:
            return str(app["settings"].get("groups_claim", "groups"))
    return "groups"


def provider_origin(provider_id: str) -> str:
    """scheme://host[:port] of the provider's issuer, "" for an unknown provider."""
    for app in settings.OIDC_PROVIDERS:
        if app["provider_id"] == provider_id:
            parts = urlsplit(str(app["settings"]["server_url"]))
            return f"{parts.scheme}://{parts.netloc}"
    return ""


def login_url(provider_id: str) -> str:
    """allauth's page for this provider: it asks to continue, then goes to the provider."""
    return reverse("openid_connect_login", kwargs={"provider_id": provider_id})


def email_domain(email: str) -> str:
    _local, at, domain = email.strip().rpartition("@")
    return domain.lower() if at else ""


def rule_for(email: str) -> SignInRule | None:
    domain = email_domain(email)
    if not domain:
        return None
    return SignInRule.objects.filter(domain=domain).first()


def required_rule_for_login(login: str) -> SignInRule | None:
    """The required rule for whoever the typed login names: an email's own domain (whether or
    not such an account exists, so the answer tells nothing about who has one), else the email
    of the account with that username."""
    login = login.strip()
    if "@" in login:
        email = login
    else:
        email = (
            User.objects.filter(Q(username__iexact=login))
            .exclude(email="")
            .values_list("email", flat=True)
            .first()
            or ""
        )
    rule = rule_for(email)
    return rule if rule is not None and rule.required else None


def claimed_groups(claims: Iterable[dict[str, Any]], claim: str) -> set[str]:
    """The group names in ``claim`` of any of the claim sets (userinfo, ID token): a list of
    strings or one string; anything else is ignored."""
    groups: set[str] = set()
    for data in claims:
        value = data.get(claim) if isinstance(data, dict) else None
        if isinstance(value, str):
            groups.add(value)
        elif isinstance(value, list):
            groups.update(item for item in value if isinstance(item, str))
    return groups


def plan_for_groups(provider_id: str, groups: set[str]) -> Plan | None:
    """The plan of the highest-priority mapped group among ``groups`` (ties: by group name)."""
    if not groups:
        return None
    found = (
        CompanyGroupPlan.objects.filter(provider_id=provider_id, group__in=groups)
        .select_related("plan")
        .order_by("-priority", "group")
        .first()
    )
    return found.plan if found is not None else None


class LoginForm(StudioLoginForm):
    """The studio's password form (accounts.forms), refusing people whose domain must use its
    company sign-in."""

    def clean(self) -> dict[str, Any]:
        login = str(self.cleaned_data.get("login") or "")
        rule = required_rule_for_login(login) if login else None
        if rule is not None:
            name = provider_name(rule.provider_id)
            message = _(
                "People at %(domain)s sign in with their company account (%(provider)s), "
                "not with a password."
            ) % {"domain": rule.domain, "provider": name}
            if rule.provider_id not in providers() or self.request is None:
                # The admin's rule names a provider that is not configured: still no password.
                raise forms.ValidationError(message, code="company_sign_in_required")
            messages.info(self.request, message)
            raise ImmediateHttpResponse(HttpResponseRedirect(login_url(rule.provider_id)))
        cleaned: dict[str, Any] = super().clean()
        return cleaned


class SignupForm(AllauthSignupForm):  # type: ignore[misc]
    """allauth's sign-up form, refusing an email of a domain that must use its company sign-in:
    a password account there would be signed in at once, past the rule."""

    def clean_email(self) -> str:
        email = str(super().clean_email())
        rule = rule_for(email)
        if rule is not None and rule.required:
            raise forms.ValidationError(
                _(
                    "People at %(domain)s sign in with their company account (%(provider)s): "
                    "use the button on the sign-in page."
                )
                % {"domain": rule.domain, "provider": provider_name(rule.provider_id)},
                code="company_sign_in_required",
            )
        return email
