"""Who is calling the sandbox: the key check, what the key's markers ask for, request counting.

Keys must start with ``settings.SANDBOX_KEY_PREFIX``; markers in a key pick the AILabTools
envelope generation, bring back its retired color migration and inject faults (see
``editor.sandbox.faults``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from editor.sandbox.faults import Faults, UnknownFault, counted, unknown_marker
from editor.sandbox.faults import parse as parse_faults
from editor.sandbox.server import PUBLIC_URL_ENVIRON_KEY
from editor.sandbox.state import STATE


@dataclass(frozen=True)
class Caller:
    """Who is calling and what they asked the sandbox to pretend, from the key."""

    key: str
    faults: Faults
    public_url: str

    @property
    def legacy(self) -> bool:
        return "legacy" in self.key

    @property
    def colormig(self) -> bool:
        return "colormig" in self.key


def is_sandbox_key(key: str) -> bool:
    prefix: str = settings.SANDBOX_KEY_PREFIX
    return len(key) > len(prefix) and key.startswith(prefix)


def _public_url(request: HttpRequest) -> str:
    return str(request.META.get(PUBLIC_URL_ENVIRON_KEY) or settings.SANDBOX_URL).rstrip("/")


def identify(request: HttpRequest, key: str) -> Caller | HttpResponseBase:
    """The caller behind a sandbox key, or the 400 naming a fault marker the sandbox lacks."""
    try:
        faults = parse_faults(key)
    except UnknownFault as error:
        return unknown_marker(error)
    return Caller(key=key, faults=faults, public_url=_public_url(request))


def request_number(caller: Caller) -> int:
    """This request's number among the key's requests, counted only for markers that need it."""
    return STATE.count(caller.key) if counted(caller.faults) else 0


def flaky(caller: Caller, number: int) -> bool:
    """Whether the ``flaky`` marker fails this request (the key's ``number``th)."""
    marker = caller.faults.get("flaky")
    return marker is not None and number <= marker.number
