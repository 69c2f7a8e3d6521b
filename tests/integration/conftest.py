"""The whole pipeline for real: a Celery worker in its own process, the real broker (Redis in CI,
the filesystem transport locally), the database the test sees, and the vendor sandbox over HTTP.
"""

from __future__ import annotations

import contextlib
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
from tests.integration.warm import Launcher
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
    """A real Celery worker process on both queues. ``app``: the Celery app module
    (tests.integration.crash_worker pauses jobs at a stage). With a ``launcher`` whose
    environment is this worker's, the process is forked from the session's warm one
    (tests.integration.warm); otherwise it is ``python -m celery`` started afresh."""

    env: dict[str, str]
    log: Path
    app: str = "config"
    concurrency: int = 8
    launcher: Launcher | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    pid: int = 0
    _started_at: int = field(default=0, repr=False)  # where this run's lines start in the log

    def arguments(self) -> list[str]:
        """``celery worker``'s, after ``--app``."""
        return [
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
        ]

    @property
    def warm(self) -> bool:
        return self.launcher is not None and self.app == "config" and self.launcher.env == self.env

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        # A restart appends to the same log: only this run's " ready." counts.
        self.log.touch()
        self._started_at = self.log.stat().st_size
        if self.warm:
            assert self.launcher is not None
            self.process = None
            self.pid = self.launcher.fork(self.log, self.arguments())
        else:
            with self.log.open("ab") as handle:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "celery", "--app", self.app, *self.arguments()],
                    cwd=ROOT,
                    env=self.env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            self.pid = self.process.pid
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if not self.alive:
                break
            time.sleep(0.05)
        raise RuntimeError("the worker did not start:\n" + self.log.read_text(errors="replace"))

    def output(self) -> str:
        """What this run of the worker logged so far."""
        with self.log.open("rb") as handle:
            handle.seek(self._started_at)
            return handle.read().decode(errors="replace")

    @property
    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        if not self.pid:
            return False
        try:
            os.kill(self.pid, 0)  # the warm process reaps its children: a dead one is gone
        except ProcessLookupError:
            return False
        return True

    def _signal(self, number: signal.Signals, wait: float) -> bool:
        """Send ``number``; True once the process has ended within ``wait`` seconds."""
        if not self.alive:
            return True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, number)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not self.alive:
                return True
            time.sleep(0.02)
        return False

    def kill(self) -> None:
        """SIGKILL: no chance to ack, release or clean up."""
        if not self._signal(signal.SIGKILL, 10):
            raise RuntimeError(f"worker {self.pid} outlived SIGKILL")

    def end(self) -> None:
        """After its test: at once. A warm stop waits seconds for tasks whose outcome no longer
        matters, and every test that starts a worker paid them (the database is emptied after;
        a task cut short leaves nothing the next test sees)."""
        self.kill()

    def stop(self) -> None:
        if not self._signal(signal.SIGTERM, 20):
            self.kill()


def worker_environment(sandbox_url: str, media: Path) -> dict[str, str]:
    """The environment of a worker process that sees the test database, the media folder and
    the sandbox given."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "MEDIA_ROOT": str(media),
        "VAR_DIR": str(django_settings.VAR_DIR),
        "SANDBOX_ENABLED": "true",
        "SANDBOX_URL": sandbox_url,
        "JOB_RETRY_BASE_SECONDS": "1",
        # PicWish as an asynchronous task, so colorize jobs have a poll stage to test; its
        # blocking mode has a test of its own (test_pipeline.py).
        "PICWISH_SYNC": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    # pytest names the running test here; a worker has no use for it, and with it no two
    # tests' environments would be the same (so none could have a warm worker).
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


@pytest.fixture(scope="session")
def launcher(
    django_db_setup: None,
    sandbox: server.RunningSandbox,
    shared_media: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Launcher]:
    """The session's warm process, loaded with the environment most tests' workers share."""
    log = tmp_path_factory.mktemp("warm") / "warm.log"
    running = Launcher(worker_environment(sandbox.url, shared_media), cwd=ROOT, log=log)
    yield running
    running.close()


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
    return worker_environment(sandbox.url, shared_media)


@pytest.fixture
def worker(worker_env: dict[str, str], launcher: Launcher, tmp_path: Path) -> Iterator[Worker]:
    running = Worker(env=worker_env, log=tmp_path / "worker.log", launcher=launcher)
    running.start()
    yield running
    running.end()


SpawnWorker = Callable[..., Worker]


@pytest.fixture
def spawn_worker(
    worker_env: dict[str, str], launcher: Launcher, tmp_path: Path
) -> Iterator[SpawnWorker]:
    """Start workers of one's own: ``spawn_worker(name, app=..., concurrency=..., **env)``.
    Every one still running is stopped after the test. One with the usual app and environment
    is forked warm; any other is started afresh."""
    started: list[Worker] = []

    def spawn(
        name: str = "worker", *, app: str = "config", concurrency: int = 8, **env: str
    ) -> Worker:
        running = Worker(
            env={**worker_env, **env},
            log=tmp_path / f"{name}.log",
            app=app,
            concurrency=concurrency,
            launcher=launcher,
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
