"""Warm workers: one process per test session that has imported the studio once and forks a
ready-to-boot Celery worker for each test that asks, instead of each test starting a fresh
interpreter that imports Django, Celery, Pillow, NumPy and every vendor adapter again (about two
seconds of CPU a test, on a CI machine of two CPUs).

Each forked worker is still a process of its own, started for one test and killed after it, as
with ``celery worker`` on the command line: the test sees the same isolation, only sooner.

Run as ``python -m tests.integration.warm`` with the workers' environment. It answers ``warm``
on standard output once loaded, then reads one JSON request a line (``{"log": path, "argv":
[...]}``) and answers each with the new worker's process id. Its children are reaped by the
kernel (SIGCHLD ignored), so a dead worker's id is gone at once, never a zombie.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, NoReturn


def _load() -> None:
    """Everything a worker imports before it boots: settings, apps, the Celery app and the
    task modules with what they import."""
    import django

    django.setup()
    from django.db import connections

    from config.celery import app

    app.loader.import_default_modules()
    # Nothing may be shared with the children but memory: no database connection, no thread.
    connections.close_all()
    if threading.active_count() != 1:
        raise RuntimeError(f"a thread started while loading: {threading.enumerate()}")


def _boot(log: str, argv: list[str]) -> NoReturn:
    """In the child: the test's log as standard output and error, then the worker."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setpgid(0, 0)  # its own group, as a process started on its own would be
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.close(nothing)
    status = 1
    try:
        from config.celery import app

        app.worker_main(argv)
        status = 0
    except SystemExit as exit:
        status = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


class Launcher:
    """The test side: starts the warm process with the workers' environment and asks it for
    workers. ``env`` is what each of them runs with; a test wanting another starts its own."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path, timeout: float = 60) -> None:
        self.env = env
        self.log = log
        self.timeout = timeout
        with log.open("ab") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.warm"],
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        if self._answer() != "warm":
            raise RuntimeError("the warm worker process did not load:\n" + self._said())

    def fork(self, log: Path, argv: list[str]) -> int:
        """A new worker process, its output appended to ``log``; returns its process id."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"log": str(log), "argv": argv}) + "\n")
        self.process.stdin.flush()
        return int(self._answer())

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def _answer(self) -> str:
        """Its next line, waiting at most ``timeout`` (a hung process fails the test, never
        the whole run)."""
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stdout], [], [], 0.1)
            if ready:
                return stdout.readline().strip()
            if self.process.poll() is not None:
                break
        raise RuntimeError("the warm worker process does not answer:\n" + self._said())

    def _said(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def main() -> None:
    _load()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("warm", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _boot(request["log"], request["argv"])
        print(pid, flush=True)


if __name__ == "__main__":
    main()
