"""Share links: making a public link to one result or one album (editor.albums), revoking it
(one, every link of an album, or everything a person shares) (each written to the audit log),
the address a link opens at, and the password a visitor types (``unlock``: throttled per link
and address with growing delays, never by the sign-in budgets). The share pages and the API
both go through here.

A link's token is 256 random bits; the database keeps its SHA-256 to find it and a copy
encrypted with ``VAULT_KEYS`` for the owner's list (editor.models.ShareLink).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from accounts import audit
from accounts.models import AuditAction, User
from editor.models import SHARE_LIFETIMES, Album, Result, ShareLink
from limiter import core as limiter

# A person's links are listed newest first, this many a page (the page and the API alike).
PAGE_SIZE = 25


def url(request: HttpRequest, token: str) -> str:
    """The public address of a link, absolute (it is sent to other people)."""
    return request.build_absolute_uri(reverse("editor:shared", args=[token]))


def _audited(link: ShareLink) -> dict[str, object]:
    """What the audit log keeps about a link: never its token or password."""
    return {
        "result": str(link.result_id) if link.result_id else None,
        "album": str(link.album_id) if link.album_id else None,
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "protected": link.has_password,
        "include_original": link.include_original,
    }


def make(
    request: HttpRequest,
    target: Result | Album,
    *,
    lifetime: str,
    password: str = "",
    include_original: bool = False,
    name: str = "",
) -> tuple[ShareLink, str]:
    """A new link to a result or an album (``lifetime`` a key of SHARE_LIFETIMES; ``name``
    whom it is for), recorded in the audit log; the token is returned once, here. The
    original photo is only ever shown beside a single result, never from an album."""
    link, token = ShareLink.create(
        target,
        lifetime=SHARE_LIFETIMES[lifetime],
        password=password,
        include_original=include_original,
        name=name,
    )
    audit.record(AuditAction.SHARE_CREATED, link, request=request, details=_audited(link))
    return link, token


def revoke(request: HttpRequest, link: ShareLink) -> None:
    """Revoke a live link and record it; revoking it again does nothing."""
    if link.revoked_at is None:
        link.revoke()
        audit.record(AuditAction.SHARE_REVOKED, link, request=request, details=_audited(link))


def revoke_all(request: HttpRequest, owner: User, *, album: Album | None = None) -> int:
    """Revoke every live link of ``album``, or everything ``owner`` shares when no album is
    given, each recorded like one revoked alone. Returns how many were revoked."""
    links = ShareLink.objects.live().filter(owner=owner)
    if album is not None:
        links = links.filter(album=album)
    revoked = 0
    for link in links.iterator(chunk_size=200):
        revoke(request, link)
        revoked += 1
    return revoked


@dataclass(frozen=True)
class Unlock:
    """The answer to one password typed on a link: ``opened``, or refused before it was looked
    at (``wait`` > 0: seconds until this address may try again), or wrong (neither)."""

    opened: bool
    wait: float = 0.0


def unlock(address: str, link: ShareLink, password: str) -> Unlock:
    """Try a password on a link from ``address``, in budgets of its own (never the sign-in
    ones; ``SHARE_PASSWORD_*_BACKOFF``):

    - per link and address: a few tries at once, then each wrong one makes the next wait
      longer (1 s, 2 s, 4 s… up to a cap); a quiet spell or the right password forgives them;
    - per link, every address together, against guessing spread over many addresses: past a
      number of wrong passwords, an address that already failed on the link waits for the
      link's growing delay too. An address's first try is never held back by it, so whoever
      was given the password opens the link at once, however many others guess at it.

    Tries are counted before the password is checked (one atomic step on the limiter's store),
    so many at once never get past a delay; a right password is given back. A wrong one is
    counted on the link for its owner to see. Raises StoreDown."""
    mine = limiter.budget_name("share-password", "link", str(link.pk), "address", address)
    links = limiter.budget_name("share-password", "link", str(link.pk), "every-address")
    own = limiter.try_once(mine, limiter.Backoff.parse(settings.SHARE_PASSWORD_ADDRESS_BACKOFF))
    if not own.slot.go:
        return Unlock(opened=False, wait=own.slot.wait)
    shared = limiter.try_once(
        links,
        limiter.Backoff.parse(settings.SHARE_PASSWORD_LINK_BACKOFF),
        force=own.before == 0,  # a first try from this address: counted, never held back
    )
    if not shared.slot.go:
        limiter.give_back(mine, own.slot)  # not tried: it does not count against the address
        return Unlock(opened=False, wait=shared.slot.wait)
    if link.check_password(password):
        # If the store went away meanwhile the tries stay counted: safe, and the link opens.
        with contextlib.suppress(limiter.StoreDown):
            limiter.forget(mine)
            limiter.give_back(links, shared.slot)
        return Unlock(opened=True)
    link.count_failed_password()
    return Unlock(opened=False)
