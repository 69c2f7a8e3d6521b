"""Every operation end to end: submit -> real worker -> sandbox over HTTP -> stored result."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts.models import Quota, User
from editor import jobs, operations
from editor.models import (
    ACTIVE_STATUSES,
    UNFINISHED_STATUSES,
    Job,
    JobStatus,
    Result,
    Vendor,
    VendorKey,
)
from tests.factories import make_key, make_user
from tests.images import make_image, open_image
from tests.integration.conftest import SpawnWorker, VendorCalls, WaitFor, Worker

pytestmark = [pytest.mark.integration]


def submit(
    user: User,
    slug: str,
    provider: str,
    params: dict[str, Any],
    files: dict[str, bytes],
    key: VendorKey | None,
) -> Job:
    operation = operations.get(slug)
    return jobs.submit(
        owner=user,
        operation=operation,
        provider=operation.provider(provider),
        params=params,
        files=files,
        key=key,
    )


PHOTO = make_image((320, 240), color=(90, 90, 90))
FACE = make_image((256, 256), color=(200, 160, 140))

CASES = [
    ("colorize", "picwish", Vendor.PICWISH, {"format": "png"}, {"image": PHOTO}, "image/png"),
    ("retouch", "ailabtools", Vendor.AILABTOOLS, {}, {"image": PHOTO, "style": FACE}, None),
    (
        "extend",
        "ailabtools",
        Vendor.AILABTOOLS,
        {"top": 0.2, "bottom": 0.1, "left": 0.0, "right": 0.3, "steps": 30, "seed": 0},
        {"image": PHOTO},
        None,
    ),
    (
        "expression",
        "ailabtools",
        Vendor.AILABTOOLS,
        {"service_choice": "12"},
        {"image": FACE},
        None,
    ),
    (
        "expression",
        "ailabtools_advanced",
        Vendor.AILABTOOLS,
        {"expression": "natural_smile"},
        {"image": FACE},
        None,
    ),
]


@pytest.mark.parametrize(
    ("slug", "provider", "vendor", "params", "files", "media_type"),
    CASES,
    ids=[f"{case[0]}-{case[1]}" for case in CASES],
)
def test_each_vendor_operation_runs_end_to_end(
    worker: Worker,
    wait_for_end: WaitFor,
    slug: str,
    provider: str,
    vendor: Vendor,
    params: dict[str, Any],
    files: dict[str, bytes],
    media_type: str | None,
) -> None:
    user = make_user("runner")
    secret = f"sandbox-{slug}-{provider}"
    key = make_key(user, vendor, secret, label=secret[-20:])
    job = wait_for_end(submit(user, slug, provider, params, files, key))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    result = job.results.get()
    with default_storage.open(result.file.name, "rb") as handle:
        stored = handle.read()
    assert len(stored) == result.bytes > 0
    if media_type:
        assert result.media_type == media_type
    assert open_image(stored).size == (result.width, result.height)
    if slug == "extend":
        assert result.width > 320
    assert result.thumbnail.name
    assert Quota.objects.get(user=user).active_jobs == 0
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert secret not in worker.log.read_text(errors="replace")


def test_picwish_in_its_blocking_mode_is_one_request_and_no_poll(
    spawn_worker: SpawnWorker, wait_for_end: WaitFor, vendor_calls: VendorCalls
) -> None:
    spawn_worker("blocking", PICWISH_SYNC="true")
    user = make_user("blocking")
    secret = "sandbox-colorize-blocking"
    key = make_key(user, Vendor.PICWISH, secret)
    job = wait_for_end(
        submit(user, "colorize", "picwish", {"format": "png"}, {"image": PHOTO}, key)
    )
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.vendor_ref == ""  # PicWish answered with the photo: no task to poll
    assert vendor_calls.submits(secret) == 1
    assert job.vendor_seconds is not None
    assert job.results.get().media_type == "image/png"


def test_built_in_color_migration_runs_in_the_worker(worker: Worker, wait_for_end: WaitFor) -> None:
    user = make_user("painter")
    job = submit(
        user,
        "color_migration",
        "local",
        {"mode": "AUTO", "degree": 0.6, "color_count": 3},
        {"image": make_image((300, 200), color=(40, 120, 200))},
        None,
    )
    job = wait_for_end(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.results.count() == 3
    assert job.credits == 0


def test_retired_vendor_color_migration_points_to_the_built_in_engine(
    worker: Worker, wait_for_end: WaitFor
) -> None:
    user = make_user("legacy")
    key = make_key(user, Vendor.AILABTOOLS, "sandbox-migration", label="sandbox-migration")
    job = submit(
        user,
        "color_migration",
        "ailabtools",
        {"mode": "AUTO", "degree": 0.4, "color_count": 1},
        {"image": PHOTO},
        key,
    )
    job = wait_for_end(job)
    assert job.status == JobStatus.FAILED
    assert "built-in engine" in job.error_message
    assert Quota.objects.get(user=user).credits_this_month == 0  # refunded


@pytest.mark.parametrize(
    ("secret", "status", "words"),
    [
        ("sandbox-fault-error-ERROR_APPLICATIONS_NOT_EXISTS-k", JobStatus.FAILED, "key"),
        ("sandbox-fault-error-ERROR_NOT_ENOUGH_CREDITS-a", JobStatus.FAILED, "credits"),
        ("sandbox-fault-error-ERROR_NO_FACE_IN_FILE-b", JobStatus.FAILED, "face"),
        ("sandbox-fault-flaky-2-c", JobStatus.SUCCEEDED, ""),
        ("sandbox-fault-badjson-d", JobStatus.FAILED, ""),
        ("sandbox-resultfault-expired-e", JobStatus.FAILED, "expired"),
    ],
)
def test_vendor_faults_end_in_a_clear_state(
    worker: Worker,
    wait_for_end: WaitFor,
    settings: Any,
    secret: str,
    status: str,
    words: str,
) -> None:
    user = make_user("faulty")
    key = make_key(user, Vendor.AILABTOOLS, secret, label=secret[-20:])
    job = submit(user, "retouch", "ailabtools", {}, {"image": PHOTO, "style": FACE}, key)
    # Faults that stay retryable end at the deadline: keep it short for the test.
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() + dt.timedelta(seconds=8))
    job = wait_for_end(job, timeout=30)
    assert job.status == status, job.error_message
    assert words.lower() in job.error_message.lower()
    assert secret not in job.error_message
    assert secret not in worker.log.read_text(errors="replace")
    if status == JobStatus.FAILED:
        assert Quota.objects.get(user=user).credits_this_month == 0


def test_a_batch_of_20_with_5_slots_waits_its_turn_and_ends_with_20_results(
    worker: Worker, wait_for_end: WaitFor, settings: SettingsWrapper
) -> None:
    """Past the concurrent-jobs limit the batch is accepted; each job that ends in the worker
    hands its slot to the next waiting one, and never more than 5 run at once."""
    settings.QUOTA_CONCURRENT_JOBS = 5
    user = make_user("batcher")
    key = make_key(user, Vendor.AILABTOOLS, "sandbox-queue-batch")
    operation = operations.get("retouch")
    _batch, made = jobs.submit_batch(
        owner=user,
        operation=operation,
        provider=operation.provider("ailabtools"),
        params={},
        photos=[(make_image((320 + index, 240)), f"photo {index}.jpg") for index in range(20)],
        files={"style": FACE},
        key=key,
    )
    assert [job.status for job in made] == [JobStatus.QUEUED] * 5 + [JobStatus.PENDING] * 15
    deadline = time.monotonic() + 180
    while Job.objects.filter(owner=user, status__in=UNFINISHED_STATUSES).exists():
        quota = Quota.objects.get(user=user)
        running = Job.objects.filter(owner=user, status__in=ACTIVE_STATUSES).count()
        assert quota.active_jobs <= 5
        assert running <= 5
        assert time.monotonic() < deadline, f"{running} running, {quota.waiting_jobs} waiting"
        time.sleep(0.2)
    ended = [wait_for_end(job) for job in made]
    assert [job.status for job in ended] == [JobStatus.SUCCEEDED] * 20, [
        job.error_message for job in ended
    ]
    assert Result.objects.filter(job__owner=user).count() == 20
    quota = Quota.objects.get(user=user)
    assert (quota.jobs_today, quota.active_jobs, quota.waiting_jobs) == (20, 0, 0)


UNREADABLE = "The vendor answered but the answer was unreadable; it may have charged you."


@pytest.mark.parametrize(
    ("slug", "provider", "vendor", "params", "files", "marker"),
    [
        # Synchronous AILabTools: a 200 that is not JSON, and one cut off half way.
        (
            "retouch",
            "ailabtools",
            Vendor.AILABTOOLS,
            {},
            {"image": PHOTO, "style": FACE},
            "badjson",
        ),
        (
            "retouch",
            "ailabtools",
            Vendor.AILABTOOLS,
            {},
            {"image": PHOTO, "style": FACE},
            "truncated",
        ),
        # PicWish in its blocking mode (PICWISH_SYNC, the default).
        ("colorize", "picwish", Vendor.PICWISH, {"format": "png"}, {"image": PHOTO}, "truncated"),
        # An asynchronous create: "in doubt", failed the same way rather than resent.
        (
            "expression",
            "ailabtools_advanced",
            Vendor.AILABTOOLS,
            {"expression": "natural_smile"},
            {"image": FACE},
            "badjson",
        ),
    ],
)
def test_an_unreadable_answer_to_a_submit_is_never_sent_again_on_our_own(
    worker: Worker,
    wait_for_end: WaitFor,
    vendor_calls: VendorCalls,
    slug: str,
    provider: str,
    vendor: Vendor,
    params: dict[str, Any],
    files: dict[str, bytes],
    marker: str,
) -> None:
    user = make_user("doubtful")
    secret = f"sandbox-fault-{marker}-{provider}"
    key = make_key(user, vendor, secret)
    job = wait_for_end(submit(user, slug, provider, params, files, key), timeout=30)
    assert job.status == JobStatus.FAILED
    assert (job.error_code, job.error_message) == ("unreadable_answer", UNREADABLE)
    assert vendor_calls.submits(secret) == 1
    assert job.attempts == 0
    assert Quota.objects.get(user=user).credits_this_month == 0  # refunded

    # Resending is the person's choice: one Retry, one more call, and no "cut off" submit.
    job = wait_for_end(jobs.retry(job), timeout=30)
    assert job.status == JobStatus.FAILED
    assert job.error_code == "unreadable_answer"
    assert vendor_calls.submits(secret) == 2
    assert job.double_submits == 0
    assert secret not in worker.log.read_text(errors="replace")
