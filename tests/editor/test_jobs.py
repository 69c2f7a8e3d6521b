"""The job state machine, driven step by step in this process with a scripted vendor.

The real worker, broker and sandbox are exercised in tests/integration; here every message the
pipeline sends is captured, so each step, retry, duplicate and race can be checked exactly.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError as DatabaseOperationalError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError
from PIL import ImageOps
from prometheus_client import REGISTRY
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts import quotas
from accounts.models import Quota, StoredFile, User
from editor import (
    downloads,
    images,
    jobs,
    operations,
    outbound,
    pipeline,
    polling,
    storage,
    submissions,
)
from editor.images import ImageLimits
from editor.models import ACTIVE_STATUSES, Job, JobStatus, Result, Vendor, VendorKey
from editor.vendors.base import (
    Done,
    Pending,
    ResultImage,
    VendorError,
)
from limiter import core as limiter_core
from tests.factories import disk_bytes, stored
from tests.images import (
    SRGB,
    camera_jpeg,
    is_upright,
    make_image,
    open_image,
    phone_photo,
    photo,
    private_metadata,
)
from tests.scripted import Run, Script, Sent

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize(
    "orientation", [None, 6], ids=["fits-as-it-is", "turned-upright-in-a-fitted-copy"]
)
def test_the_vendor_gets_no_gps_serial_or_comment_but_the_profile(
    alice: User,
    picwish_key: VendorKey,
    step: Callable[[], Job],
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    orientation: int | None,
) -> None:
    """A camera photo as a person uploads it, through the one validator and on to the bytes
    the vendor adapter is handed."""
    script.outcomes = [DONE]
    operation = operations.get("colorize")
    upload = SimpleUploadedFile("camera.jpg", camera_jpeg(orientation=orientation))
    submission = submissions.validate(
        operation,
        alice,
        provider="picwish",
        values={"format": "jpg"},
        photos={"image": [submissions.Photo(upload, "camera.jpg")]},
    )
    with django_capture_on_commit_callbacks(execute=True):
        jobs.start(submission)
    step()
    step()
    sent = script.submits[0].files["image"].data
    assert private_metadata(sent) == set()
    image = open_image(sent)
    assert image.info["icc_profile"] == SRGB
    # Upright either way: still tagged to turn, or turned once in the fitted copy.
    assert ImageOps.exif_transpose(image).size == ((64, 96) if orientation else (96, 64))


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_sideways_phone_photo_reaches_the_vendor_upright_as_jpeg_and_says_so(
    alice: User,
    client: Client,
    picwish_key: VendorKey,
    step: Callable[[], Job],
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    fmt: str,
) -> None:
    """A HEIC or AVIF taken sideways, through the one validator and on to the vendor, which
    takes neither: a JPEG, upright, with the colour profile and nothing private; the job says
    it converted it and keeps the capture date and camera for downloads."""
    script.outcomes = [DONE]
    operation = operations.get("colorize")
    upload = SimpleUploadedFile("IMG_0001.HEIC", phone_photo(fmt))
    submission = submissions.validate(
        operation,
        alice,
        provider="picwish",
        values={"format": "jpg"},
        photos={"image": [submissions.Photo(upload, "IMG_0001.HEIC")]},
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.start(submission)
    assert isinstance(job, Job)
    stored_input = job.read_input("image")
    assert stored_input is not None
    assert images.format_of(stored_input) == fmt  # kept as sent, converted when fitted
    # Its XMP item is blanked where it lies (spaces): present, saying nothing.
    assert private_metadata(stored_input) <= {"xmp"}
    assert b"Secret place" not in stored_input
    assert b"PhoneCorp" not in stored_input
    assert b"Phone 15" in bytes(job.photo_exif)
    assert b"PhoneCorp" in bytes(job.photo_exif)
    step()
    job = step()
    sent = script.submits[0].files["image"]
    assert sent.media_type == "image/jpeg"
    image = open_image(sent.data)
    assert is_upright(ImageOps.exif_transpose(image))
    assert image.info["icc_profile"] == SRGB
    assert private_metadata(sent.data) == set()
    label = "HEIC" if fmt == "HEIF" else "AVIF"
    assert f"Converted from {label} to JPEG." in job.notes
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert f"Converted from {label} to JPEG." in page


# --- Light jobs: small photos, every step in the io worker ----------------------------------


@pytest.fixture
def light(script: Script, settings: SettingsWrapper) -> None:
    settings.JOB_LIGHT_PIXELS = 64 * 48  # after ``script``, which turns light jobs off


def test_a_light_synchronous_job_is_done_in_one_task(
    light: None, submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [DONE]
    job = submit()
    assert job.light
    assert sent.messages[-1][2] == "io"  # a small photo is fitted where the vendor is called

    job = step()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(sent.messages) == 1  # fit, call, store and thumbnail: no message in between
    assert set(job.prepared) == {"image"}
    assert script.submits[0].params == {"format": "jpg"}
    result = job.results.get()
    assert result.thumbnail.name
    assert (result.width, result.height) == (64, 48)
    assert job.lease_until is None
    assert Quota.objects.get(user=job.owner).active_jobs == 0


def test_a_light_asynchronous_job_takes_one_task_to_submit_and_one_per_poll(
    light: None, submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [Pending("task-1", 0, 1.0), Pending("task-1", 40, 1.0), DONE]
    submit()
    job = step()
    assert job.status == JobStatus.WAITING
    assert sent.messages[-1][2:] == ("io", 1.0)
    job = step()
    assert job.progress == 42
    job = step()
    assert job.status == JobStatus.SUCCEEDED
    assert len(sent.messages) == 3
    assert job.results.get().thumbnail.name


def test_a_light_job_with_a_big_result_has_it_thumbnailed_on_the_cpu_queue(
    light: None, submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    big = make_image((65, 48))  # one pixel column over the limit
    script.outcomes = [Done((ResultImage(big, "image/jpeg"),))]
    submit()
    job = step()
    assert job.status == JobStatus.STORING
    assert not job.light
    assert sent.messages[-1][2] == "cpu"
    job = step()
    assert job.status == JobStatus.SUCCEEDED


def test_a_photo_over_the_light_limit_is_fitted_on_the_cpu_queue(
    light: None, alice: User, picwish_key: VendorKey, sent: Sent, script: Script
) -> None:
    operation = operations.get("colorize")
    job = jobs.submit(
        owner=alice,
        operation=operation,
        provider=operation.provider("picwish"),
        params={"format": "jpg"},
        files={"image": make_image((64, 49))},
        key=picwish_key,
    )
    assert not job.light
    assert sent.messages == [] or sent.messages[-1][2] == "cpu"


def test_a_worker_that_dies_between_steps_of_one_task_leaves_a_lease_for_the_sweeper(
    light: None,
    submit: Run,
    sent: Sent,
    script: Script,
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [DONE]
    settings.JOB_LEASE_SECONDS = 60
    job = submit()
    claimed = pipeline._claim(*sent.last())
    assert claimed is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline._prepare(claimed) is claimed  # ... and the worker dies right here
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert job.lease_until is not None  # claimed for the step this task was about to do
    assert len(sent.messages) == 1  # so no message went out for it

    later = timezone.now() + dt.timedelta(seconds=61)
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.sweep(now=later)["resent"] == 1
    assert sent.messages[-1][2] == "io"
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.advance(*sent.last())
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert len(script.submits) == 1


def test_a_light_job_canceled_between_its_steps_stops(
    light: None,
    submit: Run,
    sent: Sent,
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [DONE]
    job = submit()
    claimed = pipeline._claim(*sent.last())
    assert claimed is not None
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline._prepare(claimed) is claimed
        jobs.cancel(job)
        assert pipeline._step(claimed) is None
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert script.submits == []  # nothing was sent for a canceled job


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
    pipeline.advance(str(job.pk), 0)
    pipeline.advance(str(job.pk), 0)  # redelivered: already moved on
    pipeline.advance(str(job.pk), 7)  # never sent
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert job.dispatch == 1


def test_a_claimed_step_is_not_run_twice_while_its_lease_holds(
    submit: Run, sent: Sent, script: Script
) -> None:
    job = submit()
    claimed = pipeline._claim(str(job.pk), 0)
    assert claimed is not None
    assert pipeline._claim(str(job.pk), 0) is None


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
    pipeline.advance(job_id, number)
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
    assert pipeline._claim(str(job.pk), 0) is not None  # a worker took it, then was killed
    later = timezone.now() + dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.sweep(now=later) == {"expired": 0, "last_polls": 0, "resent": 1}
    job.refresh_from_db()
    assert job.dispatch == 1
    assert sent.last() == (str(job.pk), 1)


def test_sweeper_resends_a_lost_message(
    submit: Run, sent: Sent, settings: SettingsWrapper, script: Script
) -> None:
    job = submit()
    assert pipeline.sweep() == {"expired": 0, "last_polls": 0, "resent": 0}  # not lost yet
    later = timezone.now() + dt.timedelta(seconds=settings.JOB_LOST_MESSAGE_SECONDS + 1)
    assert pipeline.sweep(now=later)["resent"] == 1
    assert Job.objects.get(pk=job.pk).dispatch == 1


def test_sweeper_fails_jobs_past_their_deadline_and_refunds(submit: Run, script: Script) -> None:
    job = submit()
    past = job.deadline + dt.timedelta(seconds=1)
    assert pipeline.sweep(now=past)["expired"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "deadline"
    assert Quota.objects.get(user=job.owner).active_jobs == 0


def test_a_step_picked_up_past_the_deadline_calls_no_vendor(
    submit: Run, step: Callable[[], Job], script: Script
) -> None:
    script.outcomes = [DONE]
    submit()
    job = step()  # fitted: the vendor call is next
    assert job.status == JobStatus.RUNNING
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    job = step()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "deadline")
    assert script.submits == []
    assert Quota.objects.get(user=job.owner).credits_this_month == 0


def test_a_vendor_task_is_still_collected_past_the_deadline(
    submit: Run, step: Callable[[], Job], script: Script
) -> None:
    script.outcomes = [Pending("task-1", poll_after=1), DONE]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.WAITING
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    job = step()  # paid for already: polled, not given up
    assert script.polls == ["task-1"]
    assert job.status == JobStatus.STORING


def test_a_stored_result_is_finished_even_past_the_deadline(
    submit: Run, step: Callable[[], Job], script: Script
) -> None:
    script.outcomes = [DONE]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.STORING
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    assert step().status == JobStatus.SUCCEEDED


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
    assert pipeline._claim(*sent.last()) is not None
    later = timezone.now() + dt.timedelta(seconds=settings.JOB_LEASE_SECONDS + 5)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.sweep(now=later)
    step()
    assert len(script.submits) == 1
    assert script.polls == ["task-9"]


def test_local_engine_jobs_run_on_the_cpu_queue(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    script.outcomes = [DONE]
    submit("color_migration", "local", mode="AUTO", degree=0.5, color_count=1)
    assert sent.messages[-1][2] == "cpu"
    job = step()
    # Every step of the built-in engine is cpu work: one task fits, colors, stores, thumbnails.
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(sent.messages) == 1
    assert script.keys == [""]  # the built-in engine needs no key
    assert script.submits[0].params == {"mode": "AUTO", "degree": 0.5, "color_count": 1}


# --- The key's rate budget, vendor 429s, cut-off submits and the first poll -------------------


class Clock(limiter_core.DatabaseStore):
    """The database store on a clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def _now(self) -> float:  # type: ignore[override]
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper) -> Clock:
    store = Clock()
    monkeypatch.setattr(limiter_core, "_store", lambda: store)
    settings.PICWISH_QPS = 1
    settings.RATE_LIMIT_MARGIN = 0.0
    return store


@pytest.fixture
def both_at_the_vendor_step(
    submit: Run, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> Callable[[], list[Job]]:
    """Two jobs on one key, fitted, then their vendor steps run one after the other."""

    def run() -> list[Job]:
        started = [submit(), submit()]
        for stage in range(2):
            for job in started:
                job.refresh_from_db()
                with django_capture_on_commit_callbacks(execute=True):
                    pipeline.advance(str(job.pk), job.dispatch)
            assert stage or all(job.status == JobStatus.QUEUED for job in started)
        return [Job.objects.get(pk=job.pk) for job in started]

    return run


def test_a_full_key_budget_reserves_the_next_slot_and_waits_for_exactly_it(
    both_at_the_vendor_step: Callable[[], list[Job]],
    step: Callable[[], Job],
    sent: Sent,
    script: Script,
    clock: Clock,
) -> None:
    script.outcomes = [DONE, DONE]
    waits = REGISTRY.get_sample_value("studio_limiter_waits_total", {"provider": "picwish"}) or 0
    first, second = both_at_the_vendor_step()
    assert first.status == JobStatus.STORING
    assert len(script.submits) == 1  # the second never reached the vendor
    # Counted for the metrics page (editor.instruments).
    assert REGISTRY.get_sample_value("studio_limiter_waits_total", {"provider": "picwish"}) == (
        waits + 1
    )
    assert second.status == JobStatus.RUNNING
    assert (second.attempts, second.error_message) == (0, "")  # waiting is no failed attempt
    assert second.rate_slot_at == 1_001.0
    assert sent.messages[-1][0] == str(second.pk)
    # Re-scheduled for its slot, a moment early for the broker's delivery delay.
    assert sent.messages[-1][3] == pytest.approx(1.0 - pipeline.WAKE_EARLY)

    clock.now = 1_001.0 - pipeline.WAKE_EARLY / 2  # woken early: the slot is still its own
    job = step()
    assert job.status == JobStatus.STORING
    assert job.rate_slot_at is None
    assert len(script.submits) == 2


def test_a_job_back_too_late_for_its_slot_takes_a_new_one(
    both_at_the_vendor_step: Callable[[], list[Job]],
    step: Callable[[], Job],
    script: Script,
    clock: Clock,
) -> None:
    script.outcomes = [DONE, DONE]
    both_at_the_vendor_step()
    clock.now = 1_003.5  # its slot was at 1001 and it is late; a slot is open now all the same
    job = step()
    assert job.status == JobStatus.STORING
    assert len(script.submits) == 2


def test_a_vendor_429_holds_the_key_for_every_job(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script, clock: Clock
) -> None:
    script.outcomes = [
        VendorError(
            "slow down", retryable=True, code="rate_limited", retry_after=30, throttled=True
        )
    ]
    first = submit()
    step()
    step()
    first.refresh_from_db()
    assert first.attempts == 1
    other = submit()
    step()
    clock.now = 1_010.0
    other = step()
    assert other.status == JobStatus.RUNNING
    assert other.rate_slot_at == 1_030.0  # after the vendor's 30 seconds, not the usual second
    assert len(script.submits) == 1


def test_a_rate_limit_store_that_is_down_sends_nothing_and_retries(
    submit: Run, step: Callable[[], Job], script: Script, settings: SettingsWrapper
) -> None:
    settings.PICWISH_QPS = 2
    settings.RATE_LIMIT_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    script.outcomes = [DONE]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.RUNNING
    assert job.error_code == "limiter_down"
    assert "nothing was sent to the vendor" in job.error_message
    assert job.attempts == 1
    assert script.submits == []


def test_a_wait_past_the_deadline_ends_the_job_saying_why(
    submit: Run, step: Callable[[], Job], script: Script, clock: Clock
) -> None:
    limiter_core.hold(outbound.vendor_budget("picwish", "sandbox-secret-1234"), 10 * 24 * 3600)
    submit()
    step()
    job = step()
    assert job.status == JobStatus.FAILED
    assert "rate limit for this key left no time" in job.error_message
    assert "continue in a moment" not in job.error_message
    assert script.submits == []


def test_a_submit_cut_off_after_it_left_is_sent_again_and_counted(
    submit: Run, step: Callable[[], Job], script: Script
) -> None:
    script.outcomes = [DONE]
    job = submit()
    step()
    # A worker recorded its intent, sent the submit and died before the answer was recorded.
    Job.objects.filter(pk=job.pk).update(submit_started_at=timezone.now())
    job = step()
    assert job.status == JobStatus.STORING
    assert job.double_submits == 1
    assert job.submit_started_at is None  # the outcome is recorded: no submit in flight
    quota = Quota.objects.get(user=job.owner)
    assert (quota.jobs_today, quota.credits_this_month) == (1, job.credits)  # charged once


def test_a_vendor_error_on_submit_is_no_double_submit(
    submit: Run, step: Callable[[], Job], script: Script
) -> None:
    script.outcomes = [VendorError("busy", retryable=True, code="http_503"), DONE]
    submit()
    step()
    job = step()
    assert job.submit_started_at is None
    step()
    assert step().double_submits == 0


def _finished(alice: User, seconds: float) -> None:
    job = Job.objects.create(
        owner=alice,
        operation="colorize",
        provider="picwish",
        status=JobStatus.SUCCEEDED,
        deadline=timezone.now(),
        charged_on=timezone.localdate(),
        finished_at=timezone.now(),
        vendor_seconds=seconds,
    )
    assert job.pk


def test_the_first_poll_comes_when_recent_tasks_were_usually_done(
    alice: User, submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    for seconds in (2.0, 3.0, 9.0):
        _finished(alice, seconds)
    polling._known.clear()
    script.outcomes = [Pending("task-1", 0, 1.0), Pending("task-1", 0, 1.0), DONE]
    submit()
    step()
    job = step()
    assert sent.messages[-1][3] == 3.0  # the median, not the documented second
    assert job.vendor_seconds == 3.0
    job = step()
    assert sent.messages[-1][3] == 1.0  # later polls keep to the documented cadence
    # Seen done at the second poll, one cadence after the first: the time it really took.
    Job.objects.filter(pk=job.pk).update(submitted_at=timezone.now() - dt.timedelta(seconds=4.5))
    step()
    assert Job.objects.get(pk=job.pk).vendor_seconds == pytest.approx(4.5, abs=0.5)


def test_without_history_the_first_poll_keeps_to_the_documented_cadence(
    submit: Run, step: Callable[[], Job], sent: Sent, script: Script
) -> None:
    polling._known.clear()
    script.outcomes = [Pending("task-1", 0, 5.0), DONE]
    submit()
    step()
    step()
    assert sent.messages[-1][3] == 5.0
    job = step()
    # Done at the first poll: recorded as the planned time, so the estimate does not creep.
    assert job.vendor_seconds == 5.0


# --- Stored bytes, house keys and key caps along the pipeline --------------------------------


def test_stored_bytes_follow_every_file_and_a_delete_gives_back_exactly_its_own(
    alice: User,
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [DONE, DONE]
    earlier = submit()
    for _ in range(3):
        step()
    before = stored(alice)
    assert before == disk_bytes(alice) > 0

    job = submit()
    assert (
        stored(alice)
        == disk_bytes(alice)
        == before + sum(default_storage.size(name) for name in job.inputs.values())
    )
    for expected in (JobStatus.RUNNING, JobStatus.STORING, JobStatus.SUCCEEDED):
        assert step().status == expected
        assert stored(alice) == disk_bytes(alice)  # fitted copy, result, thumbnail

    with django_capture_on_commit_callbacks(execute=True):
        freed = jobs.delete(job)
    assert freed > 0
    assert stored(alice) == disk_bytes(alice) == before
    assert Job.objects.filter(pk=earlier.pk).exists()


def test_a_step_run_again_replaces_its_files_and_frees_the_old_ones(
    alice: User,
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    two = Done(DONE.images * 2)
    script.outcomes = [two, DONE]
    job = submit()
    step()
    job = step()
    assert job.status == JobStatus.STORING
    assert job.results.count() == 2
    assert jobs.cancel(job)
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.retry(job)
    for _ in range(3):
        job = step()
    assert job.status == JobStatus.SUCCEEDED
    assert job.results.count() == 1
    # Only the files the job refers to are left, and the quota counts exactly them.
    folder = Path(settings.MEDIA_ROOT) / jobs.folder_of(job)
    on_disk = {str(path.relative_to(settings.MEDIA_ROOT)) for path in folder.iterdir()}
    assert on_disk == jobs._files_of(job)
    assert stored(alice) == disk_bytes(alice)


def test_a_step_run_again_drops_the_converted_downloads_of_the_old_results(
    alice: User,
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [DONE, DONE]
    job = submit()
    step()
    job = step()
    assert job.status == JobStatus.STORING
    old = job.results.get()
    with django_capture_on_commit_callbacks(execute=True):
        downloads.encode(old, {"format": "jpeg", "quality": 80})
    kept = downloads.conversion_name(old, {"format": "jpeg", "quality": 80})
    assert StoredFile.objects.filter(name=kept).exists()
    assert jobs.cancel(job)
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.retry(job)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            job = step()
    assert job.status == JobStatus.SUCCEEDED
    assert not default_storage.exists(kept)
    assert not StoredFile.objects.filter(name=kept).exists()
    folder = Path(settings.MEDIA_ROOT) / jobs.folder_of(job)
    on_disk = {str(path.relative_to(settings.MEDIA_ROOT)) for path in folder.iterdir()}
    assert on_disk == jobs._files_of(job)
    assert stored(alice) == disk_bytes(alice)


def test_a_step_that_finds_its_job_canceled_discards_what_it_stored(
    alice: User,
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script.outcomes = [DONE]
    small = ImageLimits(frozenset({"JPEG", "PNG"}), 5_000_000, 32, 32, 8, 8)
    provider = operations.get("colorize").provider("picwish")
    monkeypatch.setattr(provider.adapter, "limits", lambda operation, role: small)
    job = submit()  # the step scales the photo down: a fitted copy to store
    save_file = storage.save

    def save_then_cancel(owner_id: int, name: str, content: Any) -> str:
        stored_name = save_file(owner_id, name, content)
        jobs.cancel(Job.objects.get(pk=job.pk))  # canceled in another tab meanwhile
        return stored_name

    monkeypatch.setattr(storage, "save", save_then_cancel)
    job = step()
    assert job.status == JobStatus.CANCELED
    assert job.prepared == {}
    assert (
        stored(alice)
        == disk_bytes(alice)
        == sum(default_storage.size(name) for name in job.inputs.values())
    )


def test_results_stored_for_a_canceled_job_are_discarded(
    alice: User,
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script.outcomes = [DONE]
    job = submit()
    step()
    save_file = storage.save

    def save_then_cancel(owner_id: int, name: str, content: Any) -> str:
        stored_name = save_file(owner_id, name, content)
        jobs.cancel(Job.objects.get(pk=job.pk))
        return stored_name

    monkeypatch.setattr(storage, "save", save_then_cancel)
    job = step()
    assert job.status == JobStatus.CANCELED
    assert not Result.objects.filter(job=job).exists()
    assert stored(alice) == disk_bytes(alice)
    assert not any(
        name.startswith("result-")
        for name in os.listdir(Path(settings.MEDIA_ROOT) / jobs.folder_of(job))
    )


def test_a_failed_or_canceled_job_gives_its_credits_back_to_its_key(
    picwish_key: VendorKey, submit: Run, step: Callable[[], Job], script: Script
) -> None:
    picwish_key.monthly_credit_cap = 5
    picwish_key.save()
    script.outcomes = [VendorError("No.", retryable=False, code="x")]
    job = submit()
    picwish_key.refresh_from_db()
    assert picwish_key.credits_this_month == 1
    step()
    assert step().status == JobStatus.FAILED
    picwish_key.refresh_from_db()
    assert picwish_key.credits_this_month == 0

    job = submit()
    assert jobs.cancel(job)
    picwish_key.refresh_from_db()
    assert picwish_key.credits_this_month == 0

    script.outcomes = [DONE]
    submit()
    for _ in range(3):
        step()
    picwish_key.refresh_from_db()
    assert picwish_key.credits_this_month == 1  # a success keeps its charge


def test_a_key_that_worked_is_noted_once_in_a_while_and_its_stale_error_cleared(
    picwish_key: VendorKey, submit: Run, step: Callable[[], Job], script: Script
) -> None:
    script.outcomes = [DONE, DONE]
    submit()
    for _ in range(3):
        step()
    picwish_key.refresh_from_db()
    first = picwish_key.last_used_at
    assert first is not None
    # A second job moments later leaves the row alone: no write (and no lock) per job.
    submit()
    for _ in range(3):
        step()
    picwish_key.refresh_from_db()
    assert picwish_key.last_used_at == first
    # An error another job left on the key, or an old "last used", is written over.
    picwish_key.last_error = "The vendor says this key has no credits left."
    picwish_key.save()
    job = Job.objects.filter(key=picwish_key).select_related("key").latest("created_at")
    pipeline._key_worked(job)
    picwish_key.refresh_from_db()
    assert (picwish_key.last_error, picwish_key.last_used_at > first) == ("", True)
    VendorKey.objects.filter(pk=picwish_key.pk).update(
        last_used_at=timezone.now() - 2 * pipeline.KEY_USED_RESOLUTION
    )
    pipeline._key_worked(job)
    picwish_key.refresh_from_db()
    assert timezone.now() - picwish_key.last_used_at < pipeline.KEY_USED_RESOLUTION


def test_a_job_on_the_house_key_runs_on_its_secret_and_charges_its_owner(
    alice: User,
    bob: User,
    sent: Sent,
    script: Script,
    step: Callable[[], Job],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    house = VendorKey(owner=None, vendor=Vendor.PICWISH, label="Studio")
    house.set_secret("sandbox-house-5678")
    house.save()
    operation = operations.get("colorize")
    script.outcomes = [DONE]
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.submit(
            owner=alice,
            operation=operation,
            provider=operation.default_provider,
            params={"format": "jpg"},
            files={"image": make_image((64, 48))},
            key=house,
        )
    assert (job.key_id, job.house_key) == (house.pk, True)
    for _ in range(3):
        job = step()
    assert job.status == JobStatus.SUCCEEDED
    assert script.keys == ["sandbox-house-5678"]
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month) == (1, 1)
    assert not Quota.objects.filter(user=bob).exists()


def test_a_job_never_runs_on_another_persons_key(alice: User, bob: User) -> None:
    bobs = VendorKey(owner=bob, vendor=Vendor.PICWISH, label="Bob's")
    bobs.set_secret("sandbox-bob-0000")
    bobs.save()
    operation = operations.get("colorize")
    with pytest.raises(ValueError, match="own key"):
        jobs.submit(
            owner=alice,
            operation=operation,
            provider=operation.default_provider,
            params={"format": "jpg"},
            files={"image": make_image((64, 48))},
            key=bobs,
        )
    assert not Job.objects.exists()


# --- Submitting a batch: a fixed number of queries, one message per job ------------------------


def submit_batch(owner: User, key: VendorKey | None, count: int) -> tuple[Any, list[Job]]:
    operation = operations.get("colorize")
    return jobs.submit_batch(
        owner=owner,
        operation=operation,
        provider=operation.default_provider,
        params={"format": "jpg"},
        photos=[(make_image((64 + index, 48)), f"photo {index}.jpg") for index in range(count)],
        files={},
        key=key,
    )


def test_a_batch_takes_the_same_queries_whatever_its_size(
    alice: User, picwish_key: VendorKey, settings: SettingsWrapper
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 100
    submit_batch(alice, picwish_key, 2)  # the quota row and the key's month exist from now on
    with CaptureQueriesContext(connection) as two:
        submit_batch(alice, picwish_key, 2)
    with CaptureQueriesContext(connection) as twelve:
        submit_batch(alice, picwish_key, 12)
    assert len(twelve) == len(two)


def test_a_batch_rings_once_per_job_after_commit(
    alice: User,
    picwish_key: VendorKey,
    sent: Sent,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _batch, made = submit_batch(alice, picwish_key, 3)
    assert sent.messages == []  # nothing before the commit
    for callback in callbacks:
        callback()
    # Small photos: each job's first step goes where its vendor is called.
    assert sent.messages == [(str(job.pk), 0, "io", 0) for job in made]


def test_a_batchs_jobs_keep_the_photos_order(alice: User, picwish_key: VendorKey) -> None:
    batch, made = submit_batch(alice, picwish_key, 4)
    assert [job.photo_name for job in made] == [f"photo {index}.jpg" for index in range(4)]
    stored_order = list(batch.jobs.order_by("created_at", "pk").values_list("pk", flat=True))
    assert stored_order == [job.pk for job in made]
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month, quota.active_jobs) == (4, 4, 4)
    assert quota.stored_bytes == disk_bytes(alice)


def test_a_batch_past_the_keys_cap_says_what_one_job_at_a_time_meets(
    alice: User, picwish_key: VendorKey, settings: SettingsWrapper
) -> None:
    picwish_key.monthly_credit_cap = 2
    picwish_key.save()
    with pytest.raises(quotas.QuotaExceeded) as caught:
        submit_batch(alice, picwish_key, 3)
    assert caught.value.limit == "key_cap"
    assert caught.value.message.startswith(
        "A batch of 3 photos is a job each, which would pass a limit: This job needs 1 "
        "credits and your key “Mine” has 0 of its monthly cap of 2 left. The cap resets on "
    )
    picwish_key.refresh_from_db()
    assert picwish_key.credits_this_month == 0
    assert not Job.objects.exists()
    assert not Quota.objects.filter(user=alice, jobs_today__gt=0).exists()
    assert disk_bytes(alice) == 0


def test_a_batch_charges_the_quota_before_the_keys_cap_as_one_by_one(
    alice: User, picwish_key: VendorKey, settings: SettingsWrapper
) -> None:
    """The third job passes the waiting-jobs limit (one running, one waiting) before it passes
    the key's cap: the refusal is the waiting limit's, as when the jobs were counted one at a
    time."""
    settings.QUOTA_CONCURRENT_JOBS = 1
    settings.QUOTA_WAITING_JOBS = 1
    picwish_key.monthly_credit_cap = 2
    picwish_key.save()
    with pytest.raises(quotas.QuotaExceeded) as caught:
        submit_batch(alice, picwish_key, 3)
    assert caught.value.limit == "waiting_jobs"


class Killed(BaseException):
    """The worker's process dies here (not an error the step could catch)."""


def test_a_result_written_but_never_counted_is_replaced_without_touching_the_count(
    alice: User,
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker killed between writing a file and counting it: the step's next run finds the
    file, and the ledger says it was never counted, so replacing it gives nothing back."""
    script.outcomes = [DONE, DONE]
    job = submit()
    step()  # fitted: the vendor call is next
    count_file = quotas.count_file

    def killed(user_id: int, name: str, size: int) -> None:
        raise Killed

    monkeypatch.setattr(quotas, "count_file", killed)
    with pytest.raises(Killed):
        step()
    monkeypatch.setattr(quotas, "count_file", count_file)
    leftover = Path(settings.MEDIA_ROOT) / jobs.folder_of(job) / "result-0.jpg"
    assert leftover.exists()  # written, never counted
    assert stored(alice) == disk_bytes(alice) - leftover.stat().st_size

    # The sweeper hands the step to another worker once the lease is over.
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    job = step()
    assert job.status == JobStatus.STORING
    job = step()
    assert job.status == JobStatus.SUCCEEDED
    assert stored(alice) == disk_bytes(alice)
    assert stored(alice) == sum(
        StoredFile.objects.filter(user=alice).values_list("bytes", flat=True)
    )
    assert set(StoredFile.objects.filter(user=alice).values_list("name", flat=True)) == (
        jobs._files_of(job)
    )


def test_every_file_of_a_job_is_in_the_ledger_and_leaves_it_when_the_job_is_deleted(
    alice: User,
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [DONE]
    job = submit()
    for _ in range(3):
        job = step()
    assert job.status == JobStatus.SUCCEEDED
    ledger = dict(StoredFile.objects.filter(user=alice).values_list("name", "bytes"))
    assert set(ledger) == jobs._files_of(job)
    assert ledger == {name: default_storage.size(name) for name in ledger}
    assert stored(alice) == sum(ledger.values()) == disk_bytes(alice)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.delete(job)
    assert not StoredFile.objects.filter(user=alice).exists()
    assert stored(alice) == disk_bytes(alice) == 0


def waiting_past_its_deadline(submit: Run, step: Callable[[], Job], poll_in: float) -> Job:
    """An asynchronous job whose vendor task was submitted, with its deadline just gone and
    its next poll due in ``poll_in`` seconds."""
    submit()
    step()
    job = step()
    assert job.status == JobStatus.WAITING
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        deadline=now - dt.timedelta(seconds=1), due_at=now + dt.timedelta(seconds=poll_in)
    )
    return Job.objects.get(pk=job.pk)


def test_a_job_past_its_deadline_is_polled_once_more_and_its_result_kept(
    submit: Run,
    step: Callable[[], Job],
    sent: Sent,
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [Pending("task-1", poll_after=30), DONE]
    job = waiting_past_its_deadline(submit, step, poll_in=-5)
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.sweep() == {"expired": 0, "last_polls": 1, "resent": 0}
    assert sent.last() == (str(job.pk), job.dispatch + 1)
    job = step()
    assert script.polls == ["task-1"]
    assert job.status == JobStatus.STORING
    assert step().status == JobStatus.SUCCEEDED
    assert Quota.objects.get(user=job.owner).credits_this_month == job.credits


def test_a_job_still_pending_at_its_last_poll_fails_and_is_refunded(
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [Pending("task-1", poll_after=30), Pending("task-1", 60, 5.0)]
    job = waiting_past_its_deadline(submit, step, poll_in=-5)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.sweep()
    job = step()
    assert script.polls == ["task-1"]
    assert (job.status, job.error_code) == (JobStatus.FAILED, "deadline")
    assert Quota.objects.get(user=job.owner).credits_this_month == 0
    # Nothing more: a second sweep finds no job to poll or expire.
    assert pipeline.sweep() == {"expired": 0, "last_polls": 0, "resent": 0}


def test_the_last_poll_is_left_to_the_message_on_its_way_or_the_worker_on_it(
    submit: Run,
    step: Callable[[], Job],
    sent: Sent,
    script: Script,
    settings: SettingsWrapper,
) -> None:
    script.outcomes = [Pending("task-1", poll_after=30), DONE]
    job = waiting_past_its_deadline(submit, step, poll_in=3)  # due after the deadline anyway
    assert pipeline.sweep()["last_polls"] == 0
    assert pipeline._claim(*sent.last()) is not None  # a worker is polling it now
    assert pipeline.sweep()["last_polls"] == 0
    assert Job.objects.get(pk=job.pk).status == JobStatus.WAITING
    # No poll came within the window (the worker died): the job ends.
    later = job.deadline + dt.timedelta(seconds=settings.JOB_LAST_POLL_SECONDS + 1)
    assert pipeline.sweep(now=later)["expired"] == 1
    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "deadline")


def test_a_job_submitted_while_the_broker_is_down_is_kept_and_sent_by_the_sweeper(
    client: Client,
    alice: User,
    picwish_key: VendorKey,
    sent: Sent,
    settings: SettingsWrapper,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    def unreachable(name: str, args: tuple[Any, ...] = (), **options: Any) -> Any:
        raise OperationalError("Error 111 connecting to redis://:hunter2@10.0.0.5:6379/0.")

    working = current_app.send_task
    monkeypatch.setattr(current_app, "send_task", unreachable)
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("editor:operation", args=["colorize"]),
            {"provider": "picwish", "format": "jpg", "file_image": photo()},
        )
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("editor:job", args=[job.pk])
    assert job.status == JobStatus.QUEUED
    assert "the sweeper will send it" in caplog.text
    assert "hunter2" not in caplog.text
    monkeypatch.setattr(current_app, "send_task", working)  # the broker is back
    later = timezone.now() + dt.timedelta(seconds=settings.JOB_LOST_MESSAGE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.sweep(now=later)["resent"] == 1
    assert sent.last() == (str(job.pk), 1)


def crash_every_fit(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def fit(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(images, "fit", fit)


def test_a_crash_that_comes_back_every_time_ends_the_job_after_two_more_tries(
    submit: Run,
    step: Callable[[], Job],
    sent: Sent,
    script: Script,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    crash_every_fit(monkeypatch, ValueError("cannot use transparency for this mode"))
    job = submit()
    tries = 0
    while job.status == JobStatus.QUEUED:
        job = step()
        tries += 1
    assert tries == 3
    assert (job.status, job.error_code) == (JobStatus.FAILED, pipeline.INTERNAL_FAILURE)
    assert "makes our own processing fail every time" in job.error_message
    assert "transparency" not in job.error_message  # the exception stays in the log
    # The reference in the message finds the traceback in the log.
    reference = re.search(r"reference ([0-9a-f]{8})", job.error_message)
    assert reference is not None
    logged = [r for r in caplog.records if f"incident {reference.group(1)}" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert Quota.objects.get(user=job.owner).credits_this_month == 0


def test_pillow_failing_on_a_photo_ends_the_job_at_once_with_a_clear_refusal(
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A photo that decodes but that Pillow cannot convert or save: the same on every try, so
    one try, a refusal that says what to do, and the credits back."""

    def encode(*args: Any, **kwargs: Any) -> bytes:
        raise ValueError("cannot write mode PA as JPEG")

    monkeypatch.setattr(images, "_encode", encode)
    monkeypatch.setattr(images, "_orientation", lambda image: 6)  # to be turned: re-encoded
    job = submit()
    job = step()
    assert (job.status, job.error_code, job.attempts) == (JobStatus.FAILED, "invalid_image", 0)
    assert "could not be processed" in job.error_message
    assert "mode PA" not in job.error_message
    assert Quota.objects.get(user=job.owner).credits_this_month == 0


def test_the_studios_own_services_failing_is_retried_until_the_deadline(
    submit: Run,
    step: Callable[[], Job],
    script: Script,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crash_every_fit(monkeypatch, DatabaseOperationalError("server closed the connection"))
    job = submit()
    for _ in range(6):
        job = step()
    assert (job.status, job.error_code) == (JobStatus.QUEUED, pipeline.INTERNAL)
    assert job.attempts == 6
    crash_every_fit(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    job = step()
    assert (job.status, job.error_code, job.attempts) == (JobStatus.QUEUED, "internal", 7)


def test_a_job_that_runs_out_of_time_while_retrying_says_it_ended(
    submit: Run, script: Script
) -> None:
    job = submit()
    Job.objects.filter(pk=job.pk).update(
        error_code="limiter_down",
        error_message="The studio could not check this key's rate limit, so nothing was sent "
        "to the vendor. The job will try again shortly.",
    )
    assert pipeline.sweep(now=job.deadline + dt.timedelta(seconds=1))["expired"] == 1
    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "limiter_down")
    assert job.error_message == (
        "The studio could not check this key's rate limit, so nothing was sent to the vendor. "
        "The job stopped trying at its deadline; your credits were refunded."
    )


# --- The waiting line: a batch larger than the concurrent-jobs limit --------------------------


def test_a_batch_of_20_with_5_slots_waits_its_turn_and_ends_with_20_results(
    alice: User,
    picwish_key: VendorKey,
    sent: Sent,
    script: Script,
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 5
    script.outcomes = [DONE] * 20
    with django_capture_on_commit_callbacks(execute=True):
        _batch, made = submit_batch(alice, picwish_key, 20)
    assert [job.status for job in made] == [JobStatus.QUEUED] * 5 + [JobStatus.PENDING] * 15
    assert [message[0] for message in sent.messages] == [str(job.pk) for job in made[:5]]
    # Every message is delivered in the order sent, as one worker would take them; each job
    # that ends hands its slot to the next waiting one.
    delivered = 0
    most_running = 0
    while delivered < len(sent.messages):
        job_id, number, _queue, _countdown = sent.messages[delivered]
        delivered += 1
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.advance(job_id, number)
        running = Job.objects.filter(owner=alice, status__in=ACTIVE_STATUSES).count()
        assert running == Quota.objects.get(user=alice).active_jobs <= 5
        most_running = max(most_running, running)
    assert most_running == 5
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    assert Result.objects.filter(job__in=made).count() == 20
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.active_jobs, quota.waiting_jobs) == (20, 0, 0)
    assert len(script.submits) == 20
    # Oldest first: the jobs took their slots in the photos' order.
    first_messages = []
    for job_id, *_rest in sent.messages:
        if job_id not in first_messages:
            first_messages.append(job_id)
    assert first_messages == [str(job.pk) for job in made]
