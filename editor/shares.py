"""Share links: making a public link to one result, revoking it (each written to the audit log),
and the address a link opens at. The share pages and the API both go through here.

A link's token is 256 random bits; the database keeps its SHA-256 to find it and a copy
encrypted with ``VAULT_KEYS`` for the owner's list (editor.models.ShareLink).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from accounts import audit
from accounts.models import AuditAction
from editor.models import SHARE_LIFETIMES, Result, ShareLink
from limiter import core as limiter

# A person's links are listed newest first, this many a page (the page and the API alike).
PAGE_SIZE = 25


def url(request: HttpRequest, token: str) -> str:
    """The public address of a link, absolute (it is sent to other people)."""
    return request.build_absolute_uri(reverse("editor:shared", args=[token]))


def _audited(link: ShareLink) -> dict[str, object]:
    """What the audit log keeps about a link: never its token or password."""
    return {
        "result": str(link.result_id),
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "protected": link.has_password,
        "include_original": link.include_original,
    }


def make(
    request: HttpRequest,
    result: Result,
    *,
    lifetime: str,
    password: str = "",
    include_original: bool = False,
) -> tuple[ShareLink, str]:
    """A new link to a result (``lifetime`` a key of SHARE_LIFETIMES), recorded in the audit
    log; the token is returned once, here."""
    link, token = ShareLink.create(
        result,
        lifetime=SHARE_LIFETIMES[lifetime],
        password=password,
        include_original=include_original,
    )
    audit.record(AuditAction.SHARE_CREATED, link, request=request, details=_audited(link))
    return link, token


def revoke(request: HttpRequest, link: ShareLink) -> None:
    """Revoke a live link and record it; revoking it again does nothing."""
    if link.revoked_at is None:
        link.revoke()
        audit.record(AuditAction.SHARE_REVOKED, link, request=request, details=_audited(link))


def password_attempt(address: str, link: ShareLink) -> limiter.Attempt:
    """Count one password try on a link: per address and per link, with the numbers of failed
    sign-ins (``LOGIN_FAILED_RATE_LIMIT``) but budgets of their own, so guessing at links never
    locks anyone out of signing in. A right password is given back. Raises StoreDown."""
    rates = limiter.rates_by(settings.LOGIN_FAILED_RATE_LIMIT)
    budgets = []
    if "ip" in rates:
        budgets.append((limiter.budget_name("share-password", "ip", address), rates["ip"]))
    if "key" in rates:
        budgets.append((limiter.budget_name("share-password", "link", str(link.pk)), rates["key"]))
    return limiter.attempt(*budgets)
