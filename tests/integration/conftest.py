"""The whole pipeline for real: a Celery worker in its own process, the real broker (Redis in CI,
the filesystem transport locally), the database the test sees, and the vendor sandbox over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from editor.models import ENDED_STATUSES, Job
from editor.sandbox import server
from editor.sandbox.state import STATE
from tests.processes import database_url

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[server.RunningSandbox]:
    running = server.start("127.0.0.1", 0)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def shared_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@dataclass
class Worker:
    """A real ``celery worker`` process on both queues. ``app``: the Celery app module
    (tests.integration.crash_worker pauses jobs at a stage)."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    app: str = "config"
    concurrency: int = 8
    _started_at: int = field(default=0, repr=False)  # where this run's lines start in the log

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        # A restart appends to the same log: only this run's " ready." counts.
        self._started_at = self.log.stat().st_size if self.log.exists() else 0
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "--app",
                self.app,
                "worker",
                "--queues",
                "io,cpu",
                "--pool",
                "threads",
                "--concurrency",
                str(self.concurrency),
                "--hostname",
                f"test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("the worker did not start:\n" + self.log.read_text(errors="replace"))

    def output(self) -> str:
        """What this run of the worker logged so far."""
        with self.log.open("rb") as handle:
            handle.seek(self._started_at)
            return handle.read().decode(errors="replace")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no chance to ack, release or clean up."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def end(self) -> None:
        """After its test: at once. A warm stop waits seconds for tasks whose outcome no longer
        matters, and every test that starts a worker paid them (the database is emptied after;
        a task cut short leaves nothing the next test sees)."""
        self.kill()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_env(
    transactional_db: None,
    sandbox: server.RunningSandbox,
    shared_media: Path,
    settings: SettingsWrapper,
) -> dict[str, str]:
    """The environment of a worker process that sees this test's database, media and sandbox
    (the test's settings are pointed at the same media and sandbox)."""
    settings.MEDIA_ROOT = shared_media
    settings.SANDBOX_URL = sandbox.url
    settings.SANDBOX_TASK_MS = 300
    STATE.reset()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "MEDIA_ROOT": str(shared_media),
        "VAR_DIR": str(django_settings.VAR_DIR),
        "SANDBOX_ENABLED": "true",
        "SANDBOX_URL": sandbox.url,
        "JOB_RETRY_BASE_SECONDS": "1",
        # PicWish as an asynchronous task, so colorize jobs have a poll stage to test; its
        # blocking mode has a test of its own (test_pipeline.py).
        "PICWISH_SYNC": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    running = Worker(env=worker_env, log=tmp_path / "worker.log")
    running.start()
    yield running
    running.end()


SpawnWorker = Callable[..., Worker]


@pytest.fixture
def spawn_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[SpawnWorker]:
    """Start workers of one's own: ``spawn_worker(name, app=..., concurrency=..., **env)``.
    Every one still running is stopped after the test."""
    started: list[Worker] = []

    def spawn(
        name: str = "worker", *, app: str = "config", concurrency: int = 8, **env: str
    ) -> Worker:
        running = Worker(
            env={**worker_env, **env},
            log=tmp_path / f"{name}.log",
            app=app,
            concurrency=concurrency,
        )
        started.append(running)
        running.start()
        return running

    yield spawn
    for running in started:
        running.end()


# The sandbox endpoints that answer a vendor's polls and account queries; every other POST
# is a submit, the call a vendor bills.
NOT_SUBMITS = frozenset(
    {
        "/api/common/query-async-task-result",
        "/api/image/asyn-task-results",
        "/api/common/query-credits",
    }
)


class VendorCalls:
    """The submits the sandbox accepted (2xx), by API key, counted around its WSGI app: how
    often a job paid (PicWish's sandbox keeps no credits, so STATE.balance cannot tell)."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._submits: Counter[str] = Counter()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if environ.get("REQUEST_METHOD") != "POST" or path in NOT_SUBMITS:
            return self.app(environ, start_response)
        key = str(environ.get("HTTP_AILABAPI_API_KEY") or environ.get("HTTP_X_API_KEY") or "")

        def counting(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            if status.startswith("2"):
                with self._lock:
                    self._submits[key] += 1
            return start_response(status, headers, exc_info)

        return self.app(environ, counting)

    def submits(self, key: str) -> int:
        with self._lock:
            return self._submits[key]


@pytest.fixture
def vendor_calls(sandbox: server.RunningSandbox) -> Iterator[VendorCalls]:
    app = sandbox.server.get_app()
    assert app is not None
    calls = VendorCalls(app)
    sandbox.server.set_app(calls)
    yield calls
    sandbox.server.set_app(app)


WaitFor = Callable[..., Job]


@pytest.fixture
def wait_for_end() -> WaitFor:
    def wait(job: Job, timeout: float = 60.0) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status in ENDED_STATUSES:
                return job
            time.sleep(0.2)
        raise AssertionError(
            f"job still {job.status} at {timezone.now():%H:%M:%S}: {job.error_message}"
        )

    return wait
