"""The whole pipeline for real: a Celery worker in its own process, the real broker (Redis in CI,
the filesystem transport locally), the database the test sees, and the vendor sandbox over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from editor.models import ENDED_STATUSES, Job
from editor.sandbox import server
from editor.sandbox.state import STATE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[server.RunningSandbox]:
    running = server.start("127.0.0.1", 0)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def shared_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Worker:
    """A real ``celery worker`` process on both queues."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "--app",
                "config",
                "worker",
                "--queues",
                "io,cpu",
                "--pool",
                "threads",
                "--concurrency",
                "8",
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
            if " ready." in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("the worker did not start:\n" + self.log.read_text(errors="replace"))

    def kill(self) -> None:
        """SIGKILL: no chance to ack, release or clean up."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker(
    transactional_db: None,
    sandbox: server.RunningSandbox,
    shared_media: Path,
    settings: SettingsWrapper,
    tmp_path: Path,
) -> Iterator[Worker]:
    settings.MEDIA_ROOT = shared_media
    settings.SANDBOX_URL = sandbox.url
    settings.SANDBOX_TASK_MS = 300
    STATE.reset()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "MEDIA_ROOT": str(shared_media),
        "VAR_DIR": str(django_settings.VAR_DIR),
        "SANDBOX_ENABLED": "true",
        "SANDBOX_URL": sandbox.url,
        "JOB_RETRY_BASE_SECONDS": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    running = Worker(env=env, log=tmp_path / "worker.log")
    running.start()
    yield running
    running.stop()


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
