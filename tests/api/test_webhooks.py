"""Webhooks: https only, signed with the hash of the token, delivered once per job end, retried
after a failed try (the task function run directly against a local receiver)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from celery import current_app
from pytest_django import Settings as SettingsWrapper
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from accounts.models import User
from api import tasks, webhooks
from api.models import Webhook
from editor import jobs, pipeline
from editor.models import Job, JobStatus, Vendor
from tests.api.calls import JOBS, colorize
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_key

pytestmark = pytest.mark.django_db


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that answers each POST with the next planned status."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.received.append((dict(self.headers.items()), self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    thread = threading.Thread(target=made.server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture
def scheduled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Any, ...], int]]:
    """Deliveries sent to the broker: (args, countdown)."""
    sent: list[tuple[tuple[Any, ...], int]] = []

    send_task = current_app.send_task

    def send(name: str, args: tuple[Any, ...] = (), countdown: int = 0, **options: Any) -> Any:
        if name != webhooks.DELIVER_TASK:
            return send_task(name, args, countdown=countdown, **options)
        sent.append((tuple(args), countdown))
        return None

    monkeypatch.setattr(current_app, "send_task", send)
    return sent


def submit_with_hook(alice: User, url: str) -> tuple[Job, str]:
    make_key(alice, Vendor.PICWISH)
    token = token_for(alice)
    response = ApiClient(token).post(JOBS, colorize(webhook_url=url))
    assert response.status_code == 202, response.content
    return Job.objects.get(), token


def verify(headers: dict[str, str], body: bytes, token: str) -> bool:
    fields = dict(part.split("=", 1) for part in headers["X-Studio-Signature"].split(","))
    key = hashlib.sha256(token.encode()).hexdigest().encode()
    expected = hmac.new(key, f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


def test_a_webhook_is_signed_with_the_hash_of_the_token(
    alice: User,
    receiver: Receiver,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job, token = submit_with_hook(alice, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert len(scheduled) == 1
    tasks.deliver_webhook(*scheduled[0][0])
    (headers, body), *_ = receiver.received
    assert verify(headers, body, token)
    assert not verify(headers, body + b" ", token)
    assert headers["X-Studio-Event"] == "job.ended"
    sent = json.loads(body)
    assert (sent["id"], sent["status"]) == (str(job.pk), "canceled")
    # The same schema as GET /jobs/{id}.
    assert set(sent) == set(ApiClient(token).get(f"{JOBS}/{job.pk}").json())
    hook = Webhook.objects.get()
    assert headers["X-Studio-Delivery"] == str(hook.delivery)
    assert hook.delivered_at is not None
    assert (hook.attempts, hook.last_status) == (1, 200)
    assert token not in repr(Webhook.objects.values().get())


def test_a_failed_try_is_retried_then_succeeds(
    alice: User,
    receiver: Receiver,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job, _token = submit_with_hook(alice, receiver.url)
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    tasks.deliver_webhook(*scheduled[0][0])
    hook = Webhook.objects.get()
    assert (hook.attempts, hook.last_status, hook.delivered_at) == (1, 500, None)
    assert "500" in hook.last_error
    retry_args, countdown = scheduled[1]
    assert countdown == webhooks.BACKOFF[0]
    # A duplicate of the first message claims nothing.
    tasks.deliver_webhook(*scheduled[0][0])
    assert len(receiver.received) == 1
    tasks.deliver_webhook(*retry_args)
    hook.refresh_from_db()
    assert (hook.attempts, hook.last_status, hook.last_error) == (2, 200, "")
    assert hook.delivered_at is not None
    assert len(receiver.received) == 2
    assert (
        receiver.received[0][0]["X-Studio-Delivery"] == receiver.received[1][0]["X-Studio-Delivery"]
    )
    assert len(scheduled) == 2  # nothing more after success


def test_a_receiver_gets_no_more_than_its_budget_and_the_rest_wait_their_turn(
    alice: User,
    receiver: Receiver,
    scheduled: list[tuple[tuple[Any, ...], int]],
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.WEBHOOK_RATE = "1/60s"
    settings.QUOTA_CONCURRENT_JOBS = 5
    submit_with_hook(alice, receiver.url)
    token = token_for(alice, "second")
    ApiClient(token).post(JOBS, colorize(webhook_url=receiver.url))
    with django_capture_on_commit_callbacks(execute=True):
        for each in Job.objects.all():
            jobs.cancel(each)
    first, second = (args for args, _countdown in scheduled[:2])
    assert webhooks.deliver(*first)
    assert not webhooks.deliver(*second)  # the receiver's minute is spent
    assert len(receiver.received) == 1
    waiting, countdown = scheduled[2]
    assert waiting == second  # the same try again, not counted as one
    assert 60 <= countdown <= 63
    assert sorted(Webhook.objects.values_list("attempts", flat=True)) == [0, 1]


def test_an_unreachable_receiver_is_retried_until_the_tries_run_out(
    alice: User,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job, _token = submit_with_hook(alice, "http://127.0.0.1:9/closed")
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    for number in range(webhooks.MAX_ATTEMPTS):
        assert not webhooks.deliver(*scheduled[number][0])
    assert [countdown for _args, countdown in scheduled[1:]] == list(webhooks.BACKOFF)
    hook = Webhook.objects.get()
    assert hook.attempts == webhooks.MAX_ATTEMPTS
    assert "Could not reach" in hook.last_error
    assert "127.0.0.1" not in hook.last_error


def test_delivered_once_per_job_end(
    alice: User,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job, _token = submit_with_hook(alice, "https://hooks.example.com/x")
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
        jobs.cancel(job)  # ended already: no second end
    assert len(scheduled) == 1
    with django_capture_on_commit_callbacks(execute=True):
        jobs.retry(job)
    assert len(scheduled) == 1
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        pipeline._fail(job, "bad", "It failed.")
    assert len(scheduled) == 2
    # A new delivery each end: the first end's message is stale now.
    assert scheduled[0][0][1] != scheduled[1][0][1]
    assert not webhooks.deliver(*scheduled[0][0])


def test_a_job_without_a_webhook_sends_nothing(
    alice: User,
    alice_api: ApiClient,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    make_key(alice, Vendor.PICWISH)
    assert alice_api.post(JOBS, colorize()).status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(Job.objects.get())
    assert Job.objects.get().status == JobStatus.CANCELED
    assert scheduled == []
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "https://10.0.0.5/x",
        "https://169.254.169.254/latest",
        "not a url",
    ],
)
def test_refused_webhook_urls(alice: User, alice_api: ApiClient, url: str) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(webhook_url=url))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["webhook_url"]
    assert not Job.objects.exists()


def test_plain_http_to_loopback_only_in_development(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    make_key(alice, Vendor.PICWISH)
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False
    response = alice_api.post(JOBS, colorize(webhook_url="http://127.0.0.1:8000/hook"))
    assert response.status_code == 422
    settings.SANDBOX_ENABLED = True
    response = alice_api.post(JOBS, colorize(webhook_url="http://127.0.0.1:8000/hook"))
    assert response.status_code == 202
    hook = Webhook.objects.get()
    assert hook.url == "http://127.0.0.1:8000/hook"
    assert len(hook.token_hash) == 64


@pytest.mark.parametrize(
    ("resolved", "reason"),
    [("10.0.0.5", "private network"), ("169.254.169.254", "private network")],
)
def test_a_host_name_that_resolves_inside_the_studio_is_not_called(
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    resolved: str,
    reason: str,
) -> None:
    """A name passes the URL check, but what it resolves to is checked right before each try."""
    job, _token = submit_with_hook(alice, "https://hooks.example.com/studio")

    def lookup(host: str, port: object, *args: object, **kwargs: object) -> list[Any]:
        assert host == "hooks.example.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (resolved, 443))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert not webhooks.deliver(*scheduled[0][0])
    hook = Webhook.objects.get()
    assert reason in hook.last_error
    assert hook.delivered_at is None
    assert len(scheduled) == 1  # no retry: the address will not become public by waiting
