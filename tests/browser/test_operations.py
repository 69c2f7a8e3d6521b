"""Step 3 from a person's seat: sign in, add a sandbox key in the vault, run each operation from
its page, watch the job page's status fragment poll, and see the result image load.

A real Celery worker (tests.integration.conftest) runs the jobs against the vendor sandbox over
HTTP; the live server and the worker share the test database and ``MEDIA_ROOT``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Locator, Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from editor.models import ACTIVE_STATUSES, Job, JobStatus
from tests.factories import PASSWORD, make_user

# The real worker and the sandbox it calls; every test here needs them, so they are used by
# mark rather than by argument.
from tests.integration.conftest import sandbox, shared_media, worker  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
]

JOB_TIMEOUT = 45_000  # ms: a job's whole run, worker and sandbox included
JOB_URL = re.compile(r"/jobs/[0-9a-f-]{36}/$")


# --- Photos ------------------------------------------------------------------------------


def photo(
    path: Path, size: tuple[int, int] = (320, 240), *, gray: bool = False, fmt: str = "JPEG"
) -> Path:
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
    path.write_bytes(buffer.getvalue())
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


def sign_in(page: Page, live_server: LiveServer, username: str) -> None:
    make_user(username)
    page.add_init_script(RECORD_STATUSES)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Login:").fill(username)
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Your studio")).to_be_visible()


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


def run(form: Locator) -> None:
    """Submit the operation form and land on the new job's page."""
    form.locator("button[type=submit]").click()
    expect(form.page).to_have_url(JOB_URL, timeout=15_000)


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


# --- One test per operation and provider ---------------------------------------------------


def test_colorize_with_picwish(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    sign_in(page, live_server, "colorist")
    add_key(page, live_server, "picwish", "sandbox-browser-colorize")
    form = open_operation(page, live_server, "colorize")
    field(form, "format").select_option("png")
    field(form, "file_image").set_input_files(photo(tmp_path / "old.jpg", gray=True))
    run(form)

    (size,) = see_success(page)
    # The page opened on a job still under way and the poll carried it through to the end.
    seen = statuses_seen(page)
    assert seen[0] in ACTIVE_STATUSES, seen
    assert len(seen) >= 2, seen
    assert size == (320, 240)
    result = Job.objects.get().results.get()
    assert result.media_type == "image/png"


def test_color_migration_on_the_built_in_engine_needs_no_key(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "painter")
    form = open_operation(page, live_server, "color_migration")
    expect(field(form, "provider")).to_have_value("local")
    field(form, "mode").select_option("AUTO")
    field(form, "color_count").fill("2")
    field(form, "file_image").set_input_files(photo(tmp_path / "street.jpg"))
    run(form)

    see_success(page, count=2)
    expect(status(page)).to_contain_text("After 2")
    job = job_of(page)
    assert job.credits == 0
    assert job.key is None


def test_color_migration_on_retired_ailabtools_points_to_the_built_in_engine(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "legacy")
    add_key(page, live_server, "ailabtools", "sandbox-browser-migration")
    form = open_operation(page, live_server, "color_migration")
    field(form, "provider").select_option("ailabtools")
    field(form, "mode").select_option("AUTO")
    field(form, "file_image").set_input_files(photo(tmp_path / "street.jpg"))
    run(form)

    section = wait_for(page, JobStatus.FAILED)
    expect(section.get_by_role("alert")).to_contain_text("built-in engine")
    # Retrying cannot help a retired endpoint: the page offers the built-in engine instead.
    expect(section.get_by_role("button", name="Retry")).to_have_count(0)
    expect(results(page)).to_have_count(0)
    section.get_by_role("link", name="Use the built-in engine").click()
    expect(page.locator("select[name=provider]")).to_have_value("local")


def test_retouch_from_a_style_photo(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    sign_in(page, live_server, "retoucher")
    add_key(page, live_server, "ailabtools", "sandbox-browser-retouch")
    form = open_operation(page, live_server, "retouch")
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg"))
    field(form, "file_style").set_input_files(portrait(tmp_path / "style.jpg"))
    run(form)

    see_success(page)


def test_image_extender_widens_the_frame(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "extender")
    add_key(page, live_server, "ailabtools", "sandbox-browser-extend")
    form = open_operation(page, live_server, "extend")
    for side, ratio in {"top": "0.2", "bottom": "0.1", "left": "0", "right": "0.5"}.items():
        field(form, side).fill(ratio)
    field(form, "file_image").set_input_files(photo(tmp_path / "narrow.jpg"))
    run(form)

    (size,) = see_success(page)
    assert size[0] > 320, size
    assert size[1] > 240, size


def test_classic_expression_big_grin(page: Page, live_server: LiveServer, tmp_path: Path) -> None:
    sign_in(page, live_server, "grinner")
    add_key(page, live_server, "ailabtools", "sandbox-browser-expression")
    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools")
    field(form, "service_choice").select_option(label="Big grin")
    field(form, "file_image").set_input_files(portrait(tmp_path / "face.jpg"))
    run(form)

    see_success(page)
    assert job_of(page).params["service_choice"] in ("12", 12)


def test_advanced_expression_natural_smile(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "smiler")
    add_key(page, live_server, "ailabtools", "sandbox-browser-advanced")
    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools_advanced")
    field(form, "expression").select_option("natural_smile")
    field(form, "file_image").set_input_files(portrait(tmp_path / "face.jpg"))
    run(form)

    # An asynchronous AILabTools task: the worker polls it every 5 s (vendor's advice), and
    # the page shows it waiting on the vendor meanwhile.
    see_success(page)
    assert JobStatus.WAITING in statuses_seen(page)
    job = job_of(page)
    assert job.provider == "ailabtools_advanced"
    assert job.params["expression"] == "natural_smile"


# --- Failure, retry and cancel --------------------------------------------------------------


def test_a_failed_job_shows_why_and_retry_runs_it_again(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server, "unlucky")
    row = add_key(
        page, live_server, "ailabtools", "sandbox-fault-error-ERROR_APPLICATIONS_NOT_EXISTS-x"
    )
    form = open_operation(page, live_server, "retouch")
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg"))
    field(form, "file_style").set_input_files(portrait(tmp_path / "style.jpg"))
    run(form)
    job_url = page.url

    section = wait_for(page, JobStatus.FAILED)
    expect(section.get_by_role("alert")).to_contain_text("did not accept your API key")
    expect(section.locator(".badge")).to_have_text("Failed")
    retry = section.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    expect(section.get_by_role("button", name="Cancel")).to_have_count(0)

    # The vault shows the key's error; replacing the key and retrying the same job succeeds.
    page.goto(live_server.url + "/vault/")
    expect(row).to_contain_text("did not accept your API key")
    row.get_by_role("link", name=re.compile("^Edit ")).click()
    editing = page.locator(".vault-key--editing")
    editing.get_by_label("New API key").fill("sandbox-browser-fixed")
    editing.get_by_role("button", name="Save").click()
    expect(page.locator(".vault-key")).to_contain_text("••••ixed")

    page.goto(job_url)
    status(page).get_by_role("button", name="Retry").click()
    expect(page).to_have_url(job_url)
    see_success(page)
    expect(status(page).get_by_role("alert")).to_have_count(0)


def test_cancel_a_running_job(
    page: Page,
    live_server: LiveServer,
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    settings.SANDBOX_TASK_MS = 120_000  # the vendor's task will not finish during this test
    sign_in(page, live_server, "impatient")
    add_key(page, live_server, "ailabtools", "sandbox-browser-cancel")
    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools_advanced")
    field(form, "file_image").set_input_files(portrait(tmp_path / "face.jpg"))
    run(form)

    section = wait_for(page, JobStatus.WAITING)
    expect(section.locator(".badge")).to_have_text("Waiting on vendor")
    expect(section.locator("progress")).to_be_visible()
    section.get_by_role("button", name="Cancel").click()

    section = wait_for(page, JobStatus.CANCELED)
    expect(page.get_by_text("Job canceled. Its credits were refunded.")).to_be_visible()
    expect(section.locator(".badge")).to_have_text("Canceled")
    expect(section).not_to_have_attribute("hx-get", re.compile(".*"))
    expect(section.get_by_role("button", name="Retry")).to_be_visible()
    expect(section.get_by_role("button", name="Cancel")).to_have_count(0)
    assert job_of(page).status == JobStatus.CANCELED
