"""A redis-server of a test's (or a bench's) own on a free loopback port, keeping nothing on
disk: killed, it loses every message, as a crashed broker does."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import redis


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own, keeping nothing on disk: killed, it loses every
    message."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.folder / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    *("--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                time.sleep(0.05)
        finally:
            client.close()

    def bound(self, *queues: str) -> bool:
        """Whether a consumer has declared these queues: kombu keeps a queue's binding in Redis
        itself, so a fresh Redis drops every message sent before a worker is back (the sweeper
        sends them again on its next round; the test runs one round by hand)."""
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            return all(client.exists(f"_kombu.binding.{queue}") for queue in queues)
        finally:
            client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def restart(self) -> None:
        """Killed, then started again on the same port, empty."""
        self.kill()
        self.start()
