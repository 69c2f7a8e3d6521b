"""The faults of the chaos run (bench/crash.py) beside its worker kills, one after another, each
for a few seconds, while jobs keep coming:

- the broker: the run's own redis-server is killed (every message in it lost) and started
  again empty a few seconds later; a wave of jobs is submitted while it is down, so their
  messages never leave (the sweeper must send them);
- the database: every connection to the run's PostgreSQL database is cut and new ones are
  refused for a few seconds (``ALLOW_CONNECTIONS false``: what the studio sees of a restart,
  without restarting a server other databases live on);
- the media volume: the media folder is a tmpfs of the run's own, filled up (ENOSPC) for a few
  seconds.

A fault that this machine cannot stage (no redis-server, SQLite, no permission to mount) is
skipped, and the report says why. Prints nothing itself: ``Faults.log`` is the record.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.redis_server import PrivateRedis

BROKER_AT_S, BROKER_DOWN_S = 6.0, 3.0
DATABASE_AT_S, DATABASE_DOWN_S = 16.0, 3.0
MEDIA_AT_S, MEDIA_FULL_S = 26.0, 5.0
MEDIA_SIZE = "256m"
WAVE_WHILE_BROKER_DOWN = 6  # jobs submitted while the broker is down


def private_broker(folder: Path) -> PrivateRedis | None:
    """A redis-server of the run's own, started, or None where there is none to start."""
    from tests.redis_server import PrivateRedis  # the project's root is on the path by now

    binary = shutil.which("redis-server")
    if binary is None:
        return None
    server = PrivateRedis(binary, folder)
    server.start()
    return server


def mount_media(folder: Path) -> str:
    """Put ``folder`` on a tmpfs of its own, so that filling it fills nothing else. Returns ""
    or why it could not."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={MEDIA_SIZE}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if done.returncode == 0 else (done.stderr.strip() or f"mount: {done.returncode}")


def unmount_media(folder: Path) -> None:
    subprocess.run(["umount", "--lazy", str(folder)], capture_output=True, check=False)


@dataclass
class Faults:
    """The timeline, run in a thread from the moment the first jobs go in."""

    broker: PrivateRedis | None
    database_admin_url: str  # libpq URL of the server's maintenance database, "" on SQLite
    database: str
    media: Path | None  # the media tmpfs, None when it could not be mounted
    submit_wave: Callable[[int], int]  # submits n jobs, returns how many were accepted
    why_not: dict[str, str] = field(default_factory=dict)  # fault -> why it was skipped
    log: list[str] = field(default_factory=list)
    applied: int = 0

    def run(self, stop: threading.Event) -> None:
        started = time.monotonic()
        for at, fault in (
            (BROKER_AT_S, self._broker_down),
            (DATABASE_AT_S, self._database_down),
            (MEDIA_AT_S, self._media_full),
        ):
            if stop.wait(max(0.0, started + at - time.monotonic())):
                return
            try:
                fault()
            except Exception as error:  # a fault that could not be staged is reported, not raised
                self.log.append(f"{fault.__name__.strip('_')}: could not be staged ({error!r})")
        from django.db import connections

        connections.close_all()

    def _broker_down(self) -> None:
        if self.broker is None:
            self.log.append(f"broker restart: skipped ({self.why_not.get('broker', '?')})")
            return
        self.broker.kill()
        began = time.monotonic()
        accepted = self.submit_wave(WAVE_WHILE_BROKER_DOWN)
        time.sleep(max(0.0, BROKER_DOWN_S - (time.monotonic() - began)))
        self.broker.start()
        self.applied += 1
        self.log.append(
            f"broker killed for {time.monotonic() - began:.1f} s and started again empty; "
            f"{accepted} of {WAVE_WHILE_BROKER_DOWN} jobs submitted meanwhile were accepted"
        )

    def _database_down(self) -> None:
        if not self.database_admin_url:
            self.log.append("database outage: skipped (SQLite has no server to lose)")
            return
        import psycopg
        from psycopg import sql

        name = sql.Identifier(self.database)
        with psycopg.connect(self.database_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
            try:
                cut = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.database,),
                ).fetchone()
                time.sleep(DATABASE_DOWN_S)
            finally:
                admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(name))
        self.applied += 1
        self.log.append(
            f"database: {cut[0] if cut else 0} connections cut, new ones refused for "
            f"{DATABASE_DOWN_S:.0f} s"
        )

    def _media_full(self) -> None:
        if self.media is None:
            self.log.append(f"media full: skipped ({self.why_not.get('media', 'no tmpfs')})")
            return
        filler = self.media / ".filler"
        descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 4096):  # a tmpfs hands out whole pages
                chunk = b"\0" * size
                with contextlib.suppress(OSError):
                    while True:
                        os.write(descriptor, chunk)
        finally:
            os.close(descriptor)
        probe = self.media / ".probe"
        try:
            probe.write_bytes(b"x" * 4096)
            full = False
        except OSError as error:
            full = error.errno == errno.ENOSPC
        with contextlib.suppress(OSError):
            probe.unlink()
        time.sleep(MEDIA_FULL_S)
        filler.unlink()
        os.sync()
        self.applied += 1
        self.log.append(
            f"media volume full (ENOSPC {'confirmed' if full else 'NOT confirmed'}) for "
            f"{MEDIA_FULL_S:.0f} s"
        )
