"""The people of a load run (bench/load.py), for locust: gallery browsers, people watching a job
they just started, and people starting jobs one after another.

Each simulated person signs in once through the real login form as one of the accounts the
load run seeded, then works through the pages as the browser would, HTMX requests included.
Any answer other than the expected status, or a body that is not the expected page or
fragment, is a failure; so is a watched job that ends other than ``succeeded``.

locust monkey-patches the standard library with gevent, so this file is only ever loaded by a
``locust`` process of its own; it never imports Django. The run passes what it seeded through
the environment: ``LOAD_ACCOUNTS`` (how many accounts, named ``LOAD_PREFIX`` + number),
``LOAD_PASSWORD`` and ``LOAD_PHOTO`` (a small JPEG to upload).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import time
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from locust import HttpUser, between, task
from locust.clients import ResponseContextManager

ACCOUNTS = int(os.environ.get("LOAD_ACCOUNTS", "1"))
PREFIX = os.environ.get("LOAD_PREFIX", "load-")
PASSWORD = os.environ.get("LOAD_PASSWORD", "")
PHOTO_PATH = os.environ.get("LOAD_PHOTO", "")
SESSIONS_PATH = os.environ.get("LOAD_SESSIONS", "")
# One person in this many arrives signed out and signs in through the form; the others come
# back with the session a sign-in gave them earlier, as most people do (sessions last two
# weeks). Everyone signing in at once would mostly measure the password hasher: PBKDF2 at
# 1,000,000 iterations is half a second of CPU per sign-in.
SIGN_IN_EVERY = 5

# The job page polls its status fragment this often (hx-trigger="every 1s", templates/editor/
# job.html); a watched job that takes longer than this is given up on, as a failure.
POLL_SECONDS = 1.0
WATCH_LIMIT_SECONDS = 120.0
ENDED = frozenset({"succeeded", "failed", "canceled"})
OPERATIONS = ("colorize", "color_migration", "retouch", "extend", "expression")
HTMX = {"HX-Request": "true"}

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
JOB_LINK = re.compile(rf'href="(/jobs/{UUID}/)"')
THUMBNAIL = re.compile(rf'src="(/jobs/{UUID}/results/{UUID}/thumbnail/)"')
# The "Load more" link of the gallery's last card; HTML-escaped in the page.
NEXT_PAGE = re.compile(r'hx-get="(/gallery/\?[^"]*before=[^"]*)"')
JOB_URL = re.compile(rf"^/jobs/{UUID}/$")
STATUS = re.compile(r'id="job-status"[^>]*?data-status="(\w+)"')

# Each person takes the next account, across every class, so that a run of N people spreads
# over N accounts (each account has its own gallery and its own sandbox key).
_next_account = itertools.count()


def _photo() -> bytes:
    return Path(PHOTO_PATH).read_bytes() if PHOTO_PATH else b""


def _sessions() -> list[str]:
    """The session key of each account, by number (bench/load.py signed them in)."""
    return Path(SESSIONS_PATH).read_text().split() if SESSIONS_PATH else []


class StudioUser(HttpUser):
    """Someone signed in to the studio."""

    abstract = True
    photo: ClassVar[bytes] = _photo()
    sessions: ClassVar[list[str]] = _sessions()

    def on_start(self) -> None:
        person = next(_next_account)
        number = person % ACCOUNTS
        self.account = f"{PREFIX}{number}"
        self.client.headers["Referer"] = self.host or ""
        if person % SIGN_IN_EVERY == 0 or number >= len(self.sessions):
            self.log_in()
        else:
            host = urlsplit(self.host or "").hostname or ""
            self.client.cookies.set("sessionid", self.sessions[number], domain=host, path="/")

    def log_in(self) -> None:
        with self.client.get(
            "/accounts/login/", name="GET /accounts/login/", catch_response=True
        ) as response:
            self.expect(response, 200, 'name="password"')
        with self.client.post(
            "/accounts/login/",
            name="POST /accounts/login/",
            data={
                "login": self.account,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.csrf_token(),
            },
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if self.expect(response, 302) and "sessionid" not in self.client.cookies:
                response.failure("signed in without a session cookie")

    def csrf_token(self) -> str:
        return str(self.client.cookies.get("csrftoken", ""))

    def expect(self, response: ResponseContextManager, status: int, marker: str = "") -> bool:
        """Mark the response a failure unless it has ``status`` and, if given, ``marker`` in
        its body; True when it passed."""
        why = ""
        if response.status_code != status:
            why = f"HTTP {response.status_code}, expected {status}"
        elif marker and marker not in response.text:
            why = f"the body lacks {marker!r}"
        # locust leaves failure() and success() unannotated.
        if why:
            response.failure(why)  # type: ignore[no-untyped-call]
        else:
            response.success()  # type: ignore[no-untyped-call]
        return not why

    def pause(self) -> None:
        """Look at the page a moment, for the class's wait_time."""
        self.wait()  # type: ignore[no-untyped-call]  # locust leaves it unannotated

    def start_job(self) -> str:
        """Open the colorize form and send it with a photo, as the page does without
        JavaScript; the job page's URL, or "" when that failed."""
        with self.client.get(
            "/studio/colorize/", name="GET /studio/colorize/", catch_response=True
        ) as response:
            self.expect(response, 200, 'name="file_image"')
        with self.client.post(
            "/studio/colorize/",
            name="POST /studio/colorize/ (start a job)",
            data={
                "provider": "picwish",
                "format": "jpg",
                "csrfmiddlewaretoken": self.csrf_token(),
            },
            files={"file_image": ("photo.jpg", self.photo, "image/jpeg")},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            location = str(response.headers.get("Location", ""))
            if not self.expect(response, 302):
                return ""
            if not JOB_URL.match(location):
                response.failure(f"redirected to {location!r}, not a job page")
                return ""
        return location


class GalleryBrowser(StudioUser):
    """Looks through the gallery: the first page (and a thumbnail), a filtered page, the next
    page as HTMX appends it, then one job's page."""

    weight = 6
    wait_time = between(0.5, 2.0)

    @task
    def browse(self) -> None:
        with self.client.get("/gallery/", name="GET /gallery/", catch_response=True) as first:
            self.expect(first, 200, 'class="card gallery-card"')
            page = first.text or ""
        # The browser fetches the cards' thumbnails with the page; one stands for them.
        thumbnails = THUMBNAIL.findall(page)
        if thumbnails:
            with self.client.get(
                random.choice(thumbnails),
                name="GET /jobs/<id>/results/<id>/thumbnail/",
                catch_response=True,
            ) as thumbnail:
                if self.expect(thumbnail, 200) and not thumbnail.content.startswith(b"\xff\xd8"):
                    thumbnail.failure("the thumbnail is not a JPEG")
        self.pause()
        operation = random.choice(OPERATIONS)
        with self.client.get(
            f"/gallery/?operation={operation}&status=succeeded",
            name="GET /gallery/?operation&status",
            catch_response=True,
        ) as filtered:
            self.expect(filtered, 200, f'data-operation="{operation}"')
        next_page = NEXT_PAGE.search(page)
        if next_page is not None:
            self.pause()
            with self.client.get(
                next_page.group(1).replace("&amp;", "&"),
                name="GET /gallery/?before (HTMX next page)",
                headers=HTMX,
                catch_response=True,
            ) as more:
                # A fragment: the cards only, never the whole page again.
                if self.expect(more, 200, 'class="card gallery-card"') and "<html" in more.text:
                    more.failure("a whole page where a fragment was expected")
        jobs = JOB_LINK.findall(page)
        if jobs:
            self.pause()
            with self.client.get(
                random.choice(jobs), name="GET /jobs/<id>/", catch_response=True
            ) as job:
                self.expect(job, 200, 'id="job-status"')


class JobWatcher(StudioUser):
    """Starts a job and keeps its page open: the page polls the status fragment every second
    until the job ends, then shows the result."""

    weight = 3
    wait_time = between(1.0, 3.0)

    @task
    def watch(self) -> None:
        url = self.start_job()
        if not url:
            return
        with self.client.get(url, name="GET /jobs/<id>/", catch_response=True) as page:
            self.expect(page, 200, 'id="job-status"')
        started = time.monotonic()
        while True:
            time.sleep(POLL_SECONDS)  # gevent's sleep: locust patched the module
            with self.client.get(
                url, name="GET /jobs/<id>/ (HTMX status)", headers=HTMX, catch_response=True
            ) as poll:
                if not self.expect(poll, 200, 'id="job-status"'):
                    continue
                found = STATUS.search(poll.text or "")
                if found is None or "<html" in poll.text:
                    poll.failure("not the status fragment")
                    continue
                status = found.group(1)
                if status in ENDED:
                    if status != "succeeded":
                        poll.failure(f"the job ended {status}")
                    break
                if time.monotonic() - started > WATCH_LIMIT_SECONDS:
                    poll.failure(f"the job is still {status} after {WATCH_LIMIT_SECONDS:.0f} s")
                    return
        with self.client.get(url, name="GET /jobs/<id>/", catch_response=True) as done:
            self.expect(done, 200, "/results/")  # the result, shown beside the photo


class Submitter(StudioUser):
    """Starts a job every few seconds and does not wait for it."""

    weight = 1
    wait_time = between(2.0, 5.0)

    @task
    def submit(self) -> None:
        self.start_job()
