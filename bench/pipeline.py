"""The job pipeline for real, timed: submit -> Celery worker processes -> sandbox over HTTP ->
stored result and thumbnail. Prints figures; passes or fails nothing.

(a) One job end to end against the adapter calling the same sandbox endpoint directly.
(b) 300 asynchronous jobs of 5 s submitted at once: makespan against the ideal.
(c) 100 PicWish colorizations at once on one key under its 2 requests/s, which the sandbox counts
    in a strict sliding window: 429s, time, throughput, and the most requests the sandbox
    admitted in any one second (from its own log). Once per PicWish mode: asynchronous (submit,
    then polls) and blocking (``PICWISH_SYNC=1``: one request a job); the workers are started
    again between the two, since they read the setting when they start.

Every figure is also recorded for ``make bench``'s JSON (bench/figures.py). ``--cases`` picks
some of one, many and burst; ``--modes headline`` runs the burst in the default PicWish mode only;
``--suffix`` is added to every key (bench/run.py runs the burst a second time on the embedded
defaults with ``--suffix _default``; a run that is itself on the embedded defaults records both).

It builds its own throwaway world and takes it down again, even on errors and Ctrl-C: a
temporary VAR_DIR (SQLite file, kombu's filesystem broker, the file cache, media). When
DATABASE_URL / CELERY_BROKER_URL (and CACHE_URL) point at PostgreSQL / Redis it uses them, but
only a database of its own (``studio_bench``, created, then dropped) and Redis DB 15 (flushed).
The sandbox runs in a thread of this process; the workers run as Procfile.dev runs them (``io``:
threads x 8, ``cpu``: prefork x 2, and beat for the sweeper), each in its own session.

It configures Django itself, so it needs a fresh process: ``.venv/bin/python bench/pipeline.py``
(bench/run.py runs it so).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import figures

if TYPE_CHECKING:
    import datetime as dt
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

    from accounts.models import User
    from editor.models import Job, VendorKey
    from editor.sandbox.rates import RateLog
    from editor.sandbox.server import RunningSandbox
    from editor.vendors.base import VendorAdapter

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DATABASE = "studio_bench"
BENCH_REDIS_DB = 15
BENCH_QUOTA = "1000000"  # the default quotas allow 5 concurrent jobs and 2000 credits a month

ONE_JOB_RUNS = 5
ONE_JOB_TASK_MS = 1500  # the sandbox's default async task time
ONE_JOB_WAIT_S = 60.0
MANY_JOBS = 300
MANY_JOBS_TASK_MS = 5000
MANY_JOBS_WAIT_S = 60.0
BURST_JOBS = 100
BURST_TASK_MS = 500  # done by the first poll (1 s later): submit + one poll is the bound
BURST_QPS = 2
BURST_WAIT_S = 240.0
# The stores the embedded defaults replace (SQLite, kombu's filesystem broker, the file cache).
STORE_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")
CASES = ("one", "many", "burst")

# As in Procfile.dev; the hostnames differ so a bench never answers for a running studio.
WORKERS: dict[str, tuple[str, ...]] = {
    "worker-io": (
        "worker",
        *("--queues", "io", "--pool", "threads", "--concurrency", "8"),
        *("--hostname", "io-bench@%h", "--loglevel", "INFO"),
    ),
    "worker-cpu": (
        "worker",
        *("--queues", "cpu", "--pool", "prefork", "--concurrency", "2"),
        *("--hostname", "cpu-bench@%h", "--loglevel", "INFO"),
    ),
    "beat": ("beat", "--schedule", "{var}/celerybeat-schedule", "--loglevel", "INFO"),
}
SWEEP_LINE = re.compile(r"sweeper: \d+ jobs past deadline, (\d+) re-sent")
READY_MARKERS = {"worker-io": " ready.", "worker-cpu": " ready.", "beat": "beat: Starting"}


# --- The throwaway world ----------------------------------------------------------------------


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def _is_redis(url: str) -> bool:
    return urlsplit(url).scheme in {"redis", "rediss"}


def _postgres_admin_url(url: str) -> str:
    """The URL as libpq reads it (dj-database-url also accepts other scheme spellings)."""
    return urlunsplit(("postgresql", *urlsplit(url)[1:]))


def _drop_and_create(admin_url: str, *, create: bool, database: str = BENCH_DATABASE) -> None:
    """Drop ``database`` (a bench's own) and, with ``create``, make it anew."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(database)
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if create:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def configure_environment(var_dir: Path, cleanup: contextlib.ExitStack) -> str:
    """Point this process's environment (inherited by the workers) at the bench's own stores.

    Returns a line that says which stores the figures come from.
    """
    database_url = os.environ.get("DATABASE_URL", "")
    scheme = urlsplit(database_url).scheme
    if scheme in {"postgres", "postgresql", "pgsql"}:
        if urlsplit(database_url).path.strip("/") == BENCH_DATABASE:
            raise SystemExit(f"DATABASE_URL names {BENCH_DATABASE}, which the bench drops")
        admin_url = _postgres_admin_url(database_url)  # only to create and drop ours
        _drop_and_create(admin_url, create=True)
        cleanup.callback(_drop_and_create, admin_url, create=False)
        os.environ["DATABASE_URL"] = _with_path(database_url, f"/{BENCH_DATABASE}")
        database = f"PostgreSQL database {BENCH_DATABASE} (dropped after)"
    else:
        os.environ.pop("DATABASE_URL", None)  # settings put SQLite in VAR_DIR
        database = "SQLite (WAL) in a temporary VAR_DIR"

    redis_urls: list[str] = []
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):
        url = os.environ.get(name, "")
        if _is_redis(url):
            os.environ[name] = _with_path(url, f"/{BENCH_REDIS_DB}")
            redis_urls.append(os.environ[name])
        else:
            os.environ.pop(name, None)  # the filesystem broker, the file cache, in VAR_DIR
    for url in dict.fromkeys(redis_urls):
        _flush_redis(url)
        cleanup.callback(_flush_redis, url)
    broker = (
        f"Redis DB {BENCH_REDIS_DB} broker"
        if _is_redis(os.environ.get("CELERY_BROKER_URL", ""))
        else "kombu filesystem broker"
    )

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VAR_DIR": str(var_dir),
            "MEDIA_STORAGE": "local",
            "MEDIA_ROOT": str(var_dir / "media"),
            "DEBUG": "false",  # as in production: no query log growing in the workers
            "LOG_LEVEL": "INFO",  # the workers' " ready." line
            "SANDBOX_ENABLED": "true",
            "PICWISH_QPS": str(BURST_QPS),
            "QUOTA_JOBS_PER_DAY": BENCH_QUOTA,
            "QUOTA_CREDITS_PER_MONTH": BENCH_QUOTA,
            "QUOTA_CONCURRENT_JOBS": BENCH_QUOTA,
            # (b) sends its 300 photos as one API batch.
            "BATCH_MAX_PHOTOS": str(MANY_JOBS),
        }
    )
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    os.environ.pop("PICWISH_SYNC", None)  # the bench sets it per PicWish mode
    return f"{database}, {broker}"


class Service:
    """A Celery process started by the bench, in a session of its own (so a Ctrl-C reaches only
    the bench, which then stops it). One that dies is started again, as a supervisor would, and
    the death is reported with the figures."""

    def __init__(self, name: str, var_dir: Path) -> None:
        self.name = name
        self.command = [
            sys.executable,
            *("-m", "celery", "--app", "config"),
            *(argument.format(var=var_dir) for argument in WORKERS[name]),
        ]
        self.log = var_dir / f"{name}.log"
        self.deaths: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0  # where this run's lines start in the log

    def launch(self) -> None:
        self._started_at = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as handle:
            self._process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=dict(os.environ),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _text(self, since: int = 0) -> str:
        with self.log.open("rb") as handle:
            handle.seek(since)
            return handle.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 90.0) -> None:
        marker = READY_MARKERS[self.name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self._text(self._started_at):
                return
            if self._process is None or self._process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start:\n{self.tail()}")

    def revive(self) -> None:
        """If the process died, note why and start it again."""
        if self._process is None or self._process.poll() is None:
            return
        lines = self._text(self._started_at).splitlines()
        fatal = [line for line in lines if " CRITICAL " in line or "Unrecoverable" in line]
        reason = fatal[-1].split("Unrecoverable error: ")[-1] if fatal else ""
        reason = reason[:70] or f"exit status {self._process.returncode}"
        self.deaths.append(reason)
        self.launch()
        self.wait_ready()

    def tasks_done(self) -> int:
        """Tasks this worker has finished so far (Celery logs each one)."""
        return self._text().count(" succeeded in ")

    def resent(self) -> int:
        """Steps the sweeper re-sent so far, if the sweeper runs in this worker."""
        return sum(int(match.group(1)) for match in SWEEP_LINE.finditer(self._text()))

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self._text().splitlines()[-lines:])

    @property
    def pid(self) -> int | None:
        """The service's process id, which is also its process group's (a session of its own)."""
        return None if self._process is None else self._process.pid

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()  # Celery's warm shutdown
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            # Not yet reaped, so its group still exists: the pool's children go with it.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


# --- Where the CPU goes ----------------------------------------------------------------------


def _proc_stats() -> Iterable[tuple[int, str, int, float]]:
    """(pid, command, process group, CPU seconds) of every process now alive (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        command = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        # After the command: state, ppid, pgrp, ... utime (12th), stime (13th).
        yield int(entry.name), command, int(fields[2]), (int(fields[11]) + int(fields[12])) / ticks


def _machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores) since it started."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle, iowait = values[3], values[4]
    return (sum(values[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent over a span by the machine and by each part of the bench's world: each
    Celery service (its whole process group: threads and pool children), this process (the
    sandbox runs in a thread of it, and the API batch's request is made in it), PostgreSQL and
    Redis. A process that ends within the span
    takes its seconds with it; the machine's total keeps them."""

    def __init__(self, services: list[Service]) -> None:
        self._groups = {service.pid: service.name for service in services if service.pid}
        self._start = self._take()

    def _take(self) -> dict[str, float]:
        seen: defaultdict[str, float] = defaultdict(float)
        for pid, command, group, seconds in _proc_stats():
            if pid == os.getpid():  # the sandbox's thread, and the API batch's request
                seen["bench"] += seconds
            elif group in self._groups:
                seen[self._groups[group]] += seconds
            elif command.startswith(("postgres", "postmaster")):
                seen["postgresql"] += seconds
            elif command.startswith("redis-server"):
                seen["redis"] += seconds
        seen["machine"] = _machine_busy()
        return seen

    def spent(self) -> dict[str, float]:
        """CPU seconds by part since the meter started; ``other``: the machine's rest."""
        now = self._take()
        spent = {name: seconds - self._start.get(name, 0.0) for name, seconds in now.items()}
        spent["other"] = spent["machine"] - sum(
            seconds for name, seconds in spent.items() if name != "machine"
        )
        return spent


def start_services(var_dir: Path, cleanup: contextlib.ExitStack) -> list[Service]:
    services = [Service(name, var_dir) for name in WORKERS]
    for service in services:
        cleanup.callback(service.stop)
        service.launch()
    for service in services:
        service.wait_ready()
    return services


class SandboxCounter:
    """Counts the sandbox's answers by endpoint and HTTP status, around its WSGI app."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, int]] = Counter()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        endpoint = _endpoint(str(environ.get("REQUEST_METHOD")), str(environ.get("PATH_INFO")))

        def recording(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            with self._lock:
                self._counts[(endpoint, int(status.split(" ", 1)[0]))] += 1
            return start_response(status, headers, exc_info)

        return self._app(environ, recording)

    def take(self) -> Counter[tuple[str, int]]:
        """The counts since the last take."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return counts


def _endpoint(method: str, path: str) -> str:
    if path.startswith("/results/"):
        return "result download"
    if path.startswith("/api/tasks/visual/colorization"):
        return "PicWish submit" if method == "POST" else "PicWish poll"
    if path == "/api/common/query-async-task-result":
        return "AILabTools poll"
    return "AILabTools " + path.rstrip("/").rsplit("/", 1)[-1]  # a submit, by endpoint


@dataclass
class World:
    sandbox: RunningSandbox
    counter: SandboxCounter
    services: list[Service]
    picwish_sync: bool  # settings.PICWISH_SYNC's default: the burst's headline mode

    def revive(self) -> None:
        for service in self.services:
            service.revive()

    def deaths(self) -> list[str]:
        return [
            f"{s.name.removeprefix('worker-')} ({why})" for s in self.services for why in s.deaths
        ]


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the cleanup, as Ctrl-C does


@dataclass
class Keys:
    """How this run names its figures: ``suffix`` after every key (``--suffix``), and whether
    the run is on the embedded defaults (then the burst's figures are its ``_default`` ones too,
    and bench/run.py runs no second burst)."""

    suffix: str = ""
    on_defaults: bool = False


KEYS = Keys()


def keep(key: str, value: float, *, also_default: bool = False) -> None:
    """Record a figure for ``make bench``'s JSON (bench/figures.py)."""
    figures.record(key + KEYS.suffix, value)
    if also_default and KEYS.on_defaults and KEYS.suffix != "_default":
        figures.record(key + "_default", value)


# --- Jobs -------------------------------------------------------------------------------------


def make_image(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    """A small photo-like JPEG: a flat background with a couple of shapes."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.ellipse((width // 4, height // 5, width * 3 // 4, height * 4 // 5), fill=(210, 170, 140))
    draw.rectangle((0, height * 4 // 5, width, height), fill=(60, 90, 50))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


PHOTO = make_image((320, 240), (90, 90, 90))
STYLE = make_image((256, 256), (200, 120, 60))
FACE = make_image((256, 256), (200, 160, 140))


def make_user(username: str) -> User:
    from accounts.models import User

    return User.objects.create_user(username, f"{username}@example.com", None)


def make_key(user: User, vendor: str, secret: str) -> VendorKey:
    from editor.models import VendorKey

    key = VendorKey(owner=user, vendor=vendor, label=secret[-40:])
    key.set_secret(secret)
    key.save()
    return key


def submit(
    user: User,
    slug: str,
    provider: str,
    params: Mapping[str, Any],
    files: Mapping[str, bytes],
    key: VendorKey,
) -> Job:
    from editor import jobs, operations

    operation = operations.get(slug)
    return jobs.submit(
        owner=user,
        operation=operation,
        provider=operation.provider(provider),
        params=params,
        files=files,
        key=key,
    )


def api_batch(
    user: User, key: VendorKey, fields: Mapping[str, str], photo: bytes, count: int
) -> Callable[[], object]:
    """``POST /api/v1/batches`` with ``count`` copies of ``photo``, as a client would send it
    (through Django's test client, in this process: the request as the web sees it)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from api.models import ApiToken

    token = ApiToken.create(user, "bench")[1]
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")

    def post() -> object:
        files = [SimpleUploadedFile(f"face-{n}.jpg", photo, "image/jpeg") for n in range(count)]
        data = {**fields, "key": str(key.pk), "image": files}
        response = client.post("/api/v1/batches", data, secure=True)
        if response.status_code != 201:
            raise SystemExit(f"bench: the API batch answered {response.status_code}")
        return response

    return post


def wait_for_jobs(world: World, timeout: float, interval: float, **which: Any) -> bool:
    """Until every job matching ``which`` has ended (True) or ``timeout`` passed (False);
    meanwhile a worker that died is started again."""
    from editor.models import ACTIVE_STATUSES, Job

    deadline = time.monotonic() + timeout
    while Job.objects.filter(status__in=ACTIVE_STATUSES, **which).exists():
        if time.monotonic() >= deadline:
            return False
        world.revive()
        time.sleep(interval)
    return True


def purge_queues() -> None:
    """Drop the messages still waiting in the broker, so the next case starts on empty queues
    (messages a worker already holds find their job canceled and do nothing)."""
    from kombu import Queue

    from config.celery import app

    with app.connection_for_write() as connection:
        for name in ("io", "cpu"):
            Queue(name).bind(connection.default_channel).purge()


@dataclass(frozen=True)
class Ended:
    status: str
    error_code: str
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def seconds(self) -> float:
        assert self.finished_at is not None
        return (self.finished_at - self.created_at).total_seconds()


@dataclass
class Batch:
    """Many jobs submitted at once, and what became of them."""

    rows: list[Ended]
    submitting: float  # seconds to submit them all
    waited: float  # seconds from the first submit to the end of the wait
    finished: bool  # all ended before the cap
    canceled: Counter[str]  # at the cap: the statuses of the jobs then canceled
    answers: Counter[tuple[str, int]]  # the sandbox's answers by endpoint and status
    tasks: dict[str, int]  # Celery tasks each worker ran meanwhile
    resent: int  # steps the sweeper re-sent meanwhile
    deaths: list[str]  # workers that died meanwhile (and were started again), and why
    cpu: dict[str, float]  # CPU seconds by part of the world meanwhile (CpuMeter)

    @property
    def succeeded(self) -> list[Ended]:
        return [row for row in self.rows if row.status == "succeeded"]

    def span(self) -> float | None:
        """First submit -> last job ended."""
        ends = [row.finished_at for row in self.rows if row.finished_at is not None]
        if not ends:
            return None
        return (max(ends) - min(row.created_at for row in self.rows)).total_seconds()

    def outcome(self) -> str:
        failed = Counter(row.error_code or "?" for row in self.rows if row.status == "failed")
        codes = ", ".join(f"{code} x{n}" for code, n in failed.most_common())
        text = f"succeeded {len(self.succeeded)}, failed {sum(failed.values())}"
        text += f" ({codes})" if codes else ""
        if self.canceled:
            left = ", ".join(f"{status} {n}" for status, n in self.canceled.most_common())
            text += f", canceled at the cap: {left}"
        return text

    def latency(self) -> str:
        seconds = [row.seconds for row in self.succeeded]
        if not seconds:
            return "no job succeeded"
        return (
            f"per job p50 {percentile(seconds, 0.5):.0f} s, p95 {percentile(seconds, 0.95):.0f} s"
        )

    def rate(self, name: str) -> float:
        return self.tasks.get(name, 0) / self.waited

    def workers(self) -> str:
        rates = ", ".join(
            f"{name.removeprefix('worker-')} {count} ({count / self.waited:.1f}/s)"
            for name, count in self.tasks.items()
            if name.startswith("worker-")
        )
        died = "; ".join(self.deaths) or "none"
        return f"tasks: {rates}; sweeper re-sent {self.resent}; worker deaths: {died}"

    def cpu_per_job(self) -> dict[str, float]:
        """Milliseconds of CPU a job by part (the wait for the last ones included)."""
        jobs = max(1, len(self.rows))
        return {name: 1000 * seconds / jobs for name, seconds in self.cpu.items()}

    def cpu_text(self) -> str:
        per_job = self.cpu_per_job()
        parts = [name for name in self.cpu if name.startswith(("worker-", "beat"))]
        parts += ["bench", "postgresql", "redis", "other"]
        spent = ", ".join(f"{name} {per_job.get(name, 0):.1f}" for name in parts)
        busy = self.cpu.get("machine", 0) / (self.waited * (os.cpu_count() or 1))
        return (
            f"CPU ms a job (bench: the API batch and the sandbox): {spent}; "
            f"in all {per_job.get('machine', 0):.1f} "
            f"(the machine's {os.cpu_count()} CPUs {busy:.0%} busy)"
        )

    def sandbox(self) -> str:
        by_endpoint: Counter[str] = Counter()
        for (endpoint, _status), count in self.answers.items():
            by_endpoint[endpoint] += count
        sent = ", ".join(f"{endpoint} {n}" for endpoint, n in sorted(by_endpoint.items()))
        bad = ", ".join(
            sorted(
                f"{endpoint} {status} x{n}"
                for (endpoint, status), n in self.answers.items()
                if status >= 300
            )
        )
        return f"sandbox: {sent}; not 2xx: {bad or 'none'}"


def run_batch(
    world: World, user: User, count: int, submit_one: Callable[[], object], cap: float
) -> Batch:
    from editor.models import Job

    world.counter.take()
    tasks = {service.name: service.tasks_done() for service in world.services}
    resent = sum(service.resent() for service in world.services)
    deaths = len(world.deaths())
    meter = CpuMeter(world.services)
    started = time.perf_counter()
    for _ in range(count):
        submit_one()
    submitting = time.perf_counter() - started
    finished = wait_for_jobs(world, cap - submitting, 0.25, owner=user)
    waited = time.perf_counter() - started
    cpu = meter.spent()
    canceled: Counter[str] = Counter()
    if not finished:
        canceled = cancel_active(user)
        purge_queues()
    fields = ("status", "error_code", "attempts", "created_at", "started_at", "finished_at")
    return Batch(
        rows=[Ended(*row) for row in Job.objects.filter(owner=user).values_list(*fields)],
        submitting=submitting,
        waited=waited,
        finished=finished,
        canceled=canceled,
        answers=world.counter.take(),
        tasks={
            service.name: service.tasks_done() - tasks[service.name] for service in world.services
        },
        resent=sum(service.resent() for service in world.services) - resent,
        deaths=world.deaths()[deaths:],
        cpu=cpu,
    )


def cancel_active(user: User) -> Counter[str]:
    """Cancel what is still running; returns the statuses the canceled jobs were in."""
    from editor import jobs
    from editor.models import ACTIVE_STATUSES, Job

    left: Counter[str] = Counter()
    for job in Job.objects.filter(owner=user, status__in=ACTIVE_STATUSES):
        status = job.status
        if jobs.cancel(job):  # False: it ended meanwhile
            left[status] += 1
    return left


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- (a) One job --------------------------------------------------------------------------------


def _direct(adapter: VendorAdapter, slug: str, provider_name: str, files: dict[str, bytes]) -> None:
    """The adapter alone against the sandbox: submit, then poll as the vendor advises."""
    from editor import operations
    from editor.vendors.base import InputImage, Pending, VendorError, VendorRequest

    operation = operations.get(slug)
    provider = operation.provider(provider_name)
    request = VendorRequest(
        operation=provider.vendor_operation,
        files={role: InputImage(data, "image/jpeg", f"{role}.jpg") for role, data in files.items()},
        params=operation.vendor_params(provider, {"format": "jpg"} if slug == "colorize" else {}),
    )
    ref = ""
    while True:
        try:
            outcome = adapter.poll(ref) if ref else adapter.submit(request)
        except VendorError as error:
            if not error.retryable or error.retry_after is None:
                raise
            time.sleep(error.retry_after)
            continue
        if not isinstance(outcome, Pending):
            return
        ref = outcome.task_ref
        time.sleep(outcome.poll_after)


def _pipeline_once(
    world: World, user: User, case: OneJobCase, key: VendorKey
) -> tuple[float, float] | None:
    """(created -> succeeded, created -> first claimed) in ms, or None if it did not succeed."""
    from editor import jobs
    from editor.models import JobStatus

    job = submit(user, case.slug, case.provider, case.params, case.files, key)
    if not wait_for_jobs(world, ONE_JOB_WAIT_S, 0.01, pk=job.pk):
        jobs.cancel(job)
    job.refresh_from_db()
    if job.status != JobStatus.SUCCEEDED or job.finished_at is None or job.started_at is None:
        print(f"  {case.label}: the job {job.status}: {job.error_code} {job.error_message}")
        return None
    return (
        (job.finished_at - job.created_at).total_seconds() * 1000,
        (job.started_at - job.created_at).total_seconds() * 1000,
    )


def label(world: World, case: OneJobCase) -> str:
    """The case's name; PicWish's colorization says which mode the workers run it in."""
    if case.provider != "picwish":
        return case.label
    return f"{case.slug} ({'sync' if world.picwish_sync else 'async'})"


@dataclass(frozen=True)
class OneJobCase:
    label: str
    slug: str
    provider: str
    vendor: str
    params: dict[str, Any]
    files: dict[str, bytes]


ONE_JOB_CASES = (
    OneJobCase(
        "retouch (sync)",
        "retouch",
        "ailabtools",
        "ailabtools",
        {},
        {"image": PHOTO, "style": STYLE},
    ),
    OneJobCase(
        "colorize",
        "colorize",
        "picwish",
        "picwish",
        {"format": "jpg"},
        {"image": PHOTO},
    ),
)


def bench_one_job(world: World) -> None:
    from django.conf import settings

    from editor import operations

    settings.SANDBOX_TASK_MS = ONE_JOB_TASK_MS
    user = make_user("bench-one")
    measured: list[tuple[OneJobCase, VendorKey, VendorAdapter]] = []
    for case in ONE_JOB_CASES:
        secret = f"sandbox-bench-one-{case.provider}"
        provider = operations.get(case.slug).provider(case.provider)
        adapter = provider.adapter(api_key=secret, base_url=world.sandbox.url)
        measured.append((case, make_key(user, case.vendor, secret), adapter))
    # Warm up once: the workers' first task, the HTTP connections, the limiter's cache.
    for case, key, adapter in measured:
        _pipeline_once(world, user, case, key)
        _direct(adapter, case.slug, case.provider, case.files)

    print(
        f"\n(a) One job, median of {ONE_JOB_RUNS}, ms (sandbox async task {ONE_JOB_TASK_MS} ms). "
        "pipeline: created -> succeeded; claim: created -> first worker step;\n"
        "    direct: the adapter alone (submit + poll loop) on the same sandbox endpoint"
    )
    print(
        f"{'case':<18}{'pipeline':>9}{'(min-max)':>12}{'claim':>7}{'direct':>8}"
        f"{'overhead':>10}{'ratio':>8}"
    )
    for case, key, adapter in measured:
        runs = [_pipeline_once(world, user, case, key) for _ in range(ONE_JOB_RUNS)]
        timed = [run for run in runs if run is not None]
        direct: list[float] = []
        for _ in range(ONE_JOB_RUNS):
            started = time.perf_counter()
            _direct(adapter, case.slug, case.provider, case.files)
            direct.append((time.perf_counter() - started) * 1000)
        if not timed:
            continue
        through = statistics.median(total for total, _claim in timed)
        claim = statistics.median(claim for _total, claim in timed)
        spread = f"({min(t for t, _ in timed):.0f}-{max(t for t, _ in timed):.0f})"
        alone = statistics.median(direct)
        print(
            f"{label(world, case):<18}{through:>9.0f}{spread:>12}{claim:>7.0f}{alone:>8.0f}"
            f"{through - alone:>+10.0f}{through / alone:>7.1f}x"
        )
        keep(f"one_{case.slug}_ms", round(through, 1))
        keep(f"one_{case.slug}_direct_ms", round(alone, 1))
        keep(f"one_{case.slug}_claim_ms", round(claim, 1))
        keep(f"{case.slug}_overhead_ms", round(through - alone, 1))
        keep(f"{case.slug}_overhead_ratio", round(through / alone, 3))
    if deaths := world.deaths():
        print(f"    worker deaths (started again): {'; '.join(deaths)}")
    world.counter.take()


# --- (b) Many asynchronous jobs at once --------------------------------------------------------


def bench_many_jobs(world: World) -> None:
    from django.conf import settings

    from editor.vendors.ailabtools.contract import POLL_SECONDS

    settings.SANDBOX_TASK_MS = MANY_JOBS_TASK_MS
    task = MANY_JOBS_TASK_MS / 1000
    user = make_user("bench-many")
    key = make_key(user, "ailabtools", "sandbox-bench-many-ailabtools")
    fields = {
        "operation": "expression",
        "provider": "ailabtools_advanced",
        "expression": "natural_smile",
    }
    # One request with the 300 photos, as a client of the API batch endpoint sends them.
    post = api_batch(user, key, fields, FACE, MANY_JOBS)
    batch = run_batch(world, user, 1, post, MANY_JOBS_WAIT_S)
    ideal, ideal_poll = task, task + POLL_SECONDS
    keep("submit_jobs_per_s", round(MANY_JOBS / batch.submitting, 1))
    keep("async300_succeeded", len(batch.succeeded))
    keep("async300_resent", batch.resent)
    if batch.succeeded:
        seconds = [row.seconds for row in batch.succeeded]
        keep("async300_p50_s", round(percentile(seconds, 0.5), 2))
        keep("async300_p95_s", round(percentile(seconds, 0.95), 2))
    print(
        f"\n(b) {MANY_JOBS} async jobs of {task:.0f} s at once (AILabTools advanced expression, "
        f"polled every {POLL_SECONDS:.0f} s); submitting them as one API batch took "
        f"{batch.submitting:.1f} s"
    )
    span = batch.span()
    if batch.finished and span is not None:
        keep("async300_makespan_s", round(span, 2))
        print(
            f"    makespan {span:.1f} s: {span / ideal:.1f}x the {ideal:.0f} s ideal, "
            f"{span / ideal_poll:.1f}x {ideal_poll:.0f} s (one poll more); {batch.latency()}"
        )
    else:
        print(
            f"    makespan: NOT DONE at the {MANY_JOBS_WAIT_S:.0f} s cap (ideal {ideal:.0f} s, "
            f"{ideal_poll:.0f} s with one poll more)"
        )
    print(f"    {batch.outcome()}")
    print(f"    {batch.cpu_text()}")
    per_job = batch.cpu_per_job()
    keep("async300_cpu_ms_a_job", round(per_job.get("machine", 0), 1))
    keep("async300_cpu_ms_a_job_worker", round(per_job.get("worker-io", 0), 1))
    keep("async300_cpu_ms_a_job_api_and_sandbox", round(per_job.get("bench", 0), 1))
    keep("async300_cpu_ms_a_job_postgresql", round(per_job.get("postgresql", 0), 1))
    cpu = batch.rate("worker-cpu")
    if not batch.finished and cpu:
        # Every job takes two steps on the cpu queue: fitting the input, then the thumbnail.
        print(
            f"    at the cpu queue's {cpu:.1f} tasks/s, {MANY_JOBS} jobs x 2 cpu steps "
            f"(fit, thumbnail) need >= {2 * MANY_JOBS / cpu:.0f} s"
        )
    print(f"    {batch.workers()}")
    print(f"    {batch.sandbox()}")


# --- (c) A burst on one PicWish key -------------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    """A burst of colorizations on one key in one PicWish mode, and what the sandbox saw."""

    sync: bool
    batch: Batch
    log: RateLog  # the sandbox's own log of the burst's key
    polls: int  # task queries the sandbox answered (none in the blocking mode)

    @property
    def mode(self) -> str:
        return "sync" if self.sync else "async"

    @property
    def span(self) -> float:
        """First submit -> last job ended (the time waited, if the cap stopped the burst)."""
        span = self.batch.span()
        return span if self.batch.finished and span else self.batch.waited

    @property
    def jobs_per_s(self) -> float:
        return len(self.batch.succeeded) / self.span if self.span else 0.0

    @property
    def job_bound(self) -> float:
        """Jobs per second the key's QPS allows: a blocking job takes one request, an
        asynchronous one a submit and at least one poll."""
        return BURST_QPS / (1 if self.sync else 2)

    @property
    def answered(self) -> int:
        """PicWish requests the sandbox admitted (answered with anything but its 429)."""
        return len(self.log.admitted)

    @property
    def bound_used_pct(self) -> float:
        """Requests answered per second over the burst's span, against the key's QPS."""
        return self.answered / self.span / BURST_QPS * 100 if self.span else 0.0

    @property
    def requests_per_job(self) -> float:
        return self.answered / max(1, len(self.batch.succeeded))

    @property
    def rate_failed(self) -> int:
        return sum(
            row.status == "failed" and row.error_code.startswith("rate_limited")
            for row in self.batch.rows
        )


def use_picwish_mode(world: World, sync: bool) -> None:
    """Start the workers again with ``PICWISH_SYNC`` set for ``sync`` (they read settings once,
    when they start); nothing happens when they already run with it."""
    value = "1" if sync else "0"
    if os.environ.get("PICWISH_SYNC") == value:
        return
    os.environ["PICWISH_SYNC"] = value
    for service in world.services:
        service.stop()
    for service in world.services:
        service.launch()
    for service in world.services:
        service.wait_ready()


def run_burst(world: World, sync: bool) -> Burst:
    from editor.sandbox.state import STATE

    use_picwish_mode(world, sync)
    mode = "sync" if sync else "async"
    user = make_user(f"bench-burst-{mode}")
    secret = f"sandbox-bench-burst-{mode}"  # a key per mode: a log and a limiter of its own
    key = make_key(user, "picwish", secret)
    batch = run_batch(
        world,
        user,
        BURST_JOBS,
        lambda: submit(user, "colorize", "picwish", {"format": "jpg"}, {"image": PHOTO}, key),
        BURST_WAIT_S,
    )
    polls = sum(
        n
        for (endpoint, status), n in batch.answers.items()
        if endpoint == "PicWish poll" and status != 429
    )
    return Burst(sync=sync, batch=batch, log=STATE.rate_log(secret), polls=polls)


def bench_picwish_burst(world: World, modes: list[bool]) -> None:
    """``modes``: PICWISH_SYNC for each run, the default mode first."""
    from django.conf import settings

    settings.SANDBOX_TASK_MS = BURST_TASK_MS
    settings.SANDBOX_PICWISH_QPS = BURST_QPS
    settings.SANDBOX_PICWISH_WINDOW = "sliding"
    bursts = [run_burst(world, sync) for sync in modes]

    print(
        f"\n(c) {BURST_JOBS} PicWish colorizations at once on ONE key; the sandbox admits "
        f"{BURST_QPS} requests in any one second (a sliding window, polls included); task "
        f"{BURST_TASK_MS} ms"
    )
    labels = [burst.mode + (" (default)" if n == 0 else "") for n, burst in enumerate(bursts)]
    rows: list[tuple[str, list[str]]] = [
        ("PICWISH_SYNC", ["1" if burst.sync else "0" for burst in bursts]),
        (
            "succeeded / failed / canceled at the cap",
            [
                f"{len(b.batch.succeeded)} / {sum(r.status == 'failed' for r in b.batch.rows)} / "
                f"{sum(b.batch.canceled.values())}"
                for b in bursts
            ],
        ),
        ("time, first submit -> last job ended (s)", [f"{b.span:.1f}" for b in bursts]),
        ("jobs per second", [f"{b.jobs_per_s:.2f}" for b in bursts]),
        ("bound: jobs per second at the key's QPS", [f"{b.job_bound:.0f}" for b in bursts]),
        ("share of that bound", [f"{b.jobs_per_s / b.job_bound:.0%}" for b in bursts]),
        ("PicWish requests answered (not 429)", [str(b.answered) for b in bursts]),
        ("  of which polls", [str(b.polls) for b in bursts]),
        ("requests per succeeded job", [f"{b.requests_per_job:.2f}" for b in bursts]),
        (
            f"requests/s used of the key's {BURST_QPS} QPS",
            [f"{b.bound_used_pct:.0f}%" for b in bursts],
        ),
        ("429s from the sandbox", [str(b.log.refused) for b in bursts]),
        (
            "most admitted in any 1 s (sandbox log)",
            [str(b.log.max_in_any_second()) for b in bursts],
        ),
        ("jobs failed on a rate limit", [str(b.rate_failed) for b in bursts]),
        (
            "vendor-error retries (max for a job)",
            [
                f"{sum(r.attempts for r in b.batch.rows)} "
                f"({max((r.attempts for r in b.batch.rows), default=0)})"
                for b in bursts
            ],
        ),
        ("per job p50 / p95 (s)", [_p50_p95(b.batch) for b in bursts]),
    ]
    print(f"    {'':<44}" + "".join(f"{label:>18}" for label in labels))
    for name, cells in rows:
        print(f"    {name:<44}" + "".join(f"{cell:>18}" for cell in cells))
    for burst, label in zip(bursts, labels, strict=True):
        print(f"    {label}: {burst.batch.workers()}")
        print(f"    {label}: {burst.batch.sandbox()}")
    if any(burst.sync and burst.polls for burst in bursts):
        print(
            "    note: the PicWish adapter ignored PICWISH_SYNC=1 (the sandbox saw polls): "
            "both columns ran asynchronously"
        )

    for number, burst in enumerate(bursts):
        figures_of_burst = {
            "jobs_per_s": round(burst.jobs_per_s, 3),
            "bound_used_pct": round(burst.bound_used_pct, 1),
            "vendor_429s": burst.log.refused,
            "max_per_sliding_second": burst.log.max_in_any_second(),
            "requests_per_job": round(burst.requests_per_job, 2),
            "polls": burst.polls,
        }
        for name, value in figures_of_burst.items():
            keep(f"picwish_{burst.mode}_{name}", value)
        if number == 0:  # the default mode's are the headline figures
            figures_of_burst |= {
                "makespan_s": round(burst.span, 2),
                "succeeded": len(burst.batch.succeeded),
                "failed_rate_limited": burst.rate_failed,
                "headline_sync": int(burst.sync),  # 1: these are the blocking mode's
            }
            for name, value in figures_of_burst.items():
                keep(f"picwish_{name}", value, also_default=True)


def _p50_p95(batch: Batch) -> str:
    seconds = [row.seconds for row in batch.succeeded]
    if not seconds:
        return "-"
    return f"{percentile(seconds, 0.5):.0f} / {percentile(seconds, 0.95):.0f}"


# --- Main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    from django.conf import settings as django_settings

    if django_settings.configured:
        raise SystemExit("bench/pipeline.py sets Django up itself: run it in a fresh process")
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma list of " + ", ".join(CASES)
    )
    parser.add_argument("--modes", choices=("both", "headline"), default="both")
    parser.add_argument("--suffix", default="", help="added to every figure's key")
    arguments = parser.parse_args(argv)
    cases = [case.strip() for case in arguments.cases.split(",") if case.strip()]
    if unknown := set(cases) - set(CASES):
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    KEYS.suffix = arguments.suffix
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        with contextlib.ExitStack() as cleanup:
            var_dir = Path(tempfile.mkdtemp(prefix="studio-bench-pipeline-"))
            cleanup.callback(shutil.rmtree, var_dir, ignore_errors=True)
            stores = configure_environment(var_dir, cleanup)
            KEYS.on_defaults = not any(os.environ.get(name) for name in STORE_VARIABLES)
            world = _start_world(var_dir, cleanup)
            print(
                f"\nThe job pipeline: {stores}; workers as in Procfile.dev (io: threads x 8, "
                "cpu: prefork x 2, beat); the sandbox in a thread of this process",
                flush=True,
            )
            try:
                if "one" in cases:
                    bench_one_job(world)
                if "many" in cases:
                    bench_many_jobs(world)
                if "burst" in cases:
                    default = world.picwish_sync
                    modes = [default] if arguments.modes == "headline" else [default, not default]
                    bench_picwish_burst(world, modes)
            except Exception:
                for service in world.services:
                    print(f"--- {service.name} log, last lines ---\n{service.tail()}")
                raise
            finally:
                sys.stdout.flush()
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_in_world(script: str, title: str, body: Callable[[World], None]) -> None:
    """Run a bench section that needs the whole studio: its own VAR_DIR and stores, the sandbox,
    the workers as in Procfile.dev; everything stopped and removed after, also on SIGTERM."""
    from django.conf import settings as django_settings

    if django_settings.configured:
        raise SystemExit(f"bench/{script}.py sets Django up itself: run it in a fresh process")
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        with contextlib.ExitStack() as cleanup:
            var_dir = Path(tempfile.mkdtemp(prefix=f"studio-bench-{script}-"))
            cleanup.callback(shutil.rmtree, var_dir, ignore_errors=True)
            stores = configure_environment(var_dir, cleanup)
            world = _start_world(var_dir, cleanup)
            print(f"\n{title}: {stores}; workers as in Procfile.dev", flush=True)
            try:
                body(world)
            except Exception:
                for service in world.services:
                    print(f"--- {service.name} log, last lines ---\n{service.tail()}")
                raise
            finally:
                sys.stdout.flush()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _start_world(var_dir: Path, cleanup: contextlib.ExitStack) -> World:
    import logging

    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    # The sandbox's request lines and 4xx answers would drown the figures, and so would
    # whitenoise's note about STATIC_ROOT (only collectstatic makes it).
    for name in ("django.server", "django.request", "kombu.connection"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    call_command("migrate", verbosity=0)
    cleanup.callback(connections.close_all)  # before the database is dropped

    from editor.sandbox import server

    sandbox = server.start("127.0.0.1", 0)
    cleanup.callback(sandbox.stop)
    app = sandbox.server.get_app()
    assert app is not None
    counter = SandboxCounter(app)
    sandbox.server.set_app(counter)
    os.environ["SANDBOX_URL"] = settings.SANDBOX_URL = sandbox.url
    # PICWISH_SYNC was taken out of the environment before settings were read, so this is its
    # default (False where the adapter has no such setting yet); the workers start in it.
    picwish_sync = bool(getattr(settings, "PICWISH_SYNC", False))
    os.environ["PICWISH_SYNC"] = "1" if picwish_sync else "0"
    services = start_services(var_dir, cleanup)
    return World(sandbox=sandbox, counter=counter, services=services, picwish_sync=picwish_sync)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
