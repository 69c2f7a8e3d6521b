"""A load run on loopback: many people browsing their galleries and watching their jobs while
jobs run, against gunicorn as production runs it. Prints figures; passes or fails nothing.

The world is built for the run and taken down after it, even on errors, Ctrl-C and SIGTERM: a
temporary VAR_DIR (SQLite, kombu's filesystem broker, media, static files), or, when
DATABASE_URL / CELERY_BROKER_URL point at PostgreSQL / Redis, a PostgreSQL database of its own
(``studio_bench_load``, created, then dropped) and Redis DB 13 as broker and cache (flushed).
One account per simulated person, each with a sandbox PicWish key and a gallery of finished jobs
whose result files and thumbnails are real files. Then, each in a session of its own:

- gunicorn with the production command line (README, Dockerfile) and 4 sync workers;
- the Celery workers as Procfile.dev runs them (``io``: threads x 8, ``cpu``: prefork x 2);
- the vendor sandbox, in a thread of this process;
- locust, headless, with the people of bench/locustfile.py: gallery browsers, people who start
  a job and watch its page poll, and people who start a job every few seconds.

The table gives, per request type and in total: requests, requests per second, p50/p95/p99 and
max latency (ms) and failures (any unexpected status or body), then the jobs started and
finished during the run.

It configures Django itself, so it needs a fresh process: ``.venv/bin/python bench/load.py``
(``--users``, ``--seconds``, ``--json PATH`` for the whole report as JSON). The totals also go to
``make bench``'s JSON as ``load_<users>u_*`` (bench/figures.py).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import figures
import pipeline

ROOT = Path(__file__).resolve().parent.parent

LOAD_DATABASE = "studio_bench_load"
LOAD_REDIS_DB = 13
ACCOUNT_PREFIX = "load-"
# Everyone signs in through the real form; one password, hashed once for every account.
PASSWORD = "load-run-password-7d1e"
GUNICORN_WORKERS = 4
JOBS_PER_ACCOUNT = 200
# Gallery jobs: mostly succeeded with a result, some failed or canceled, as a real gallery.
SEEDED_STATUSES = ("succeeded",) * 8 + ("failed", "canceled")
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")
# The production access log format (Dockerfile): no request path, share tokens live in paths.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s" %(s)s %(B)s %(L)s'


@dataclass(frozen=True)
class Row:
    """One request type (or the total) as locust measured it; times in ms."""

    name: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float


@dataclass(frozen=True)
class Report:
    users: int
    seconds: int
    stores: str
    rows: list[Row]  # one per request type
    total: Row
    failures: list[str]  # locust's failure messages with their counts
    jobs_started: int  # jobs created during the run
    jobs_finished: int  # jobs that ended (any way) during the run
    jobs_succeeded: int
    jobs_failed: int
    tasks: dict[str, int]  # Celery tasks each worker finished

    def table(self) -> str:
        head = (
            f"\nLoad run: {self.users} people for {self.seconds} s over loopback against gunicorn "
            f"({GUNICORN_WORKERS} sync workers); {self.stores}\n"
            "    people: gallery browsers, job watchers (poll every 1 s), job starters, 6:3:1\n"
        )
        lines = [
            head,
            f"{'request':<42}{'requests':>9}{'RPS':>8}{'p50':>7}{'p95':>7}{'p99':>7}"
            f"{'max':>7}{'failures':>9}",
        ]
        for row in [*self.rows, self.total]:
            lines.append(
                f"{row.name:<42}{row.requests:>9}{row.rps:>8.1f}{row.p50:>7.0f}{row.p95:>7.0f}"
                f"{row.p99:>7.0f}{row.max:>7.0f}{row.failures:>9}"
            )
        lines.append(
            f"jobs during the run: started {self.jobs_started}, finished {self.jobs_finished} "
            f"(succeeded {self.jobs_succeeded}, failed {self.jobs_failed}); worker tasks: "
            + ", ".join(f"{name.removeprefix('worker-')} {n}" for name, n in self.tasks.items())
        )
        lines += [f"    failure: {failure}" for failure in self.failures]
        return "\n".join(lines)


# --- The throwaway world ----------------------------------------------------------------------


def configure_environment(var_dir: Path, cleanup: contextlib.ExitStack) -> str:
    """Point this process's environment (inherited by gunicorn and the workers) at the run's
    own stores; returns a line that says which they are."""
    database_url = os.environ.get("DATABASE_URL", "")
    if urlsplit(database_url).scheme in {"postgres", "postgresql", "pgsql"}:
        if urlsplit(database_url).path.strip("/") == LOAD_DATABASE:
            raise SystemExit(f"DATABASE_URL names {LOAD_DATABASE}, which the load run drops")
        admin_url = pipeline._postgres_admin_url(database_url)  # only to create and drop ours
        pipeline._drop_and_create(admin_url, create=True, database=LOAD_DATABASE)
        cleanup.callback(pipeline._drop_and_create, admin_url, create=False, database=LOAD_DATABASE)
        os.environ["DATABASE_URL"] = pipeline._with_path(database_url, f"/{LOAD_DATABASE}")
        database = f"PostgreSQL database {LOAD_DATABASE}"
    else:
        os.environ.pop("DATABASE_URL", None)  # settings put SQLite in VAR_DIR
        database = "SQLite (WAL)"

    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if pipeline._is_redis(broker_url):
        redis_url = pipeline._with_path(broker_url, f"/{LOAD_REDIS_DB}")
        # The cache too, as in production: login throttling and the vendor rate limiter must
        # be shared by every gunicorn and Celery process.
        os.environ["CELERY_BROKER_URL"] = os.environ["CACHE_URL"] = redis_url
        pipeline._flush_redis(redis_url)
        cleanup.callback(pipeline._flush_redis, redis_url)
        stores = f"Redis DB {LOAD_REDIS_DB} as broker and cache"
    else:
        os.environ.pop("CELERY_BROKER_URL", None)
        os.environ.pop("CACHE_URL", None)
        stores = "kombu filesystem broker, file cache"

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VAR_DIR": str(var_dir),
            "MEDIA_STORAGE": "local",
            "MEDIA_ROOT": str(var_dir / "media"),
            "STATIC_ROOT": str(var_dir / "static"),
            "DEBUG": "false",  # as in production
            # Plain HTTP on loopback: no redirect to https, cookies a client sends over http.
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_LEVEL": "INFO",  # the workers' " ready." line
            "SANDBOX_ENABLED": "true",
            "QUOTA_JOBS_PER_DAY": pipeline.BENCH_QUOTA,
            "QUOTA_CREDITS_PER_MONTH": pipeline.BENCH_QUOTA,
            "QUOTA_CONCURRENT_JOBS": pipeline.BENCH_QUOTA,
        }
    )
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return f"{database}, {stores}"


def collect_static() -> None:
    """The hashed names and manifest that production's static storage reads. Without
    whitenoise's compression, which takes half a minute (brotli) and serves only the static
    files a load run never asks for."""
    from django.core.management import call_command
    from django.test import override_settings

    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)


def seed(accounts: int, jobs_each: int, media_root: Path) -> None:
    """``accounts`` people, each with a sandbox PicWish key and ``jobs_each`` ended jobs; the
    succeeded ones with a result and a thumbnail on disk. Rows are made directly (a few
    thousand jobs through the pipeline would take minutes)."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import User
    from editor import operations
    from editor.models import Job, Result

    result_bytes = pipeline.make_image((640, 480), (120, 110, 100))
    thumbnail_bytes = pipeline.make_image((320, 240), (120, 110, 100))
    slugs = [operation.slug for operation in operations.OPERATIONS]
    providers = {op.slug: op.default_provider.name for op in operations.OPERATIONS}
    now = timezone.now()
    owners = []
    for number in range(accounts):
        owner = pipeline.make_user(f"{ACCOUNT_PREFIX}{number}")
        pipeline.make_key(owner, "picwish", f"sandbox-load-{number}")
        owners.append(owner)
    User.objects.filter(pk__in=[o.pk for o in owners]).update(password=make_password(PASSWORD))

    def job(owner: User, number: int) -> Job:
        slug = slugs[number % len(slugs)]
        status = SEEDED_STATUSES[number % len(SEEDED_STATUSES)]
        created = now - dt.timedelta(minutes=37 * (number + 1))
        return Job(
            owner=owner,
            operation=slug,
            provider=providers[slug],
            params={"format": "jpg"} if slug == "colorize" else {},
            status=status,
            progress=100,
            error_code="bad_image" if status == "failed" else "",
            error_message="The vendor could not read this photo." if status == "failed" else "",
            credits=1,
            charged_on=created.date(),
            deadline=created + dt.timedelta(minutes=10),
            created_at=created,
            started_at=created + dt.timedelta(seconds=1),
            finished_at=created + dt.timedelta(seconds=4),
        )

    jobs = Job.objects.bulk_create(
        (job(owner, number) for owner in owners for number in range(jobs_each)), batch_size=1000
    )
    results = []
    for made in jobs:
        if made.status != "succeeded":
            continue
        folder = f"jobs/{made.owner_id}/{made.pk}"
        (media_root / folder).mkdir(parents=True)
        (media_root / folder / "result-0.jpg").write_bytes(result_bytes)
        (media_root / folder / "thumb-0.jpg").write_bytes(thumbnail_bytes)
        results.append(
            Result(
                job=made,
                file=f"{folder}/result-0.jpg",
                thumbnail=f"{folder}/thumb-0.jpg",
                media_type="image/jpeg",
                width=640,
                height=480,
                bytes=len(result_bytes),
            )
        )
    Result.objects.bulk_create(results, batch_size=1000)


def sign_in(accounts: int) -> list[str]:
    """A session key per account, as a sign-in through the form would have made it: the
    people who come back to the studio signed in (sessions last two weeks)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from accounts.models import User

    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    for number in range(accounts):
        user = User.objects.get(username=f"{ACCOUNT_PREFIX}{number}")
        session = store()
        session[SESSION_KEY] = user._meta.pk.value_to_string(user)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        keys.append(str(session.session_key))
    return keys


class Gunicorn:
    """gunicorn with the production command line, on a port the system chooses."""

    def __init__(self, var_dir: Path, workers: int) -> None:
        self.log = var_dir / "gunicorn.log"
        self.command = [
            sys.executable,
            *("-m", "gunicorn", "config.wsgi:application"),
            *("--bind", "127.0.0.1:0", "--workers", str(workers), "--timeout", "60"),
            *("--access-logfile", str(var_dir / "access.log")),
            *("--access-logformat", ACCESS_LOG_FORMAT),
        ]
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        with self.log.open("ab") as handle:
            self._process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=dict(os.environ),
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches the run only, which stops it
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                break
            found = LISTENING.search(self.log.read_text(errors="replace"))
            if found is not None:
                self.url = found.group(1)
                try:
                    with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as answer:
                        if answer.status == 200:
                            return
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()  # gunicorn's graceful shutdown
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


class Locust:
    """The headless locust run, in a process of its own: it monkey-patches with gevent."""

    def __init__(self, var_dir: Path) -> None:
        self.prefix = var_dir / "locust"
        self.log = var_dir / "locust.log"
        self._process: subprocess.Popen[bytes] | None = None

    def run(
        self, url: str, users: int, seconds: int, spawn_rate: float, env: dict[str, str]
    ) -> None:
        command = [
            sys.executable,
            *("-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py")),
            *("--headless", "--only-summary", "--host", url, "--csv", str(self.prefix)),
            *("-u", str(users), "-r", str(spawn_rate), "-t", f"{seconds}s"),
            *("--loglevel", "WARNING"),
        ]
        with self.log.open("ab") as handle:
            self._process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        status = self._process.wait(seconds + 120)
        # 1: the run had failures, which the figures show; anything else: locust broke.
        if status not in (0, 1):
            raise RuntimeError(f"locust stopped with status {status}:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def rows(self) -> tuple[list[Row], Row]:
        """Per request type, and the total, from locust's CSV summary."""

        def ms(value: str) -> float:
            return 0.0 if value in ("", "N/A") else float(value)

        rows: list[Row] = []
        total: Row | None = None
        with Path(f"{self.prefix}_stats.csv").open(newline="") as handle:
            for line in csv.DictReader(handle):
                row = Row(
                    name="total" if line["Name"] == "Aggregated" else line["Name"],
                    requests=int(line["Request Count"]),
                    failures=int(line["Failure Count"]),
                    rps=float(line["Requests/s"]),
                    p50=ms(line["50%"]),
                    p95=ms(line["95%"]),
                    p99=ms(line["99%"]),
                    max=ms(line["Max Response Time"]),
                )
                if line["Name"] == "Aggregated":
                    total = row
                else:
                    rows.append(row)
        if total is None:
            raise RuntimeError(f"locust wrote no total:\n{self.tail()}")
        return rows, total

    def failures(self) -> list[str]:
        path = Path(f"{self.prefix}_failures.csv")
        if not path.exists():
            return []
        with path.open(newline="") as handle:
            return [
                f"{line['Name']}: {line['Error']} x{line['Occurrences']}"
                for line in csv.DictReader(handle)
            ]


class Stoppable(Protocol):
    def stop(self) -> None: ...


def stop_all(processes: list[Stoppable]) -> None:
    """Stop them side by side: each shutdown waits for work in flight (a Celery warm
    shutdown, gunicorn's graceful one), and one after another they add up."""
    with ThreadPoolExecutor(len(processes)) as pool:
        for stopped in [pool.submit(process.stop) for process in processes]:
            stopped.result()


def _raise_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the clean-up, as Ctrl-C does


# --- The run ------------------------------------------------------------------------------------


def run(
    users: int,
    seconds: int,
    *,
    jobs_per_account: int = JOBS_PER_ACCOUNT,
    spawn_rate: float | None = None,
    gunicorn_workers: int = GUNICORN_WORKERS,
) -> Report:
    """Build the world, run locust with ``users`` people for ``seconds``, take it all down."""
    from django.conf import settings as django_settings

    if django_settings.configured:
        raise SystemExit("bench/load.py sets Django up itself: run it in a fresh process")
    with contextlib.ExitStack() as cleanup:
        var_dir = Path(tempfile.mkdtemp(prefix="studio-bench-load-"))
        cleanup.callback(shutil.rmtree, var_dir, ignore_errors=True)
        stores = configure_environment(var_dir, cleanup)

        import django
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        # The sandbox's request lines would drown the figures.
        for name in ("django.server", "django.request", "kombu.connection"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        collect_static()  # before gunicorn starts: whitenoise looks at STATIC_ROOT once

        from editor.sandbox import server

        sandbox = server.start("127.0.0.1", 0)
        cleanup.callback(sandbox.stop)
        os.environ["SANDBOX_URL"] = settings.SANDBOX_URL = sandbox.url

        # gunicorn and the workers boot while the database is made and filled: none of them
        # touches it before its first request or task.
        web = Gunicorn(var_dir, gunicorn_workers)
        services = [pipeline.Service(name, var_dir) for name in ("worker-io", "worker-cpu")]
        cleanup.callback(stop_all, [web, *services])
        web.launch()
        for service in services:
            service.launch()
        call_command("migrate", verbosity=0)
        cleanup.callback(connections.close_all)  # before the database is dropped
        seed(users, jobs_per_account, Path(settings.MEDIA_ROOT))
        photo = var_dir / "photo.jpg"
        photo.write_bytes(pipeline.PHOTO)
        sessions = var_dir / "sessions.txt"
        sessions.write_text("\n".join(sign_in(users)))
        for service in services:
            service.wait_ready()
        web.wait_ready()

        load = Locust(var_dir)
        cleanup.callback(load.stop)
        tasks_before = {service.name: service.tasks_done() for service in services}
        started = dt.datetime.now(tz=dt.UTC)
        load.run(
            web.url,
            users,
            seconds,
            spawn_rate or min(users, 10),
            {
                "LOAD_ACCOUNTS": str(users),
                "LOAD_PREFIX": ACCOUNT_PREFIX,
                "LOAD_PASSWORD": PASSWORD,
                "LOAD_PHOTO": str(photo),
                "LOAD_SESSIONS": str(sessions),
            },
        )
        ended = dt.datetime.now(tz=dt.UTC)
        tasks = {s.name: s.tasks_done() - tasks_before[s.name] for s in services}

        from editor.models import ENDED_STATUSES, Job, JobStatus

        finished = Job.objects.filter(
            status__in=ENDED_STATUSES, finished_at__gte=started, finished_at__lte=ended
        )
        rows, total = load.rows()
        return Report(
            users=users,
            seconds=seconds,
            stores=stores,
            rows=rows,
            total=total,
            failures=load.failures(),
            jobs_started=Job.objects.filter(created_at__gte=started, created_at__lte=ended).count(),
            jobs_finished=finished.count(),
            jobs_succeeded=finished.filter(status=JobStatus.SUCCEEDED).count(),
            jobs_failed=finished.filter(status=JobStatus.FAILED).count(),
            tasks=tasks,
        )
    raise AssertionError("unreachable")  # the ExitStack does not swallow exceptions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=JOBS_PER_ACCOUNT, help="per account")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    arguments = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        report = run(arguments.users, arguments.seconds, jobs_per_account=arguments.jobs)
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(report.table(), flush=True)
    prefix = f"load_{report.users}u"
    for key, value in (
        ("requests", report.total.requests),
        ("rps", round(report.total.rps, 2)),
        ("p50_ms", round(report.total.p50, 1)),
        ("p95_ms", round(report.total.p95, 1)),
        ("p99_ms", round(report.total.p99, 1)),
        ("max_ms", round(report.total.max, 1)),
        ("failures", report.total.failures),
        ("jobs_started", report.jobs_started),
        ("jobs_finished", report.jobs_finished),
        ("jobs_failed", report.jobs_failed),
    ):
        figures.record(f"{prefix}_{key}", value)
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(dataclasses.asdict(report), indent=2))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
