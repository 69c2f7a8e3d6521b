"""Webhooks: https only, signed with the hash of the token, delivered once per job end, retried
after a failed try, sent only to the public addresses checked (the task function run directly
against a local receiver, let through by WEBHOOK_ALLOWED_NETWORKS)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
from celery import current_app
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pytest_django import Settings as SettingsWrapper
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from accounts.models import User
from api import tasks, webhooks
from api.models import Webhook
from editor import jobs, outbound, pipeline
from editor.models import Job, JobStatus, Vendor
from tests.api.calls import JOBS, colorize
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_key

pytestmark = pytest.mark.django_db


LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that answers each POST with the next planned status; it
    counts every connection it accepts, and keeps the request line of each CONNECT (when it
    stands in for an egress proxy)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.connections = 0
        self.tunnels: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.received.append((dict(self.headers.items()), self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_CONNECT(self) -> None:
                receiver.tunnels.append(self.path)
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(HTTPServer):
            def verify_request(self, request: Any, client_address: Any) -> bool:
                receiver.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"


def serve(made: Receiver) -> Iterator[Receiver]:
    thread = threading.Thread(target=made.server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture
def receiver(settings: SettingsWrapper) -> Iterator[Receiver]:
    """A local receiver, and loopback let through for it (as in development)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = LOOPBACK
    yield from serve(Receiver())


def certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey]
) -> x509.Certificate:
    """A certificate for ``subject`` (a CA when it issues itself, else a server name)."""
    is_ca = issuer[0] == subject
    now = datetime.datetime.now(datetime.UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer[0])]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if is_ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        built = built.add_extension(usage, critical=True)
    else:
        built = built.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return built.sign(issuer[1], hashes.SHA256())


@pytest.fixture
def tls_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> Iterator[tuple[Receiver, list[str | None]]]:
    """A local https receiver whose certificate names hooks.test only, issued by a CA the
    studio's clients trust for the test; and the server names (SNI) its clients sent."""
    settings.WEBHOOK_ALLOWED_NETWORKS = LOOPBACK
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = certificate("Test CA", ca_key, ("Test CA", ca_key))
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(
        certificate("hooks.test", server_key, ("Test CA", ca_key)).public_bytes(pem)
        + server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    monkeypatch.setattr(certifi, "where", lambda: str(tmp_path / "ca.pem"))
    names: list[str | None] = []
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "server.pem")

    def seen(_socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        names.append(name)

    tls.sni_callback = seen
    for made in serve(Receiver(tls)):
        yield made, names


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
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = LOOPBACK
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
    assert alice_api.get(f"{JOBS}/{Job.objects.get().pk}").json()["webhook"] is None


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://user:pw@hooks.example.com/x",
        "not a url",
        "https://hooks.example.com:99999/x",
        "https://exa mple.com/x",
        "https://localhost/x",
        # Every address form that leads inward.
        "https://127.0.0.1/x",
        "https://10.0.0.5/x",
        "https://172.16.0.1/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/latest",
        "https://100.64.0.1/x",
        "https://100.100.100.200/latest",
        "https://192.0.0.1/x",
        "https://0.0.0.0/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[2002:7f00:1::]/x",
        "https://[2002:a9fe:a9fe::]/x",
        "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/x",  # Teredo, client 10.0.0.1
        "https://[64:ff9b::7f00:1]/x",
        "https://[fe80::1]/x",
        "https://[fe80::1%25eth0]/x",
        # Numeric hosts written another way: the C resolver reads them all as 127.0.0.1.
        "https://0177.0.0.1/x",
        "https://0x7f.1/x",
        "https://2130706433/x",
        "https://127.1/x",
        "https://[::ffff:7f00:1]/x",  # 127.0.0.1, mapped and written in hex
        # What the client would quietly rewrite, so the URL called is not the one given.
        "https://hooks.example.com/a b",
        "https://hooks.example.com/a\tb",
        "https://hooks.example.com/%zz",
        "https://hooks.example.com/x?q=%G1",
        "https://hooks.example.com/x%2",
    ],
)
def test_refused_webhook_urls(alice: User, alice_api: ApiClient, url: str) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(webhook_url=url))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert list(errors) == ["webhook_url"]
    assert errors["webhook_url"][0]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "url",
    ["https://93.184.216.34/x", "https://[2606:4700:4700::1111]:8443/x", "https://h.example/"],
)
def test_public_webhook_urls_are_taken(alice: User, alice_api: ApiClient, url: str) -> None:
    make_key(alice, Vendor.PICWISH)
    assert alice_api.post(JOBS, colorize(webhook_url=url)).status_code == 202
    assert Webhook.objects.get().url == url


def test_plain_http_only_to_an_allowed_network(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    make_key(alice, Vendor.PICWISH)
    settings.QUOTA_CONCURRENT_JOBS = 5
    settings.DEBUG = True
    settings.SANDBOX_ENABLED = True
    # Development mode alone lets nothing inward: the allowed networks are empty by default.
    response = alice_api.post(JOBS, colorize(webhook_url="http://127.0.0.1:8000/hook"))
    assert response.status_code == 422
    settings.WEBHOOK_ALLOWED_NETWORKS = LOOPBACK
    response = alice_api.post(JOBS, colorize(webhook_url="http://hooks.example.com/hook"))
    assert response.status_code == 422  # a name may resolve anywhere: https only
    response = alice_api.post(JOBS, colorize(webhook_url="http://10.0.0.5/hook"))
    assert response.status_code == 422
    response = alice_api.post(JOBS, colorize(webhook_url="http://127.0.0.1:8000/hook"))
    assert response.status_code == 202
    hook = Webhook.objects.get()
    assert hook.url == "http://127.0.0.1:8000/hook"
    assert len(hook.token_hash) == 64


def fake_dns(monkeypatch: pytest.MonkeyPatch, name: str, *answers: str) -> list[tuple[str, object]]:
    """``name`` resolves to each answer in turn (the last one from then on); every other host
    goes to the real getaddrinfo (IP literals: no look-up). The look-ups of ``name`` made."""
    real = socket.getaddrinfo
    asked: list[tuple[str, object]] = []
    left = list(answers)

    def lookup(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != name:
            return real(host, port, *args, **kwargs)
        asked.append((host, port))
        answer = left.pop(0) if len(left) > 1 else left[0]
        family = socket.AF_INET6 if ":" in answer else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (answer, port))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return asked


def dialed(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The addresses every socket connects to from now on (through the tests' network guard,
    which refuses all but loopback)."""
    seen: list[Any] = []
    connect = socket.socket.connect

    def recording(self: socket.socket, address: Any) -> None:
        seen.append(address)
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return seen


@pytest.mark.parametrize(
    ("resolved", "retried"),
    [
        ("10.0.0.5", False),
        ("169.254.169.254", False),
        ("100.100.100.200", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::a9fe:a9fe", False),
    ],
)
def test_a_host_name_that_resolves_inside_the_studio_is_not_called(
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    resolved: str,
    retried: bool,
) -> None:
    """A name passes the URL check, but what it resolves to is checked right before each try."""
    job, _token = submit_with_hook(alice, "https://hooks.example.com/studio")
    asked = fake_dns(monkeypatch, "hooks.example.com", resolved)
    connections = dialed(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert not webhooks.deliver(*scheduled[0][0])
    hook = Webhook.objects.get()
    assert hook.last_error.startswith("Not sent: ")
    assert "not on the public internet" in hook.last_error
    assert resolved not in hook.last_error
    assert hook.delivered_at is None
    assert asked == [("hooks.example.com", 443)]
    assert connections == []
    assert len(scheduled) == 1  # no retry: the address will not become public by waiting


def test_a_name_that_rebinds_is_called_only_at_the_address_checked(
    alice: User,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """DNS rebinding: the name answers a public address to the check, then the studio's own
    loopback, where a receiver listens on the URL's port. The call goes to the checked public
    address (which the tests' network guard refuses: a connect error, retried) and the local
    receiver never sees a connection."""
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    job, _token = submit_with_hook(alice, f"https://rebind.example:{receiver.port}/hook")
    asked = fake_dns(monkeypatch, "rebind.example", "93.184.216.34", "127.0.0.1")
    connections = dialed(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert not webhooks.deliver(*scheduled[0][0])
    assert connections == [("93.184.216.34", receiver.port)]
    assert len(asked) == 1
    hook = Webhook.objects.get()
    assert hook.last_error == "Could not reach the receiver (ConnectError)."
    assert scheduled[1][1] == webhooks.BACKOFF[0]  # a network error: tried again later
    # The next try looks up again, gets loopback and refuses it before connecting.
    assert not webhooks.deliver(*scheduled[1][0])
    assert len(asked) == 2
    assert connections == [("93.184.216.34", receiver.port)]
    hook.refresh_from_db()
    assert hook.last_error.startswith("Not sent: ")
    assert receiver.connections == 0
    assert receiver.received == []
    assert len(scheduled) == 2


def mock_clients(monkeypatch: pytest.MonkeyPatch, answer: Any) -> None:
    """Every client outbound makes from now on answers with ``answer(request)``."""
    make_client = outbound.make_client
    monkeypatch.setattr(
        outbound,
        "make_client",
        lambda transport=None, proxy=None: make_client(httpx.MockTransport(answer), proxy),
    )


def test_the_next_checked_address_is_tried_when_one_does_not_connect(
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job, _token = submit_with_hook(alice, "https://hooks.example.com/studio")
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *args, **kwargs: [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:4700:4700::1111", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
        ],
    )
    hosts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        if request.url.host == "2606:4700:4700::1111":
            raise httpx.ConnectError("no IPv6 route")
        return httpx.Response(204)

    mock_clients(monkeypatch, answer)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert webhooks.deliver(*scheduled[0][0])
    assert hosts == ["2606:4700:4700::1111", "93.184.216.34"]
    assert Webhook.objects.get().last_status == 204


def test_a_pinned_call_keeps_the_name_for_host_and_tls(
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """The request is sent to the checked address; the Host header and TLS (SNI, certificate
    check) still use the name, and nothing follows a redirect."""
    job, _token = submit_with_hook(alice, "https://Hooks.Example.com:8443/in?x=1")
    fake_dns(monkeypatch, "hooks.example.com", "2606:4700:4700::1111")
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(302, headers={"Location": "http://127.0.0.1/"})

    mock_clients(monkeypatch, answer)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert not webhooks.deliver(*scheduled[0][0])
    (request,) = sent
    assert str(request.url) == "https://[2606:4700:4700::1111]:8443/in?x=1"
    assert request.headers["Host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    hook = Webhook.objects.get()
    assert (hook.last_status, hook.delivered_at) == (302, None)
    assert "redirects are not followed" in hook.last_error


def test_a_name_that_does_not_resolve_is_tried_again(
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job, _token = submit_with_hook(alice, "https://hooks.example.com/studio")

    def lookup(*args: object, **kwargs: object) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert not webhooks.deliver(*scheduled[0][0])
    assert Webhook.objects.get().last_error == "The receiver's host name does not resolve."
    assert scheduled[1][1] == webhooks.BACKOFF[0]


@pytest.mark.parametrize(
    "stored",
    [
        "https://0177.0.0.1/",
        "https://0x7f.1/",
        "https://2130706433/",
        "https://[fe80::1%25eth0]/",
        "https://hooks.example.com:99999/",
        "http://hooks.example.com/",
        "https://169.254.169.254/latest",
    ],
)
def test_a_stored_url_the_check_refuses_is_recorded_not_raised(
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    stored: str,
) -> None:
    """A URL stored before this check existed (or put there by hand) fails its delivery with a
    reason, once: no traceback, no look-up, no connection, no retry."""
    job, _token = submit_with_hook(alice, "https://hooks.example.com/studio")
    Webhook.objects.update(url=stored)
    asked = fake_dns(monkeypatch, "hooks.example.com", "93.184.216.34")
    connections = dialed(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    tasks.deliver_webhook(*scheduled[0][0])
    hook = Webhook.objects.get()
    assert hook.last_error.startswith("Not sent: ")
    assert stored.split("/")[2] not in hook.last_error
    assert (hook.attempts, hook.delivered_at) == (1, None)
    assert (asked, connections) == ([], [])
    assert len(scheduled) == 1


def test_with_an_egress_proxy_the_proxy_connects_and_resolves(
    alice: User,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.WEBHOOK_PROXY_URL = f"http://127.0.0.1:{receiver.port}"
    job, _token = submit_with_hook(alice, "https://hooks.example.com/studio")
    asked = fake_dns(monkeypatch, "hooks.example.com", "93.184.216.34")
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert not webhooks.deliver(*scheduled[0][0])
    assert receiver.tunnels == ["hooks.example.com:443"]
    assert asked == []  # the proxy looks the name up, not the studio
    hook = Webhook.objects.get()
    assert hook.last_error == "Could not reach the receiver (ProxyError)."
    assert scheduled[1][1] == webhooks.BACKOFF[0]


@pytest.mark.parametrize(("name", "delivered"), [("hooks.test", True), ("other.test", False)])
def test_tls_to_a_pinned_address_names_and_verifies_the_host(
    alice: User,
    tls_receiver: tuple[Receiver, list[str | None]],
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    name: str,
    delivered: bool,
) -> None:
    """Over real TLS: the call dials the checked address, sends the name in SNI and Host, and
    takes only a certificate for the name (one for hooks.test does not do for other.test at
    the same address)."""
    receiver, names = tls_receiver
    job, token = submit_with_hook(alice, f"https://{name}:{receiver.port}/hook")
    asked = fake_dns(monkeypatch, name, "127.0.0.1")
    connections = dialed(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert webhooks.deliver(*scheduled[0][0]) is delivered
    assert connections == [("127.0.0.1", receiver.port)]
    assert len(asked) == 1
    assert names == [name]
    hook = Webhook.objects.get()
    if delivered:
        ((headers, body),) = receiver.received
        assert headers["Host"] == f"{name}:{receiver.port}"
        assert verify(headers, body, token)
        assert (hook.last_status, hook.last_error) == (200, "")
    else:
        assert receiver.received == []
        assert hook.last_error == "Could not reach the receiver (ConnectError)."


def test_the_url_is_stored_as_the_client_reads_it(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(webhook_url="https://Hooks.EXAMPLE.com/x?a=1"))
    assert response.status_code == 202
    assert Webhook.objects.get().url == "https://hooks.example.com/x?a=1"


@pytest.mark.parametrize(
    "raised",
    [
        httpx.InvalidURL("Invalid IPv4 address: '0177.0.0.1'"),
        RuntimeError("https://hooks.example.com/studio?secret=s3 went wrong"),
    ],
    ids=["invalid-url", "anything-else"],
)
def test_a_delivery_that_raises_is_recorded_and_retried(
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    raised: Exception,
) -> None:
    job, _token = submit_with_hook(alice, "https://hooks.example.com/studio?secret=s3")

    def explode(url: str, body: bytes, headers: dict[str, str]) -> int:
        raise raised

    monkeypatch.setattr(webhooks, "_post", explode)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    assert not tasks.deliver_webhook(*scheduled[0][0])
    hook = Webhook.objects.get()
    assert (hook.attempts, hook.last_status, hook.delivered_at) == (1, None, None)
    assert type(raised).__name__ in hook.last_error
    assert "hooks.example.com" not in hook.last_error
    assert "0177" not in hook.last_error
    assert "s3" not in hook.last_error
    assert hook.last_attempt_at is not None
    # Retried on the documented schedule.
    assert [countdown for _args, countdown in scheduled[1:]] == [webhooks.BACKOFF[0]]


def test_the_api_shows_the_last_delivery_of_a_jobs_webhook(
    alice: User,
    receiver: Receiver,
    scheduled: list[tuple[tuple[Any, ...], int]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job, token = submit_with_hook(alice, receiver.url + "?secret=s3")
    shown = ApiClient(token).get(f"{JOBS}/{job.pk}").json()["webhook"]
    assert shown == {
        "url": receiver.url,  # without the query, where a receiver keeps its secret
        "attempts": 0,
        "last_status": None,
        "last_error": "",
        "last_attempt_at": None,
        "delivered_at": None,
    }
    receiver.statuses = [503]
    with django_capture_on_commit_callbacks(execute=True):
        jobs.cancel(job)
    tasks.deliver_webhook(*scheduled[0][0])
    shown = ApiClient(token).get(f"{JOBS}/{job.pk}").json()["webhook"]
    assert (shown["attempts"], shown["last_status"]) == (1, 503)
    assert "503" in shown["last_error"]
    assert shown["last_attempt_at"] is not None
    assert shown["delivered_at"] is None
    assert "s3" not in json.dumps(shown)
