"""The job state machine, driven step by step in this process with a scripted vendor.

The real worker, broker and sandbox are exercised in tests/integration; here every message the
pipeline sends is captured, so each step, retry, duplicate and race can be checked exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts.models import Quota, User
from editor import jobs, operations, tasks
from editor.models import Job, JobStatus, Vendor, VendorKey
from editor.vendors.base import (
    Done,
    ImageLimits,
    Pending,
    ResultImage,
    VendorAdapter,
    VendorError,
    VendorRequest,
)
from tests.images import make_image

pytestmark = pytest.mark.django_db

Outcome = Done | Pending | VendorError


@dataclass
class Script:
    """What the fake vendor answers, call after call, and what it was asked."""

    outcomes: list[Outcome] = field(default_factory=list)
    submits: list[VendorRequest] = field(default_factory=list)
    polls: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def next(self) -> Done | Pending:
        outcome = self.outcomes.pop(0)
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
def script(monkeypatch: pytest.MonkeyPatch) -> Script:
    script = Script()
    adapter = fake_adapter(script)
    original = jobs._adapter

    def swapped(job: Job, provider: operations.Provider) -> VendorAdapter:
        real = original(job, provider)  # decrypts exactly as in production
        return adapter(api_key=real._api_key)

    monkeypatch.setattr(jobs, "_adapter", swapped)
    for operation in operations.OPERATIONS:
        for provider in operation.providers:
            monkeypatch.setattr(provider.adapter, "limits", adapter.limits)
    return script


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    sent = Sent()

    def apply_async(args: tuple[str, int], countdown: float = 0, queue: str = "") -> None:
        sent.messages.append((args[0], args[1], queue, countdown))

    monkeypatch.setattr(tasks.advance, "apply_async", apply_async)
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
            jobs.advance(job_id, number)
        return Job.objects.get(pk=job_id)

    return deliver


DONE = Done((ResultImage(make_image((64, 48), color=(10, 200, 30)), "image/jpeg"),))


def test_a_synchronous_job_runs_prepare_call_store(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [DONE]
    job = submit()
    assert job.status == JobStatus.QUEUED
    assert sent.messages[-1][2] == "cpu"  # fitting is image work

    job = step()
    assert job.status == JobStatus.RUNNING
    assert sent.messages[-1][2] == "io"  # the vendor call is I/O
    assert set(job.prepared) == {"image"}

    job = step()
    assert job.status == JobStatus.STORING
    assert script.keys == ["sandbox-secret-1234"]
    assert script.submits[0].params == {"format": "jpg"}

    job = step()
    assert job.status == JobStatus.SUCCEEDED
    assert job.progress == 100
    result = job.results.get()
    with default_storage.open(result.file.name, "rb") as handle:
        assert handle.read() == DONE.data  # the vendor's bytes, unchanged
    assert (result.width, result.height, result.media_type) == (64, 48, "image/jpeg")
    assert result.thumbnail.name
    assert Quota.objects.get(user=job.owner).active_jobs == 0


def test_messages_carry_ids_only(submit: Run, sent: Sent, script: Script) -> None:
    job = submit()
    job_id, number, _queue, _countdown = sent.messages[0]
    assert (job_id, number) == (str(job.pk), 0)


def test_an_async_job_stores_its_ref_and_polls_without_resubmitting(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [Pending("task-1", 0, 1.0), Pending("task-1", 50, 1.0), DONE]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.WAITING
    assert job.vendor_ref == "task-1"
    assert sent.messages[-1][3] == 1.0  # polled after the vendor's advice, not by sleeping
    job = step()
    assert job.progress == 50
    step()
    job = step()
    assert job.status == JobStatus.SUCCEEDED
    assert len(script.submits) == 1
    assert script.polls == ["task-1", "task-1"]


def test_duplicate_and_stale_messages_do_nothing(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [DONE]
    job = submit()
    jobs.advance(str(job.pk), 0)
    jobs.advance(str(job.pk), 0)  # redelivered: already moved on
    jobs.advance(str(job.pk), 7)  # never sent
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert job.dispatch == 1


def test_a_claimed_step_is_not_run_twice_while_its_lease_holds(
    submit: Run, sent: Sent, script: Script
) -> None:
    job = submit()
    claimed = jobs._claim(str(job.pk), 0)
    assert claimed is not None
    assert jobs._claim(str(job.pk), 0) is None


def test_retryable_errors_back_off_then_succeed(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [VendorError("busy", retryable=True, code="AI_SERVICE_ERROR"), DONE]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.RUNNING
    assert job.attempts == 1
    assert job.error_message == "busy"
    assert sent.messages[-1][3] > 0
    step()
    assert step().status == JobStatus.SUCCEEDED


def test_rate_limit_hint_is_used_as_the_delay(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [VendorError("slow down", retryable=True, retry_after=0.4)]
    submit()
    step()
    step()
    assert sent.messages[-1][3] == 0.4


def test_a_permanent_error_fails_the_job_and_refunds(
    submit: Run, step: Callable[[], Job], script: Script
) -> None:
    script.outcomes = [VendorError("No credits left.", retryable=False, code="credits")]
    job = submit()
    charged = Quota.objects.get(user=job.owner)
    assert (charged.credits_this_month, charged.active_jobs) == (1, 1)
    step()
    job = step()
    assert job.status == JobStatus.FAILED
    assert job.error_message == "No credits left."
    quota = Quota.objects.get(user=job.owner)
    assert (quota.credits_this_month, quota.active_jobs, quota.jobs_today) == (0, 0, 0)


def test_retries_stop_at_the_deadline(submit: Run, step: Callable[[], Job], script: Script) -> None:
    script.outcomes = [VendorError("busy", retryable=True, code="x", retry_after=10_000)]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.FAILED
    assert job.error_message == "busy"


def test_a_bad_photo_fails_with_the_reason(
    alice: User,
    picwish_key: VendorKey,
    sent: Sent,
    script: Script,
    step: Callable[[], Job],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    operation = operations.get("colorize")
    with django_capture_on_commit_callbacks(execute=True):
        jobs.submit(
            owner=alice,
            operation=operation,
            provider=operation.default_provider,
            params={"format": "jpg"},
            files={"image": make_image((64, 48))[:300]},
            key=picwish_key,
        )
    job = step()
    assert job.status == JobStatus.FAILED
    assert "damaged" in job.error_message or "not an image" in job.error_message


def test_cancel_refunds_and_stops_work_in_flight(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [DONE]
    job = submit()
    step()
    assert jobs.cancel(job)
    job_id, number = sent.last()
    jobs.advance(job_id, number)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert script.submits == []
    assert Quota.objects.get(user=job.owner).active_jobs == 0
    assert not jobs.cancel(job)


def test_retry_runs_a_failed_job_again(
    submit: Run,
    step: Callable[[], Job],
    sent: Sent,
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [VendorError("no", retryable=False), DONE]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.retry(job)
    assert job.status == JobStatus.QUEUED
    assert job.error_message == ""
    step()
    step()
    assert step().status == JobStatus.SUCCEEDED


def test_sweeper_resends_a_job_whose_worker_died(
    submit: Run,
    sent: Sent,
    script: Script,
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.JOB_LEASE_SECONDS = 60
    job = submit()
    assert jobs._claim(str(job.pk), 0) is not None  # a worker took it, then was killed
    later = timezone.now() + dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.sweep(now=later) == {"expired": 0, "resent": 1}
    job.refresh_from_db()
    assert job.dispatch == 1
    assert sent.last() == (str(job.pk), 1)


def test_sweeper_resends_a_lost_message(
    submit: Run, sent: Sent, settings: SettingsWrapper, script: Script
) -> None:
    job = submit()
    assert jobs.sweep() == {"expired": 0, "resent": 0}  # just sent: not lost yet
    later = timezone.now() + dt.timedelta(seconds=settings.JOB_LOST_MESSAGE_SECONDS + 1)
    assert jobs.sweep(now=later)["resent"] == 1
    assert Job.objects.get(pk=job.pk).dispatch == 1


def test_sweeper_fails_jobs_past_their_deadline_and_refunds(submit: Run, script: Script) -> None:
    job = submit()
    past = job.deadline + dt.timedelta(seconds=1)
    assert jobs.sweep(now=past)["expired"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "deadline"
    assert Quota.objects.get(user=job.owner).active_jobs == 0


def test_a_restarted_worker_resumes_polling(
    submit: Run,
    step: Callable[[], Job],
    sent: Sent,
    script: Script,
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.JOB_LEASE_SECONDS = 60
    script.outcomes = [Pending("task-9", 10, 1.0), DONE]
    submit()
    step()
    job = step()
    assert job.vendor_ref == "task-9"
    # The worker that would poll dies after claiming; the sweeper re-sends.
    assert jobs._claim(*sent.last()) is not None
    later = timezone.now() + dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 5)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.sweep(now=later)
    step()
    assert len(script.submits) == 1
    assert script.polls == ["task-9"]


def test_local_engine_jobs_run_on_the_cpu_queue(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [DONE]
    submit("color_migration", "local", mode="AUTO", degree=0.5, color_count=1)
    job = step()
    assert job.status == JobStatus.RUNNING, job.error_message
    assert sent.messages[-1][2] == "cpu"
    job = step()
    assert job.status == JobStatus.STORING
    assert script.keys == [""]  # the built-in engine needs no key
    assert script.submits[0].params == {"mode": "AUTO", "degree": 0.5, "color_count": 1}


def test_our_own_rate_limit_waits_without_counting_an_attempt(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [
        VendorError("wait", retryable=True, code="rate_limited_local", retry_after=0.3),
        DONE,
    ]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.RUNNING
    assert (job.attempts, job.error_message) == (0, "")
    assert sent.messages[-1][3] == 0.3
    step()
    assert step().status == JobStatus.SUCCEEDED
