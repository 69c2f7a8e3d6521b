"""Steps the browser tests share: the devices they run on, photos made with Pillow, signing in,
adding a vault key, filling an operation form, running it, watching the job page's status
fragment, dragging with a mouse or a finger, and screenshots kept for people to look at.

A real Celery worker (tests.integration.conftest) runs the jobs against the vendor sandbox over
HTTP; the live server and the worker share the test database and ``MEDIA_ROOT``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image, ImageDraw
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import User
from editor.models import Job, JobStatus, Vendor, VendorKey
from tests.factories import PASSWORD, make_user

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

JOB_TIMEOUT = 45_000  # ms: a job's whole run, worker and sandbox included
JOB_URL = re.compile(r"/jobs/[0-9a-f-]{36}/$")

# The two viewports every Step 4 page is checked at.
DEVICES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "has_touch": True,
        "is_mobile": True,
    },
}
# conftest's ``page`` is a desktop one; a module marked with this runs each test on every device.
EVERY_DEVICE = pytest.mark.parametrize("device", list(DEVICES), indirect=True)


# --- Photos ------------------------------------------------------------------------------


def picture(size: tuple[int, int] = (320, 240), *, gray: bool = False, fmt: str = "JPEG") -> bytes:
    """A small picture that looks a little like a photo: a sky-to-ground gradient, a sun and a
    hill, so the before and after images differ visibly."""
    width, height = size
    sky = Image.linear_gradient("L").resize(size)
    across = Image.linear_gradient("L").rotate(90).resize(size)
    image = Image.merge(
        "RGB", (across, sky.point(lambda v: 80 + v // 3), sky.point(lambda v: 255 - v // 2))
    )
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.65, height * 0.1, width * 0.85, height * 0.37), fill=(250, 210, 90))
    draw.polygon(
        [(0, height), (width * 0.35, height * 0.55), (width * 0.7, height * 0.8), (width, height)],
        fill=(60, 120, 50),
    )
    if gray:
        image = image.convert("L")
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=90)
    return buffer.getvalue()


def photo(
    path: Path, size: tuple[int, int] = (320, 240), *, gray: bool = False, fmt: str = "JPEG"
) -> Path:
    """``picture()`` saved at ``path``, for a file input."""
    path.write_bytes(picture(size, gray=gray, fmt=fmt))
    return path


def portrait(path: Path, size: tuple[int, int] = (256, 256)) -> Path:
    """A cartoon face on a warm gradient: skin, eyes and a mouth."""
    width, height = size
    background = Image.linear_gradient("L").resize(size)
    image = Image.merge(
        "RGB",
        (
            background.point(lambda v: 150 + v // 3),
            background.point(lambda v: 110 + v // 4),
            background.point(lambda v: 90),
        ),
    )
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.22, height * 0.12, width * 0.78, height * 0.9), fill=(225, 180, 150))
    for left in (0.36, 0.56):
        draw.ellipse(
            (width * left, height * 0.38, width * (left + 0.08), height * 0.46), fill=(40, 30, 30)
        )
    draw.arc(
        (width * 0.38, height * 0.55, width * 0.62, height * 0.75),
        10,
        170,
        fill=(150, 40, 50),
        width=4,
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    return path


# --- Steps -------------------------------------------------------------------------------


# Every job page records the statuses its fragment showed: the first render, then each swap
# the HTMX poll made. Kept per document, so a reload starts a new list.
RECORD_STATUSES = """
window.__jobStatuses = [];
function recordJobStatus() {
  var section = document.getElementById("job-status");
  if (section) { window.__jobStatuses.push(section.dataset.status); }
}
document.addEventListener("DOMContentLoaded", recordJobStatus);
document.addEventListener("htmx:afterSettle", recordJobStatus);
"""


def log_in(page: Page, live_server: LiveServer, username: str) -> None:
    """Through the login form, as a person does."""
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Login:").fill(username)
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Your studio")).to_be_visible()


def sign_in(page: Page, live_server: LiveServer, username: str) -> User:
    user = make_user(username)
    page.add_init_script(RECORD_STATUSES)
    log_in(page, live_server, username)
    return user


def signed_in_with_keys(page: Page, live_server: LiveServer, username: str) -> User:
    """A new person with a sandbox key for each vendor, signed in by session cookie: faster than
    the forms, for tests about what comes after them."""
    user = make_user(username)
    for vendor in (Vendor.AILABTOOLS, Vendor.PICWISH):
        key = VendorKey(owner=user, vendor=vendor, label=f"{vendor.label} sandbox")
        key.set_secret(f"sandbox-{username}-{vendor.value}")
        key.save()
    client = Client()
    client.force_login(user)
    page.add_init_script(RECORD_STATUSES)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return user


def add_key(page: Page, live_server: LiveServer, vendor: str, secret: str) -> Locator:
    """Add a key through the vault page; returns its row."""
    page.goto(live_server.url + "/vault/")
    add = page.locator("#vault-add")
    add.get_by_label("Vendor").select_option(vendor)
    add.get_by_label("Label").fill(secret)
    add.get_by_label("API key").fill(secret)
    add.get_by_role("button", name="Add key").click()
    row = page.locator(".vault-key").filter(has_text=secret)
    expect(row).to_contain_text("••••" + secret[-4:])
    return row


def open_operation(page: Page, live_server: LiveServer, slug: str) -> Locator:
    page.goto(f"{live_server.url}/studio/{slug}/")
    form = page.locator("#operation-form")
    expect(form).to_be_visible()
    return form


def field(form: Locator, name: str) -> Locator:
    return form.locator(f"[name={name}]")


def run(form: Locator) -> Job:
    """Submit the operation form and land on the new job's page."""
    form.locator("button[type=submit]").click()
    expect(form.page).to_have_url(JOB_URL, timeout=15_000)
    return job_of(form.page)


def job_of(page: Page) -> Job:
    match = re.search(r"/jobs/([0-9a-f-]{36})/", page.url)
    assert match, page.url
    return Job.objects.get(pk=match.group(1))


def status(page: Page) -> Locator:
    return page.locator("#job-status")


def wait_for(page: Page, state: str) -> Locator:
    """Let the status fragment poll until the job reaches ``state``."""
    section = status(page)
    expect(section).to_have_attribute("data-status", state, timeout=JOB_TIMEOUT)
    return section


def assert_loaded(image: Locator) -> tuple[int, int]:
    """The <img> decoded: the browser fetched a real picture, not an error page."""
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    image.evaluate(
        "img => img.complete ? null : new Promise((ok, fail) => {"
        " img.addEventListener('load', ok); img.addEventListener('error', fail); })"
    )
    size = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    width, height = int(size[0]), int(size[1])
    assert width > 0, f"{image} did not load"
    assert height > 0, f"{image} did not load"
    return width, height


def results(page: Page) -> Locator:
    return status(page).get_by_role("img", name=re.compile(r"^Result \d+$"))


def statuses_seen(page: Page) -> list[str]:
    return [str(value) for value in page.evaluate("window.__jobStatuses")]


def see_success(page: Page, count: int = 1) -> list[tuple[int, int]]:
    """The poll brings the job to its end on this same page, and the images load."""
    section = wait_for(page, JobStatus.SUCCEEDED)
    expect(section.locator(".badge")).to_have_text("Succeeded")
    # The fragment stops polling once the job has ended.
    expect(section).not_to_have_attribute("hx-get", re.compile(".*"))
    expect(section.locator("progress")).to_have_count(0)
    expect(results(page)).to_have_count(count)
    seen = statuses_seen(page)
    assert seen[-1] == JobStatus.SUCCEEDED, seen
    assert_loaded(section.get_by_role("img", name="Your photo"))
    return [assert_loaded(image) for image in results(page).all()]


# --- Pointer and screenshots -------------------------------------------------------------


def spot(target: Locator, x: float = 0.5, y: float = 0.5) -> tuple[float, float]:
    """A point on ``target`` in page coordinates, given as shares of its width and height."""
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    assert box is not None
    return box["x"] + box["width"] * x, box["y"] + box["height"] * y


def line(
    start: tuple[float, float], end: tuple[float, float], steps: int = 12
) -> list[tuple[float, float]]:
    """``steps + 1`` evenly spaced points from ``start`` to ``end``, both included."""
    return [
        (start[0] + (end[0] - start[0]) * i / steps, start[1] + (end[1] - start[1]) * i / steps)
        for i in range(steps + 1)
    ]


def drag(page: Page, device: str, points: list[tuple[float, float]]) -> None:
    """A drag along ``points``: the mouse on the desktop, a finger on the phone (real touch
    events through the DevTools protocol, which Chromium turns into pointer events; Playwright
    itself only taps)."""
    if device == "phone":
        session = page.context.new_cdp_session(page)
        for index, (x, y) in enumerate(points):
            kind = "touchStart" if index == 0 else "touchMove"
            session.send(
                "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]}
            )
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        session.detach()
        return
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=4)
    page.mouse.up()


# Quiet: the document loaded, no HTMX request, swap or settle under way, every eager image in
# and the fonts ready -- twice, 50 ms apart, so a fragment that asks for another on its swap
# (hx-trigger="load") is seen between the two.
_QUIET = """async () => {
    const quiet = () => document.readyState === "complete"
        && !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling")
        && Array.from(document.images).every((img) => img.complete || img.loading === "lazy")
        && document.fonts.status === "loaded";
    for (let calm = 0; calm < 2; ) {
        await new Promise((done) => setTimeout(done, 50));
        calm = quiet() ? calm + 1 : 0;
    }
}"""


def settle(page: Page) -> None:
    """Wait until the page is done with what it asked for on loading. Playwright's
    "networkidle" would do, but it waits a fixed half second after the last request, which on
    every page of the axe and screenshot audits added up to minutes of CI."""
    page.evaluate(_QUIET)


def screenshot(page: Page, name: str, device: str, *, full_page: bool = True) -> Path:
    """Kept in test-artifacts/screenshots/<name>-<device>.png for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{device}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
