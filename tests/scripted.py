"""A scripted vendor and the fixtures that drive the job pipeline step by step in this process
(the job and recipe tests, through tests/editor/conftest.py, and the S3 tier use them):
``script`` says what the fake vendor answers, ``submit`` makes a job for alice, ``sent`` keeps
the pipeline's messages and ``step`` delivers the newest one as a worker would. Import the
fixtures a test module or conftest needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from celery import current_app
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import jobs, operations, pipeline
from editor.images import ImageLimits
from editor.models import Job, Vendor, VendorKey
from editor.vendors.base import Done, Pending, VendorAdapter, VendorError, VendorRequest
from tests.images import make_image

# A callable is called when its turn comes: an error worded as the step runs, as a real
# adapter words it (in the job owner's language).
Outcome = Done | Pending | VendorError | Callable[[], VendorError]


@dataclass
class Script:
    """What the fake vendor answers, call after call, and what it was asked."""

    outcomes: list[Outcome] = field(default_factory=list)
    submits: list[VendorRequest] = field(default_factory=list)
    polls: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def next(self) -> Done | Pending:
        outcome = self.outcomes.pop(0)
        if callable(outcome):
            outcome = outcome()
        if isinstance(outcome, VendorError):
            raise outcome
        return outcome


def fake_adapter(script: Script) -> type[VendorAdapter]:
    class FakeAdapter(VendorAdapter):
        vendor = "fake"
        label = "Fake"
        operations = frozenset({"colorize", "color_migration"})

        def __init__(self, api_key: str, **kwargs: Any) -> None:
            super().__init__(api_key)
            script.keys.append(api_key)

        @classmethod
        def limits(cls, operation: str, role: str) -> ImageLimits:
            return ImageLimits(frozenset({"JPEG", "PNG"}), 5_000_000, 1000, 1000, 8, 8)

        def submit(self, request: VendorRequest) -> Done | Pending:
            script.submits.append(request)
            return script.next()

        def poll(self, task_ref: str) -> Done | Pending:
            script.polls.append(task_ref)
            return script.next()

    return FakeAdapter


@dataclass
class Sent:
    messages: list[tuple[str, int, str, float]] = field(default_factory=list)

    def last(self) -> tuple[str, int]:
        job_id, number, _queue, _countdown = self.messages[-1]
        return job_id, number


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper) -> Script:
    script = Script()
    adapter = fake_adapter(script)
    original = pipeline._adapter
    # No rate budget unless a test sets one: steps here follow each other within milliseconds.
    settings.PICWISH_QPS = 0
    # Every photo goes through the cpu queue, so each step is one message the test delivers;
    # light jobs, whose steps run back to back in one task, have tests of their own.
    settings.JOB_LIGHT_PIXELS = 0

    def swapped(provider: operations.Provider, secret: str) -> VendorAdapter:
        real = original(provider, secret)  # the key as decrypted in production
        return adapter(api_key=real._api_key)

    monkeypatch.setattr(pipeline, "_adapter", swapped)
    for operation in operations.OPERATIONS:
        for provider in operation.providers:
            monkeypatch.setattr(provider.adapter, "limits", adapter.limits)
    return script


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    sent = Sent()

    send_task = current_app.send_task

    def send(name: str, args: tuple[Any, ...] = (), **options: Any) -> Any:
        if name != jobs.ADVANCE_TASK:
            return send_task(name, args, **options)
        sent.messages.append((args[0], args[1], options["queue"], options.get("countdown", 0)))
        return None

    monkeypatch.setattr(current_app, "send_task", send)
    return sent


@pytest.fixture
def picwish_key(alice: User) -> VendorKey:
    key = VendorKey(owner=alice, vendor=Vendor.PICWISH, label="Mine")
    key.set_secret("sandbox-secret-1234")
    key.save()
    return key


Run = Callable[..., Job]


@pytest.fixture
def submit(
    alice: User,
    picwish_key: VendorKey,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Run:
    def run(slug: str = "colorize", provider: str = "picwish", **params: Any) -> Job:
        operation = operations.get(slug)
        with django_capture_on_commit_callbacks(execute=True):
            return jobs.submit(
                owner=alice,
                operation=operation,
                provider=operation.provider(provider),
                params=params or {"format": "jpg"},
                files={"image": make_image((64, 48))},
                key=picwish_key if provider == "picwish" else None,
            )

    return run


@pytest.fixture
def step(
    sent: Sent, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> Callable[[], Job]:
    """Deliver the newest message, as a worker would."""

    def deliver() -> Job:
        job_id, number = sent.last()
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.advance(job_id, number)
        return Job.objects.get(pk=job_id)

    return deliver
