"""The audit log: one function writes every security-relevant event (accounts.models.AuditEvent).

Callers pass what happened and to what; never a secret. As a guard, detail keys that name a
secret are refused outright, so a mistake fails in tests instead of landing in the log.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest

from accounts.models import AuditAction, AuditEvent

FORBIDDEN = ("secret", "token", "password", "ciphertext", "key_value", "api_key")


def record(
    action: AuditAction,
    target: models.Model,
    *,
    actor: AbstractBaseUser | AnonymousUser | None = None,
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one event. ``actor`` defaults to the request's user; ``target`` is the object acted
    on (its type, id and ``str()`` are kept, so the event outlives it)."""
    details = details or {}
    for name in details:
        if any(word in name.lower() for word in FORBIDDEN):
            raise ValueError(f"audit details must not carry secrets ({name!r})")
    if actor is None and request is not None:
        actor = request.user
    person = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor_id=person.pk if person is not None else None,
        actor_name=person.get_username() if person is not None else "",
        action=action,
        target_type=target._meta.label,
        target_id=str(target.pk or ""),
        target_label=str(target)[:200],
        details=details,
        ip=_address(request),
    )


def _address(request: HttpRequest | None) -> str | None:
    """The client's address as allauth sees it for rate limits (proxy settings included)."""
    if request is None:
        return None
    try:
        address = get_adapter(request).get_client_ip(request)
    except PermissionDenied:  # allauth's answer when no address can be told: log the event anyway
        return None
    return str(address) if address else None
