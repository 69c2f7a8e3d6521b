"""No plaintext vendor key anywhere after a full run.

A person adds keys in the vault and through the API, changes one, runs jobs of both vendors
through the web form and the API (one that fails on the vendor's side, one that asks for the
key's credits), shares a result, and an admin opens every admin page. Then everything the studio
wrote is searched for any piece of the keys' secret parts: every row of every table, the logs
of the web side (SQL with its parameters included) and of the worker, every broker message,
every file under the studio's var/ folder and media, and every page and API answer rendered on
the way. The secrets are long random strings, so any 8 characters of one found anywhere is a
leak (a key's last four characters are the only part the studio keeps to show).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import User
from editor.models import ENDED_STATUSES, Job, JobStatus, VendorKey
from tests.api.conftest import ApiClient, token_for
from tests.factories import PASSWORD, make_user
from tests.images import photo
from tests.integration.conftest import Worker

pytestmark = [pytest.mark.integration]

PIECE = 8  # characters of a secret that count as a leak


def new_secret(marker: str = "") -> str:
    """A sandbox key (the prefix sends it to the sandbox) with a long random part."""
    return f"sandbox-{marker}{secrets.token_hex(16)}"


class Recorder:
    """Every page and API answer of the run, kept to be searched."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []

    def keep(self, what: str, response: Any) -> Any:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        self.bodies.append((what, content + str(response.headers).encode()))
        return response


class BrokerTap:
    """Every message that goes through the broker while the run lasts. On Redis: its MONITOR
    stream (each command with its arguments, message bodies included). On the filesystem
    broker: each message file copied as it appears (the worker deletes them once read)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: dict[str, bytes] = {}
        self.stopped = threading.Event()
        url = str(django_settings.CELERY_BROKER_URL)
        self.redis = redis.Redis.from_url(url) if url.startswith("redis") else None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()

    def __enter__(self) -> BrokerTap:
        self.thread.start()
        assert self.ready.wait(10), "the broker tap did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        if self.redis is not None:
            self.redis.ping()  # a command for the MONITOR loop to wake up on
        self.thread.join(10)

    def _run(self) -> None:
        if self.redis is not None:
            with self.redis.monitor() as monitor:  # type: ignore[no-untyped-call]
                self.ready.set()
                # MONITOR shows every database on the server: only this test's broker counts
                # (other xdist workers have theirs, tests/xdist_stores.py).
                database = self.redis.connection_pool.connection_kwargs.get("db", 0)
                for number, command in enumerate(monitor.listen()):
                    if command["db"] == database:
                        self.seen[f"redis #{number}"] = str(command["command"]).encode()
                    if self.stopped.is_set():
                        return
            return
        self.ready.set()
        while not self.stopped.is_set():
            for path in self.folder.glob("**/*.msg"):
                if path.name not in self.seen:
                    with contextlib.suppress(FileNotFoundError):  # the worker took it
                        self.seen[path.name] = path.read_bytes()
            time.sleep(0.002)

    @property
    def messages(self) -> int:
        return sum(b"editor.tasks." in body for body in self.seen.values())


@pytest.fixture
def sql_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The web side's logs at DEBUG, with every SQL statement and its parameters."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")  # Django's own loggers stop at INFO
    connection.force_debug_cursor = True
    yield caplog
    connection.force_debug_cursor = False


def wait_until_all_ended(owner: User, timeout: float = 90) -> list[Job]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = list(Job.objects.filter(owner=owner))
        if jobs and all(job.status in ENDED_STATUSES for job in jobs):
            return jobs
        time.sleep(0.3)
    raise AssertionError(f"still running: {[(j.operation, j.status) for j in jobs]}")


def database_text() -> Iterator[tuple[str, str]]:
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                yield (
                    table,
                    " ".join(
                        value.hex() if isinstance(value, bytes | memoryview) else str(value)
                        for value in row
                    ),
                )


def files_under(*folders: Path) -> Iterator[tuple[str, bytes]]:
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                try:
                    yield str(path), path.read_bytes()
                except FileNotFoundError:
                    continue


BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def with_base64_decoded(text: str) -> str:
    """The text and what every base64-looking run in it decodes to: broker messages carry
    their bodies base64-encoded, and a key inside one would not show as itself."""
    decoded = []
    for run in BASE64_RUN.findall(text):
        padded = run + "=" * (-len(run) % 4)
        for alphabet in (b"+/", b"-_"):
            try:
                decoded.append(base64.b64decode(padded, altchars=alphabet).decode("latin-1"))
            except ValueError:
                continue
    return "\n".join([text, *decoded])


def leaks(secret_parts: list[str], places: Iterable[tuple[str, bytes | str]]) -> list[str]:
    """Where any ``PIECE`` characters in a row of a secret part appear."""
    pieces = {
        part[start : start + PIECE]
        for part in secret_parts
        for start in range(len(part) - PIECE + 1)
    }
    found = []
    for where, content in places:
        text = content if isinstance(content, str) else content.decode("latin-1")
        if any(piece in with_base64_decoded(text) for piece in pieces):
            found.append(where)
    return found


def test_no_plaintext_key_anywhere_after_a_full_run(
    worker: Worker, sql_log: pytest.LogCaptureFixture, shared_media: Path
) -> None:
    picwish, ailab, replaced = new_secret(), new_secret(), new_secret()
    failing = new_secret("fault-error-ERROR_NO_FACE_IN_FILE-")
    api_key = new_secret()
    alice = make_user("scanned")
    web, pages = Client(), Recorder()
    web.force_login(alice)
    var = Path(django_settings.VAR_DIR)

    with BrokerTap(var / "broker") as tap:
        # Keys through the vault's forms, one changed to a new secret, one through the API.
        for vendor, secret, label in [
            ("picwish", picwish, "Colors"),
            ("ailabtools", replaced, "Retouch"),
            ("ailabtools", failing, "Faulty"),
        ]:
            response = web.post(
                reverse("editor:vault_add"), {"vendor": vendor, "label": label, "secret": secret}
            )
            assert pages.keep(f"vault add {label}", response).status_code == 302
        retouch_key = VendorKey.objects.get(owner=alice, label="Retouch")
        response = web.post(
            reverse("editor:vault_edit", args=[retouch_key.pk]),
            {"label": "Retouch", "secret": ailab},
        )
        assert pages.keep("vault edit", response).status_code in (200, 302)
        api = ApiClient(token_for(alice))
        response = api.post(
            "/api/v1/keys",
            json.dumps({"vendor": "picwish", "secret": api_key, "label": "Scripts"}),
            content_type="application/json",
        )
        assert pages.keep("api key", response).status_code == 201

        # Jobs through the form: a colorization (async), a retouch (sync) and one whose key
        # the vendor answers with an error; and one through the API on the API's key.
        for slug, data in [
            ("colorize", {"provider": "picwish", "format": "png", "key": "Colors"}),
            ("retouch", {"provider": "ailabtools", "key": "Retouch"}),
            ("retouch", {"provider": "ailabtools", "key": "Faulty"}),
        ]:
            key = VendorKey.objects.get(owner=alice, label=data.pop("key"))
            files = {"file_image": photo(), "file_style": photo(name="style.jpg")}
            response = web.post(
                reverse("editor:operation", args=[slug]),
                {**data, "key": str(key.pk), **files},
            )
            assert pages.keep(f"submit {slug}", response).status_code == 302, response.content
        response = api.post(
            "/api/v1/jobs",
            {
                "operation": "colorize",
                "format": "png",
                "image": photo(),
                "key": str(VendorKey.objects.get(owner=alice, label="Scripts").pk),
            },
        )
        assert pages.keep("api job", response).status_code == 202, response.content
        # The worker asks the vendor for a key's credits (it decrypts the key to do so).
        credits = reverse("editor:vault_credits", args=[retouch_key.pk])
        pages.keep("credits", web.post(credits, HTTP_HX_REQUEST="true"))

        jobs = wait_until_all_ended(alice)
        statuses = sorted(str(job.status) for job in jobs)
        assert statuses == [JobStatus.FAILED, *[JobStatus.SUCCEEDED] * 3], [
            (job.operation, job.status, job.error_message) for job in jobs
        ]
        for _ in range(50):  # the credit check's answer, cached by the worker
            if (
                b"credits"
                in pages.keep("credits", web.get(credits, HTTP_HX_REQUEST="true")).content
            ):
                break
            time.sleep(0.2)

        # A share link, and every page a person sees on the way.
        succeeded = next(job for job in jobs if job.status == JobStatus.SUCCEEDED)
        result = succeeded.results.get()
        pages.keep(
            "share",
            web.post(
                reverse("editor:share_new", args=[succeeded.pk, result.pk]), {"lifetime": "1d"}
            ),
        )
        for name in (
            "editor:studio",
            "editor:gallery",
            "editor:vault",
            "editor:usage",
            "editor:shares",
        ):
            pages.keep(name, web.get(reverse(name)))
        pages.keep("tokens", web.get(reverse("api_tokens")))
        for job in jobs:
            pages.keep(f"job {job.pk}", web.get(reverse("editor:job", args=[job.pk])))
            pages.keep(f"api job {job.pk}", api.get(f"/api/v1/jobs/{job.pk}"))
        for path in ("/api/v1/keys", "/api/v1/jobs", "/api/v1/usage", "/api/v1/shares"):
            pages.keep(path, api.get(path))
        pages.keep("operation page", web.get(reverse("editor:operation", args=["retouch"])))

        # The admin: every list, and every object's change page.
        staff = User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
        boss = Client()
        boss.force_login(staff)
        pages.keep("admin dashboard", boss.get(reverse("admin_dashboard")))
        for model in admin.site._registry:
            meta = model._meta
            changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
            pages.keep(changelist, boss.get(changelist))
            if meta.app_label not in ("accounts", "editor", "api"):
                continue
            for pk in model._default_manager.values_list("pk", flat=True)[:20]:
                change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk])
                response = pages.keep(change, boss.get(change))
                assert response.status_code == 200, change

    worker.stop()
    # At least every job's first step and the credit check went through the tap (a light job
    # runs its later steps in the same task, so there may be no more).
    assert tap.messages >= len(jobs) + 1, "the broker tap missed task messages"
    parts = [secret.removeprefix("sandbox-") for secret in (picwish, ailab, replaced, api_key)]
    parts.append(failing.rsplit("-", 1)[1])

    assert VendorKey.objects.filter(owner=alice).count() == 4
    assert len(pages.bodies) > 40
    assert not leaks(parts, pages.bodies), "a page or API answer shows a key"
    assert not leaks(parts, database_text()), "a table holds a key in plain text"
    logs = [("web log", "\n".join(r.getMessage() for r in sql_log.records))]
    assert "INSERT INTO" in logs[0][1], "the SQL log is empty: the scan would prove nothing"
    assert not leaks(parts, logs), "the web side logged a key"
    assert not leaks(parts, [("worker log", worker.log.read_text(errors="replace"))])
    assert not leaks(parts, tap.seen.items()), "a broker message holds a key"
    assert not leaks(parts, files_under(var, shared_media)), "a file holds a key"
