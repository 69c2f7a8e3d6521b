"""Webhook URLs, whatever a script sends: the check when the URL is given (the API, with
a job) refuses it with a clear 422 or takes it, and every URL it takes is one the delivery can
try, whose failure is recorded on the webhook (without the URL) and not an uncaught exception
in the task."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import httpx
import pytest
from django.test import Client
from hypothesis import given, settings
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from api import webhooks
from api.errors import ApiError
from api.models import Webhook
from editor import addresses
from editor.models import Vendor
from tests.api.conftest import token_for
from tests.broker import SentTasks
from tests.factories import make_job, make_key
from tests.fuzz.strategies import isolated, url
from tests.images import photo

pytestmark = pytest.mark.django_db

FUZZ = settings.get_profile("fuzz")


@given(given_url=url)
@FUZZ
def test_a_url_is_refused_with_a_reason_or_read_as_the_client_reads_it(given_url: str) -> None:
    try:
        parsed = webhooks.receiver_url(given_url)
    except addresses.Refused as refusal:
        reason = str(refusal)
    else:
        reason = ""
    if reason:
        # A reason for the person, which never repeats the URL (it may carry a secret).
        assert given_url not in reason or not given_url.strip()
        return
    assert parsed.scheme in ("http", "https")
    host = parsed.raw_host.decode("ascii")
    assert host
    # The client builds the request it will send, and pins it to a checked address.
    request = httpx.Request("POST", parsed)
    assert request.url.raw_host == parsed.raw_host


@pytest.fixture
def public_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every receiver's name resolves to a public address (which the tests' network guard then
    refuses to connect to): delivery gets as far as it can without leaving the machine. The
    studio's own services (the database, Redis) are still found where they are."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in ("localhost", "127.0.0.1", "::1", None):
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port or 443))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_every_url_the_check_takes_ends_in_a_recorded_delivery(
    alice: User, public_names: None, sent_tasks: SentTasks
) -> None:
    job = make_job(alice)

    @FUZZ
    @given(given_url=url)
    def check(given_url: str) -> None:
        try:
            webhooks.check_url(given_url)
        except ApiError as refused:
            refusal: ApiError | None = refused
        else:
            refusal = None
        if refusal is not None:
            assert (refusal.status, refusal.code) == (422, "invalid")
            return
        with isolated():
            webhook = Webhook.objects.create(
                job=job, url=given_url, token_hash="0" * 64, delivery=uuid.uuid4()
            )
            assert webhooks.deliver(str(webhook.pk)) is False
            webhook.refresh_from_db()
            assert webhook.delivered_at is None
            assert webhook.last_error
            assert given_url not in webhook.last_error

    check()


def test_the_api_takes_or_refuses_any_webhook_url(
    alice: User, settings: SettingsWrapper, sent_tasks: SentTasks
) -> None:
    settings.API_RATE_LIMIT = "100000/m/key"
    make_key(alice, Vendor.PICWISH)
    headers = {"Authorization": f"Bearer {token_for(alice)}"}

    @FUZZ
    @given(given_url=url)
    def check(given_url: str) -> None:
        with isolated():
            response = Client().post(
                "/api/v1/jobs",
                {"operation": "colorize", "image": photo(), "webhook_url": given_url},
                headers=headers,
            )
            assert response.status_code in (202, 422), response.content[:300]
            if response.status_code == 422:
                assert response.json()["code"] == "invalid"
            else:
                stored = Webhook.objects.filter(job_id=response.json()["id"]).first()
                assert (stored is None) == (not given_url.strip())

    check()
