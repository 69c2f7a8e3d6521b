"""Jobs under fire: many jobs while a chaos loop SIGKILLs a random worker every few seconds and
starts it again, with a sweeper running as beat runs it. Prints figures; passes or fails
nothing.

What it prints: jobs, kills, how the jobs ended (succeeded, failed, still active = stuck),
duplicate results, orphan files (in a job's folder, named by no row), storage counts that
differ from the bytes on disk, asynchronous jobs submitted more than once, synchronous extra
submits against kills (a kill costs a synchronous job at most one more submit), the jobs the
sandbox saw submitted more than once (by id) beside the studio's own count of them
(``Job.double_submits``, where the model has it), jobs whose owner was charged more than once
for them (every job has an owner of its own, so the owner's quota row is the job's), and the
time from the first submit until every job ended. The same figures go to ``make bench``'s JSON
(``chaos_*``, bench/figures.py).

Like bench/pipeline.py it builds a throwaway world and takes it down again, even on errors and
Ctrl-C: a temporary VAR_DIR (SQLite, kombu's filesystem broker, the file cache, media), or
PostgreSQL / Redis when DATABASE_URL / CELERY_BROKER_URL point there, but only a database of its
own (``studio_bench_crash``, created, then dropped) and Redis DB 14 (flushed). The sandbox runs
in a thread of this process, the workers as processes of their own session (so a SIGKILL takes
a whole worker), and the sweeper in a thread here. Run it in a fresh process:
``.venv/bin/python bench/crash.py``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import faults
import figures
import pipeline

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

    from editor.models import Job
    from editor.reconcile import Report
    from tests.redis_server import PrivateRedis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

T = TypeVar("T")

BENCH_DATABASE = "studio_bench_crash"
BENCH_REDIS_DB = 14
WAVE_JOBS = 12  # jobs submitted at once, every WAVE_EVERY_S, until KILLS_AT_LEAST kills
WAVE_EVERY_S = 8.0
KILLS_AT_LEAST = 50
WORKERS = 3
WORKER_THREADS = 4
KILL_EVERY_S = (1.0, 3.0)  # a random worker is killed this often (uniformly drawn)
TASK_MS = 4000  # the sandbox's async task time: the jobs spend a while at the vendor
# Short leases and lost-message grace: a killed worker's steps are taken on within seconds.
# Every vendor call is cut to CALL_CAP_S, so a step (a call and its result's download) ends
# within the lease, as editor.checks requires of a real install: no live step is taken for dead.
LEASE_S = 8
CALL_CAP_S = 3
LOST_MESSAGE_S = 8
SWEEP_EVERY_S = 2.0
DRAIN_CAP_S = 420.0
CHAOS_CAP_S = 150.0  # the kills stop after this long even if jobs are left, to see them drain


@dataclass(frozen=True)
class Kind:
    slug: str
    provider: str
    vendor: str
    params: Mapping[str, Any]
    roles: tuple[str, ...]
    asynchronous: bool


KINDS = (
    Kind("retouch", "ailabtools", "ailabtools", {}, ("image", "style"), False),
    Kind("expression", "ailabtools", "ailabtools", {"service_choice": "12"}, ("image",), False),
    Kind("colorize", "picwish", "picwish", {"format": "jpg"}, ("image",), True),
    Kind(
        "expression",
        "ailabtools_advanced",
        "ailabtools",
        {"expression": "natural_smile"},
        ("image",),
        True,
    ),
)

NOT_SUBMITS = frozenset(
    {
        "/api/common/query-async-task-result",
        "/api/image/asyn-task-results",
        "/api/common/query-credits",
    }
)


# --- The throwaway world ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stores:
    """The run's own stores, as the faults need them."""

    text: str  # which they are, for the report
    broker: PrivateRedis | None  # the run's own redis-server, when there is one
    database_admin_url: str  # PostgreSQL's maintenance database, "" on SQLite
    media: Path | None  # the media folder on a tmpfs of its own, None if none could be mounted
    why_not: dict[str, str]  # fault -> why it cannot be staged, should it be missing


def configure_environment(var_dir: Path, cleanup: contextlib.ExitStack) -> Stores:
    """Point this process's environment (inherited by the workers) at the bench's own stores;
    returns them."""
    database_url = os.environ.get("DATABASE_URL", "")
    admin_url = ""
    if urlsplit(database_url).scheme in {"postgres", "postgresql", "pgsql"}:
        if urlsplit(database_url).path.strip("/") == BENCH_DATABASE:
            raise SystemExit(f"DATABASE_URL names {BENCH_DATABASE}, which the bench drops")
        admin_url = pipeline._postgres_admin_url(database_url)
        pipeline._drop_and_create(admin_url, create=True, database=BENCH_DATABASE)
        cleanup.callback(
            pipeline._drop_and_create, admin_url, create=False, database=BENCH_DATABASE
        )
        os.environ["DATABASE_URL"] = pipeline._with_path(database_url, f"/{BENCH_DATABASE}")
        database = f"PostgreSQL database {BENCH_DATABASE} (dropped after)"
    else:
        os.environ.pop("DATABASE_URL", None)
        database = "SQLite (WAL) in a temporary VAR_DIR"
    # Redis, when the environment names it, is a redis-server of the run's own (the broker
    # fault kills it), else DB 14 of the one named.
    on_redis = pipeline._is_redis(os.environ.get("CELERY_BROKER_URL", ""))
    own = faults.private_broker(var_dir) if on_redis else None
    if own is not None:
        cleanup.callback(own.kill)
    redis_urls: list[str] = []
    for name, number in (("CELERY_BROKER_URL", 0), ("CACHE_URL", 1)):
        url = os.environ.get(name, "")
        if pipeline._is_redis(url):
            base = own.url if own is not None else url
            path = f"/{number}" if own is not None else f"/{BENCH_REDIS_DB}"
            os.environ[name] = pipeline._with_path(base, path)
            redis_urls.append(os.environ[name])
        else:
            os.environ.pop(name, None)
    for url in dict.fromkeys(redis_urls):
        pipeline._flush_redis(url)
        if own is None:
            cleanup.callback(pipeline._flush_redis, url)
    broker = (
        "kombu filesystem broker"
        if not pipeline._is_redis(os.environ.get("CELERY_BROKER_URL", ""))
        else "a Redis broker of its own"
        if own is not None
        else f"Redis DB {BENCH_REDIS_DB} broker"
    )
    media = var_dir / "media"
    why_not = faults.mount_media(media)
    if not why_not:
        cleanup.callback(faults.unmount_media, media)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VAR_DIR": str(var_dir),
            "MEDIA_STORAGE": "local",
            "MEDIA_ROOT": str(media),
            "DEBUG": "false",
            "LOG_LEVEL": "INFO",
            "SANDBOX_ENABLED": "true",
            "SANDBOX_TASK_MS": str(TASK_MS),
            "JOB_LEASE_SECONDS": str(LEASE_S),
            "VENDOR_CALL_MAX_SECONDS": str(CALL_CAP_S),
            "JOB_LOST_MESSAGE_SECONDS": str(LOST_MESSAGE_S),
            "JOB_RETRY_BASE_SECONDS": "1",
            # Colorization is the asynchronous PicWish kind here (as in tests/integration): in
            # the blocking mode a call lasts the whole task (TASK_MS), past CALL_CAP_S, and
            # every try would be cut off and paid again.
            "PICWISH_SYNC": "0",
            "DATABASE_CONN_MAX_AGE": "0",
        }
    )
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return Stores(
        text=f"{database}, {broker}",
        broker=own,
        database_admin_url=admin_url,
        media=None if why_not else media,
        why_not={
            "media": why_not,
            "broker": "no redis-server on this machine"
            if on_redis
            else "the embedded broker is a folder, not a server",
        },
    )


class Worker:
    """One ``celery worker`` on both queues, in a session of its own."""

    def __init__(self, number: int, var_dir: Path) -> None:
        self.name = f"crash-{number}"
        self.log = var_dir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._started_at = 0

    def launch(self) -> None:
        self._started_at = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "celery", "--app", "config", "worker"),
                    *("--queues", "io,cpu", "--pool", "threads"),
                    *("--concurrency", str(WORKER_THREADS)),
                    *("--hostname", f"{self.name}-{uuid.uuid4().hex[:6]}@%h"),
                    *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                    *("--loglevel", "INFO"),
                ],
                cwd=ROOT,
                env=dict(os.environ),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.log.open("rb") as handle:
                handle.seek(self._started_at)
                if b" ready." in handle.read():
                    return
            if self.process is None or self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start; see {self.log}")

    def kill(self) -> None:
        """SIGKILL to the whole session: no ack, no release, no clean-up."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


class SubmitCounter:
    """The submits the sandbox accepted (2xx), by API key (each job has a key of its own), with
    when each arrived and when its answer went out (time.monotonic())."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app
        self._lock = threading.Lock()
        self.submits: Counter[str] = Counter()
        self.spans: dict[str, list[tuple[float, float]]] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if environ.get("REQUEST_METHOD") != "POST" or path in NOT_SUBMITS:
            return self._app(environ, start_response)
        key = str(environ.get("HTTP_AILABAPI_API_KEY") or environ.get("HTTP_X_API_KEY") or "")
        arrived = time.monotonic()

        def counting(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            if status.startswith("2"):
                with self._lock:
                    self.submits[key] += 1
                    self.spans.setdefault(key, []).append((arrived, time.monotonic()))
            return start_response(status, headers, exc_info)

        return self._app(environ, counting)


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the cleanup, as Ctrl-C does


# --- The run ----------------------------------------------------------------------------------


def make_image(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.ellipse((width // 4, height // 5, width * 3 // 4, height * 4 // 5), fill=(210, 170, 140))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@dataclass
class Submitted:
    job: Job
    kind: Kind
    secret: str


@dataclass
class Chaos:
    """Kills a random worker every few seconds and starts it again, until told to stop."""

    workers: list[Worker]
    kills: int = 0
    killed_at: list[float] = field(default_factory=list)  # time.monotonic() of each kill
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        chooser = random.Random(8)
        while not self.stop.wait(chooser.uniform(*KILL_EVERY_S)):
            victim = chooser.choice(self.workers)
            victim.kill()
            self.kills += 1
            self.killed_at.append(time.monotonic())
            # Not waited for: the next kill may find it still starting, as a crash loop would.
            victim.launch()


def sweeper(stop: threading.Event) -> None:
    """What beat does: pipeline.sweep() every few seconds."""
    from django.db import connections

    from editor import pipeline

    try:
        while not stop.wait(SWEEP_EVERY_S):
            try:
                pipeline.sweep()
            except Exception:  # the database is down: beat tries again on its next round too
                connections.close_all()
    finally:
        connections.close_all()


def patiently(read: Callable[[], T]) -> T:
    """A query of the bench's own, tried again while the database is down (the database fault
    cuts this process's connections too)."""
    from django.db import Error, connections

    deadline = time.monotonic() + 60
    while True:
        try:
            return read()
        except Error:
            connections.close_all()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@dataclass
class Submitter:
    """Submits jobs in waves, from any thread, each with an owner and a key of its own."""

    submitted: list[Submitted] = field(default_factory=list)
    refused: int = 0  # submissions that raised (the database was down): nothing accepted
    _numbers: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wave(self, count: int) -> int:
        """Submit ``count`` jobs; returns how many were accepted."""
        accepted = 0
        for _ in range(count):
            with self._lock:
                number = next(self._numbers)
            try:
                self.submitted.append(submit_one(number))
            except Exception:
                from django.db import connection

                # As at the end of a request: the next submission gets a new connection.
                connection.close()
                self.refused += 1
            else:
                accepted += 1
        return accepted


def submit_one(number: int) -> Submitted:
    from accounts.models import User
    from editor import jobs, operations
    from editor.models import VendorKey

    photo, style = make_image((320, 240), (90, 90, 90)), make_image((256, 256), (200, 120, 60))
    face = make_image((256, 256), (200, 160, 140))
    files = {"image": photo, "style": style}
    kind = KINDS[number % len(KINDS)]
    user = User.objects.create_user(f"crash-{number}", f"crash-{number}@example.com", None)
    secret = f"sandbox-bench-crash-{number}"
    key = VendorKey(owner=user, vendor=kind.vendor, label=secret)
    key.set_secret(secret)
    key.save()
    operation = operations.get(kind.slug)
    inputs = {role: files[role] for role in kind.roles}
    if kind.slug == "expression":
        inputs = {"image": face}
    job = jobs.submit(
        owner=user,
        operation=operation,
        provider=operation.provider(kind.provider),
        params=kind.params,
        files=inputs,
        key=key,
    )
    return Submitted(job=job, kind=kind, secret=secret)


def folder_problems(job: Job) -> tuple[int, int]:
    """(orphan files in the job's folder, 1 if its owner's storage count is off the disk)."""
    from django.conf import settings

    from accounts.models import Quota

    media = Path(settings.MEDIA_ROOT)
    named = {*job.inputs.values(), *job.prepared.values()}
    for result in job.results.all():
        named |= {name for name in (result.file.name, result.thumbnail.name) if name}
    folder = media / "jobs" / str(job.owner_id) / str(job.pk)
    on_disk = (
        {str(path.relative_to(media)) for path in folder.iterdir()} if folder.exists() else set()
    )
    owner = media / "jobs" / str(job.owner_id)
    disk = sum(path.stat().st_size for path in owner.rglob("*") if path.is_file())
    counted = Quota.objects.get(user_id=job.owner_id).stored_bytes
    return len(on_disk - named), int(counted != disk)


# A submit's answer is recorded (the task ref committed) within this long of it going out.
RECORDED_WITHIN_S = 1.0


def killed_in_flight(spans: list[tuple[float, float]], killed_at: list[float]) -> bool:
    """Whether a kill fell while the first accepted submit was under way: the vendor had the
    task, and its ref had not reached our database yet."""
    arrived, answered = spans[0]
    return any(arrived <= kill <= answered + RECORDED_WITHIN_S for kill in killed_at)


@dataclass(frozen=True)
class Charges:
    """What a job's owner was charged for it, against what one charge would leave."""

    charged_twice: bool  # more kept than one charge of the job: credits or jobs counted twice
    off: bool  # any other difference: a refund missing, or given twice (or a second charge
    # that a refund then halved: the row keeps the sum, not the history)


def charges(job: Job) -> Charges:
    """The owner's quota row against the job: one charge of ``job.credits`` and one job, kept
    if it succeeded or is still active, given back if it failed or was canceled."""
    from accounts.models import Quota
    from editor.models import ACTIVE_STATUSES, JobStatus

    quota = Quota.objects.get(user_id=job.owner_id)
    same_day = quota.day == job.charged_on  # else the day's count started again meanwhile
    kept = job.status == JobStatus.SUCCEEDED or job.status in ACTIVE_STATUSES
    twice = quota.credits_this_month > job.credits or (same_day and quota.jobs_today > 1)
    expected = (job.credits, 1) if kept else (0, 0)
    found = (quota.credits_this_month, quota.jobs_today if same_day else expected[1])
    return Charges(charged_twice=twice, off=not twice and found != expected)


def studio_double_submits(job: Job) -> int | None:
    """The studio's own count of the job's extra vendor submits (``Job.double_submits``), or
    None while the model has no such field."""
    if "double_submits" not in {field.name for field in job._meta.get_fields()}:
        return None
    return int(getattr(job, "double_submits", 0) or 0)


@dataclass(frozen=True)
class Reconciled:
    report: Report
    orphans: int  # orphan files left in the jobs' folders
    off: int  # owners whose storage count is still off the disk


def reconciled(submitted: list[Submitted]) -> Reconciled:
    """The storage reconcile run once every job has ended (so no file is on its way: no grace),
    then the jobs' folders looked at again."""
    from editor import reconcile

    report = reconcile.reconcile(grace_seconds=0)
    orphans = off = 0
    for item in submitted:
        orphan, wrong = folder_problems(item.job)
        orphans += orphan
        off += wrong
    return Reconciled(report=report, orphans=orphans, off=off)


def report(
    submitter: Submitter,
    counter: SubmitCounter,
    chaos: Chaos,
    trouble: faults.Faults,
    drain: float,
) -> None:
    from django.core.files.storage import default_storage

    from editor.models import ACTIVE_STATUSES, Job, JobStatus

    submitted = submitter.submitted
    kills = chaos.kills
    statuses: Counter[str] = Counter()
    duplicates = orphans = off_count = async_double = in_flight = sync_extra = 0
    lost = unexplained = 0
    failures: Counter[str] = Counter()
    vendor_twice: list[str] = []  # jobs the sandbox saw submitted more than once
    studio_twice: list[str] = []  # jobs the studio counts double submits for
    studio_total = 0
    studio_counts = True
    charged_twice: list[str] = []
    charges_off = 0
    for item in submitted:
        job = item.job
        try:
            job.refresh_from_db()
        except Job.DoesNotExist:
            lost += 1  # accepted, then gone
            continue
        statuses[job.status] += 1
        if job.status == JobStatus.FAILED:
            failures[job.error_code or "?"] += 1
            unexplained += not job.error_message
        lost += job.status == JobStatus.SUCCEEDED and not all(
            default_storage.exists(result.file.name) for result in job.results.all()
        )
        positions = list(job.results.values_list("position", flat=True))
        if len(positions) != len(set(positions)) or len(positions) > 1:
            duplicates += 1
        orphan, off = folder_problems(job)
        orphans += orphan
        off_count += off
        submits = counter.submits[item.secret]
        if item.kind.asynchronous and submits > 1:
            async_double += 1
            in_flight += killed_in_flight(counter.spans[item.secret], chaos.killed_at)
        if not item.kind.asynchronous:
            sync_extra += max(0, submits - 1)
        if submits > 1:
            vendor_twice.append(f"{job.pk} ({item.kind.slug}, {submits} submits)")
        own = studio_double_submits(job)
        if own is None:
            studio_counts = False
        elif own:
            studio_twice.append(str(job.pk))
            studio_total += own
        charged = charges(job)
        if charged.charged_twice:
            charged_twice.append(str(job.pk))
        charges_off += charged.off
    stuck = sum(n for status, n in statuses.items() if status in ACTIVE_STATUSES)
    failed = ", ".join(f"{code} x{n}" for code, n in failures.most_common()) or "none"
    asynchronous = sum(item.kind.asynchronous for item in submitted)
    print(
        f"    jobs {len(submitted)} ({len(submitted) - asynchronous} sync, {asynchronous} async; "
        f"{submitter.refused} submissions refused while the database was down); kills {kills}"
    )
    for line in trouble.log:
        print(f"    fault: {line}")
    print(f"    lost {lost}; failures without a message for the job page {unexplained}")
    print(
        f"    succeeded {statuses[JobStatus.SUCCEEDED]}, failed {statuses[JobStatus.FAILED]} "
        f"({failed}), stuck {stuck}"
    )
    print(
        f"    duplicate results {duplicates}; orphan files {orphans}; storage counts off the "
        f"disk {off_count}"
    )
    print(
        f"    async jobs submitted twice or more {async_double} ({in_flight} killed while their "
        f"submit was in flight); sync extra submits {sync_extra} for {kills} kills (bound: one "
        "per kill)"
    )
    print(
        f"    jobs the sandbox saw submitted more than once: {len(vendor_twice)}"
        + (f": {', '.join(vendor_twice)}" if vendor_twice else "")
    )
    if studio_counts:
        print(
            f"    the studio's own count (Job.double_submits): {len(studio_twice)} jobs, "
            f"{studio_total} extra submits"
            + (f": {', '.join(studio_twice)}" if studio_twice else "")
        )
    else:
        print("    the studio's own count: none kept (the Job model has no double_submits field)")
    print(
        f"    jobs whose owner was charged more than once for them: {len(charged_twice)}"
        + (f": {', '.join(charged_twice)}" if charged_twice else "")
        + f"; other quota rows off the job's charge: {charges_off}"
    )
    print(f"    time to drain (first submit -> last job ended) {drain:.1f} s")
    after = reconciled(submitted)
    print(
        f"    storage reconcile after the run: {after.report}; orphan files left {after.orphans}, "
        f"storage counts off the disk {after.off}"
    )
    for key, value in (
        ("chaos_jobs", len(submitted)),
        ("chaos_kills", kills),
        ("chaos_faults", trouble.applied),
        ("chaos_refused_at_submit", submitter.refused),
        ("chaos_lost", lost),
        ("chaos_unexplained_failures", unexplained),
        ("chaos_succeeded", statuses[JobStatus.SUCCEEDED]),
        ("chaos_failed", statuses[JobStatus.FAILED]),
        ("chaos_stuck", stuck),
        ("chaos_duplicate_results", duplicates),
        ("chaos_orphan_files", orphans),
        ("chaos_storage_counts_off", off_count),
        ("chaos_async_double_submits", async_double),
        ("chaos_async_double_in_flight", in_flight),
        ("chaos_sync_extra_submits", sync_extra),
        ("chaos_vendor_double_submits", len(vendor_twice)),
        ("chaos_charged_twice", len(charged_twice)),
        ("chaos_quota_rows_off", charges_off),
        ("chaos_drain_s", round(drain, 2)),
        # The counts must be exact without the reconcile's help; the orphans are its to delete.
        ("chaos_storage_drift_people", off_count),
        ("chaos_reconcile_orphans_deleted", after.report.orphans),
        ("chaos_orphans_after_reconcile", after.orphans),
        ("chaos_storage_off_after_reconcile", after.off),
    ):
        figures.record(key, value)
    if studio_counts:
        figures.record("chaos_studio_double_submits", len(studio_twice))
        figures.record("chaos_studio_double_submits_total", studio_total)


def main() -> None:
    from django.conf import settings as django_settings

    if django_settings.configured:
        raise SystemExit("bench/crash.py sets Django up itself: run it in a fresh process")
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        with contextlib.ExitStack() as cleanup:
            var_dir = Path(tempfile.mkdtemp(prefix="studio-bench-crash-"))
            cleanup.callback(shutil.rmtree, var_dir, ignore_errors=True)
            stores = configure_environment(var_dir, cleanup)
            run(var_dir, stores, cleanup)
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(var_dir: Path, stores: Stores, cleanup: contextlib.ExitStack) -> None:
    import logging
    import warnings

    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    # editor.jobs: the messages the broker fault refuses, summed up in the report instead.
    for name in (
        "django.server",
        "django.request",
        "kombu.connection",
        "editor.pipeline",
        "editor.jobs",
    ):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    call_command("migrate", verbosity=0)
    cleanup.callback(connections.close_all)

    from editor.models import ACTIVE_STATUSES, Job
    from editor.sandbox import server

    sandbox = server.start("127.0.0.1", 0)
    cleanup.callback(sandbox.stop)
    app = sandbox.server.get_app()
    assert app is not None
    counter = SubmitCounter(app)
    sandbox.server.set_app(counter)
    os.environ["SANDBOX_URL"] = settings.SANDBOX_URL = sandbox.url
    settings.SANDBOX_TASK_MS = TASK_MS

    workers = [Worker(number, var_dir) for number in range(WORKERS)]
    for worker in workers:
        cleanup.callback(worker.stop)
        worker.launch()
    for worker in workers:
        worker.wait_ready()
    print(
        f"\nJobs under fire: {stores.text}; {WORKERS} workers (threads x {WORKER_THREADS}, "
        f"both queues), one SIGKILLed every {KILL_EVERY_S[0]:.0f}-{KILL_EVERY_S[1]:.0f} s and "
        f"started again until {KILLS_AT_LEAST} kills; {WAVE_JOBS} jobs every {WAVE_EVERY_S:.0f} s "
        f"meanwhile; sweeper every {SWEEP_EVERY_S:.0f} s (lease {LEASE_S} s, lost message "
        f"{LOST_MESSAGE_S} s); sandbox async tasks {TASK_MS} ms",
        flush=True,
    )

    stopping = threading.Event()
    chaos = Chaos(workers)
    submitter = Submitter()
    trouble = faults.Faults(
        broker=stores.broker,
        database_admin_url=stores.database_admin_url,
        database=BENCH_DATABASE,
        media=stores.media,
        submit_wave=submitter.wave,
        why_not=stores.why_not,
    )
    threads = [
        threading.Thread(target=chaos.run, name="chaos", daemon=True),
        threading.Thread(target=sweeper, args=(stopping,), name="sweeper", daemon=True),
        threading.Thread(target=trouble.run, args=(stopping,), name="faults", daemon=True),
    ]
    started = time.perf_counter()
    for thread in threads:  # the kills and faults begin while the jobs are being submitted
        thread.start()
    try:
        waves = 0
        while chaos.kills < KILLS_AT_LEAST and time.perf_counter() - started < CHAOS_CAP_S:
            if time.perf_counter() - started >= waves * WAVE_EVERY_S:
                submitter.wave(WAVE_JOBS)
                waves += 1
            time.sleep(0.25)
        chaos.stop.set()
        ids = [item.job.pk for item in submitter.submitted]
        while patiently(Job.objects.filter(pk__in=ids, status__in=ACTIVE_STATUSES).exists):
            if time.perf_counter() - started > DRAIN_CAP_S:
                break
            time.sleep(0.25)
        drain = time.perf_counter() - started
    finally:
        chaos.stop.set()
        stopping.set()
        for thread in threads:
            thread.join(120)
    report(submitter, counter, chaos, trouble, drain)
    sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
