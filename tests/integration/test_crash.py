"""Crashes in the middle of jobs: a worker SIGKILLed at each stage of a job, the broker restarted
with its messages lost, the database connections of a worker cut. Each time the sweeper (run
here as beat runs it) must bring every job to an end, stored once and paid for no more than the
crash forces: an asynchronous job is never submitted twice, a synchronous one at most once
more per kill.

The worker stops at a stage through tests.integration.crash_worker (no hooks in product code).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts.models import Quota
from editor import jobs, operations, pipeline
from editor.models import Job, JobStatus, Vendor, VendorKey
from editor.sandbox.state import STARTING_CREDITS, STATE
from tests.factories import make_user
from tests.images import make_image
from tests.integration.conftest import SpawnWorker, VendorCalls, WaitFor, Worker
from tests.redis_server import PrivateRedis

pytestmark = [pytest.mark.integration]

PHOTO = make_image((320, 240), color=(90, 90, 90))
FACE = make_image((256, 256), color=(200, 160, 140))
CRASH_APP = "tests.integration.crash_worker"
# The crash worker's leases are short so that "later" (when the sweeper takes a killed
# worker's steps for lost) stays well inside every job's deadline.
CRASH_LEASE_SECONDS = 30
# What the sandbox's AILabTools endpoints charge a call (editor/sandbox/ailabtools.py CREDITS).
AILAB_CREDITS = {"retouch": 3, "expression": 15}


@dataclass(frozen=True)
class Kind:
    slug: str
    provider: str
    vendor: Vendor
    params: Mapping[str, Any]
    files: Mapping[str, bytes]


RETOUCH = Kind("retouch", "ailabtools", Vendor.AILABTOOLS, {}, {"image": PHOTO, "style": FACE})
COLORIZE = Kind("colorize", "picwish", Vendor.PICWISH, {"format": "png"}, {"image": PHOTO})
ADVANCED = Kind(
    "expression",
    "ailabtools_advanced",
    Vendor.AILABTOOLS,
    {"expression": "natural_smile"},
    {"image": FACE},
)


@dataclass
class Started:
    """A job submitted by a test, with the one key it runs on."""

    job: Job
    kind: Kind
    secret: str

    def paid(self, calls: VendorCalls) -> int:
        """How often the vendor accepted a submit for this job. For AILabTools the credits it
        charged must tell the same."""
        submits = calls.submits(self.secret)
        if self.kind.vendor == Vendor.AILABTOOLS:
            spent = STARTING_CREDITS - STATE.balance(self.secret)
            assert spent == submits * AILAB_CREDITS[self.kind.slug], (spent, submits)
        return submits


def start_job(kind: Kind, name: str, photo_name: str = "") -> Started:
    """A job of its own person (their quota and storage are this job's alone) on a key of
    its own (the sandbox counts per key)."""
    user = make_user(name)
    secret = f"sandbox-crash-{name}"
    key = VendorKey(owner=user, vendor=kind.vendor, label=name)
    key.set_secret(secret)
    key.save()
    operation = operations.get(kind.slug)
    job = jobs.submit(
        owner=user,
        operation=operation,
        provider=operation.provider(kind.provider),
        params=kind.params,
        files=kind.files,
        key=key,
        photo_name=photo_name,
    )
    return Started(job=job, kind=kind, secret=secret)


def later() -> dt.datetime:
    """A moment at which beat's sweeper takes every killed worker's step for lost (its lease
    expired, or its message due long ago), well before any job's deadline."""
    wait = max(CRASH_LEASE_SECONDS, django_settings.JOB_LOST_MESSAGE_SECONDS) + 30
    return timezone.now() + dt.timedelta(seconds=wait)


def assert_stored_once(job: Job, results: int = 1) -> None:
    """The job's rows name exactly the files in its folder (no orphan, no duplicate), as many
    results as the vendor gave, and its owner's storage count is the bytes on disk."""
    names = {*job.inputs.values(), *job.prepared.values()}
    rows = list(job.results.order_by("position"))
    assert [row.position for row in rows] == list(range(results))
    for row in rows:
        assert row.file.name, row
        assert row.thumbnail.name, row
        names |= {row.file.name, row.thumbnail.name}
    media = Path(django_settings.MEDIA_ROOT)
    folder = media / "jobs" / str(job.owner_id) / str(job.pk)
    on_disk = {str(path.relative_to(media)) for path in folder.iterdir()}
    assert on_disk == names, f"orphans {on_disk - names}, missing {names - on_disk}"
    owner = media / "jobs" / str(job.owner_id)
    disk_bytes = sum(path.stat().st_size for path in owner.rglob("*") if path.is_file())
    assert Quota.objects.get(user_id=job.owner_id).stored_bytes == disk_bytes


def assert_ended_cleanly(started: Started, calls: VendorCalls, submits: int) -> None:
    job = started.job
    assert job.status == JobStatus.SUCCEEDED, f"{job.photo_name}: {job.error_message}"
    assert Quota.objects.get(user_id=job.owner_id).active_jobs == 0
    assert_stored_once(job)
    assert started.paid(calls) == submits, job.photo_name


def wait_for_files(folder: Path, names: list[str], worker: Worker, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all((folder / name).exists() for name in names):
        if time.monotonic() > deadline or not worker.alive:
            missing = [name for name in names if not (folder / name).exists()]
            raise AssertionError(f"never reached {missing}:\n{worker.output()[-4000:]}")
        time.sleep(0.05)


# --- A worker killed at each stage --------------------------------------------------------------


@dataclass(frozen=True)
class Crash:
    stage: str  # where the worker is killed (tests/integration/crash_worker.py)
    tag: str
    kind: Kind
    submits: int  # how often the vendor is paid in the end
    # Submits the job counts as possibly sent twice: killed between recording a submit and
    # recording its outcome (the vendor may or may not have had it; neither can be asked).
    doubles: int = 0


CRASHES = (
    Crash("prepare", "sync", RETOUCH, 1),
    Crash("submit", "sync", RETOUCH, 1, doubles=1),
    Crash("submit", "async", COLORIZE, 1, doubles=1),
    # The vendor answered and the answer died with the worker: a synchronous job is paid once
    # more per kill, no more.
    Crash("submitted", "sync", RETOUCH, 2, doubles=1),
    Crash("poll", "async", COLORIZE, 1),
    Crash("poll", "advanced", ADVANCED, 1),
    Crash("store", "sync", RETOUCH, 2, doubles=1),
    Crash("store", "async", COLORIZE, 1),
    Crash("thumbnail", "sync", RETOUCH, 1),
)
# Killed with the result rows written but not committed: they roll back, the answer is lost.
# SQLite's write lock would hold every other job still for that while: PostgreSQL only.
COMMIT = Crash("commit", "sync", RETOUCH, 2, doubles=1)


def test_a_worker_killed_at_any_stage_leaves_every_job_ended_stored_once_and_paid_once(
    spawn_worker: SpawnWorker, wait_for_end: WaitFor, vendor_calls: VendorCalls, tmp_path: Path
) -> None:
    # One worker holds one job at each stage at once (each has a thread of its own), then it
    # is killed: one kill, one restart for every stage.
    crashes = (*CRASHES, COMMIT) if connection.vendor == "postgresql" else CRASHES
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    crashing = spawn_worker(
        "crashing",
        app=CRASH_APP,
        concurrency=len(crashes) + 4,
        CRASH_DIR=str(crash_dir),
        CRASH_PAUSE_AT=",".join(sorted({crash.stage for crash in crashes})),
        JOB_LEASE_SECONDS=str(CRASH_LEASE_SECONDS),
    )
    started = [
        (
            crash,
            start_job(crash.kind, f"{crash.stage}-{crash.tag}", f"crash {crash.stage} {crash.tag}"),
        )
        for crash in crashes
    ]
    marks = [f"{crash.stage}-{crash.tag}.reached" for crash in crashes]
    wait_for_files(crash_dir, marks, crashing)
    for crash, job in started:
        # The job that paused there is the one meant to.
        assert (crash_dir / f"{crash.stage}-{crash.tag}.reached").read_text() == str(job.job.pk)

    crashing.kill()
    for _crash, job in started:
        job.job.refresh_from_db()
        assert job.job.status not in (JobStatus.SUCCEEDED, JobStatus.FAILED), job.job.photo_name
    resent = pipeline.sweep(now=later())  # what beat does every JOB_SWEEP_SECONDS
    assert resent["resent"] == len(crashes)
    spawn_worker("after")

    for crash, job in started:
        wait_for_end(job.job)
        assert_ended_cleanly(job, vendor_calls, crash.submits)
        assert (crash.stage, job.job.double_submits) == (crash.stage, crash.doubles)


# --- The broker restarted, its messages lost ----------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the broker restart: redis-server is not installed")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(binary, tmp_path)
    server.start()
    yield server
    server.kill()


def _drop_connections(app: Any) -> None:
    """Make the app take new broker connections and producers, for the URL it now has. Only
    dropped, not closed: kombu keeps pools per URL for the whole process, and the test run's
    own broker goes on using its pool."""
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def broker(url: str) -> Iterator[None]:
    """This process's Celery app sends to ``url`` meanwhile (jobs.submit and the sweeper). The
    write URL, because Celery reads ``broker_url`` from CELERY_BROKER_URL first."""
    from config.celery import app

    saved = {
        "broker_write_url": app.conf.get("broker_write_url"),
        "broker_transport_options": app.conf.broker_transport_options,
    }
    _drop_connections(app)
    app.conf.update(
        broker_write_url=url,
        broker_transport_options={"visibility_timeout": 2 * 60 * 60},
    )
    try:
        yield
    finally:
        _drop_connections(app)
        app.conf.update(saved)


def test_a_broker_restart_loses_messages_and_the_sweeper_brings_every_job_to_its_end(
    spawn_worker: SpawnWorker,
    wait_for_end: WaitFor,
    vendor_calls: VendorCalls,
    private_redis: PrivateRedis,
    settings: SettingsWrapper,
) -> None:
    settings.SANDBOX_TASK_MS = 2500  # the async jobs are still at the vendor when Redis dies
    with broker(private_redis.url):
        worker = spawn_worker("broker", CELERY_BROKER_URL=private_redis.url)
        waiting = [
            start_job(COLORIZE, "colorize-1"),
            start_job(COLORIZE, "colorize-2"),
            start_job(ADVANCED, "advanced"),
        ]
        deadline = time.monotonic() + 30
        while not all(Job.objects.get(pk=job.job.pk).vendor_ref for job in waiting):
            assert time.monotonic() < deadline, "the async jobs never reached the vendor"
            time.sleep(0.05)
        # These are queued or under way when Redis dies.
        running = [start_job(RETOUCH, "retouch-1"), start_job(RETOUCH, "retouch-2")]

        private_redis.kill()  # every queued and scheduled message is gone
        private_redis.start()
        died = False
        deadline = time.monotonic() + 60
        while not private_redis.bound("io", "cpu"):  # until the worker is connected again
            assert time.monotonic() < deadline, "no worker came back to the broker"
            if not died and not worker.alive:
                # kombu can die restoring its unacknowledged messages over the dropped
                # connection ("'NoneType' object has no attribute 'hostname'", seen once in
                # CI): as its supervisor would, the worker is started again, and the steps it
                # held are re-sent once their leases are over.
                died = True
                spawn_worker("broker-again", CELERY_BROKER_URL=private_redis.url)
            time.sleep(0.05)
        # The worker's own steps hold a lease of JOB_LEASE_SECONDS (600 s) while they run, so
        # only the lost messages are re-sent: no step runs twice at once.
        if died:
            # The dead worker's leases are over, as they would be 600 s later. (Sweeping 600 s
            # ahead instead would pass the jobs' deadlines, and the sweeper would end them.)
            ids = [job.job.pk for job in waiting + running]
            Job.objects.filter(pk__in=ids, lease_until__isnull=False).update(
                lease_until=timezone.now() - dt.timedelta(seconds=1)
            )
        later = django_settings.JOB_LOST_MESSAGE_SECONDS + 30
        pipeline.sweep(now=timezone.now() + dt.timedelta(seconds=later))
        for job in waiting:
            job.job = wait_for_end(job.job)
            # At the vendor already: polled to its end, paid once, whatever became of the worker.
            assert_ended_cleanly(job, vendor_calls, submits=1)
        for job in running:
            job.job = wait_for_end(job.job)
            if died:
                # A synchronous call cut off by the worker's death may have been paid for.
                assert_ended_cleanly(job, vendor_calls, submits=job.paid(vendor_calls))
                assert job.paid(vendor_calls) in (1, 2)
            else:
                # Paid exactly once: no worker died.
                assert_ended_cleanly(job, vendor_calls, submits=1)


# --- A worker's database connections cut --------------------------------------------------------


def _terminate_other_backends() -> int:
    """Cut every connection to the test database but this process's own, as a restarted or
    failed-over PostgreSQL does."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def test_cut_database_connections_fail_the_steps_and_every_job_still_ends(
    spawn_worker: SpawnWorker, wait_for_end: WaitFor, vendor_calls: VendorCalls, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    worker = spawn_worker(
        "cut",
        app=CRASH_APP,
        CRASH_DIR=str(crash_dir),
        CRASH_PAUSE_AT="poll,commit",
        JOB_LEASE_SECONDS=str(CRASH_LEASE_SECONDS),
    )
    polling = start_job(COLORIZE, "polling", "crash poll cut")
    storing = start_job(RETOUCH, "storing", "crash commit cut")
    wait_for_files(crash_dir, ["poll-cut.reached", "commit-cut.reached"], worker)
    assert _terminate_other_backends() >= 2  # at least the two paused steps' connections
    for name in ("poll-cut.go", "commit-cut.go"):
        (crash_dir / name).touch()

    # Cut inside its transaction: Django closes the connection when the rollback fails too, so
    # the step's own error handling, on a new connection, schedules the retry. The vendor's
    # answer was lost with the transaction: asked once more.
    storing.job = wait_for_end(storing.job)
    assert storing.job.attempts == 1
    assert_ended_cleanly(storing, vendor_calls, submits=2)

    # Cut between autocommit queries: recording the failure fails as well, the task dies and
    # the job keeps its lease. Only the sweeper can take it on.
    deadline = time.monotonic() + 30
    while " raised unexpected: " not in worker.output():
        assert time.monotonic() < deadline, worker.output()[-4000:]
        time.sleep(0.05)
    polling.job.refresh_from_db()
    assert polling.job.status == JobStatus.WAITING
    assert polling.job.lease_until is not None
    # Nothing is under way in the worker now, so no step can run twice at once.
    pipeline.sweep(now=later())
    polling.job = wait_for_end(polling.job)
    assert_ended_cleanly(polling, vendor_calls, submits=1)  # it resumed its poll

    # The same worker process took the re-sent step and goes on taking new work.
    assert worker.alive
    fresh = start_job(RETOUCH, "fresh")
    fresh.job = wait_for_end(fresh.job)
    assert_ended_cleanly(fresh, vendor_calls, submits=1)
