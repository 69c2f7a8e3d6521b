"""Downloading a result from the job page, as a person does: pick a format (and a quality for
JPEG and WebP), press Download, get a file with a sensible name that opens in that format and
says nothing about where the photo was taken.

No job needs to run: the job and its result are stored directly, as the worker would.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import User
from editor.models import Job, Result
from tests.browser.steps import screenshot
from tests.factories import make_job, make_user
from tests.images import GPS_IFD, SRGB, camera_jpeg, has_gps

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def person(page: Page, live_server: LiveServer) -> User:
    """Signed in through a session cookie (signing in itself is tested elsewhere)."""
    user = make_user("downloads")
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return user


@pytest.fixture
def result(person: User) -> Result:
    """A finished job whose result is a phone-style JPEG: GPS position, ICC profile, and an
    orientation tag that turns its stored 96×64 pixels upright to 64×96."""
    job = make_job(person)
    stored = job.results.get()
    data = camera_jpeg(orientation=6)
    stored.file = default_storage.save(f"jobs/{person.pk}/{job.pk}/result-0.jpg", ContentFile(data))
    stored.media_type = "image/jpeg"
    stored.bytes = len(data)
    stored.save()
    return stored


def download_form(page: Page, live_server: LiveServer, job: Job) -> Locator:
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    form = page.locator("form.download")
    expect(form).to_have_count(1)
    return form


def download(page: Page, form: Locator, tmp_path: Path) -> tuple[str, bytes]:
    with page.expect_download() as info:
        form.get_by_role("button", name="Download").click()
    file = info.value
    target = tmp_path / file.suggested_filename
    file.save_as(target)
    return file.suggested_filename, target.read_bytes()


@pytest.mark.parametrize(
    ("label", "fmt", "extension", "quality"),
    [
        ("Original", "JPEG", "jpg", None),
        ("PNG", "PNG", "png", None),
        ("JPEG", "JPEG", "jpg", "70"),
        ("WebP", "WEBP", "webp", "60"),
    ],
)
def test_download_each_format_from_the_job_page(
    page: Page,
    live_server: LiveServer,
    result: Result,
    tmp_path: Path,
    label: str,
    fmt: str,
    extension: str,
    quality: str | None,
) -> None:
    form = download_form(page, live_server, result.job)
    form.get_by_label("Format").select_option(label=label)
    quality_field = form.get_by_label("Quality")
    if quality is None:
        expect(quality_field).to_be_hidden()  # it means nothing for the original and PNG
    else:
        expect(quality_field).to_be_visible()
        quality_field.fill(quality)
    name, data = download(page, form, tmp_path)

    assert name == f"colorize-{result.job.created_at:%Y-%m-%d}-{result.job.pk.hex[:8]}.{extension}"
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == fmt
    assert not has_gps(data)
    assert not image.getexif().get_ifd(GPS_IFD)
    assert b"PhoneCorp" not in data
    assert image.info.get("icc_profile") == SRGB
    if label == "Original":
        assert dict(image.getexif()) == {0x0112: 6}  # the pixels as stored, shown upright
    else:
        assert image.size == (64, 96)  # turned upright in the pixels themselves


def test_quality_changes_the_file(
    page: Page, live_server: LiveServer, result: Result, tmp_path: Path
) -> None:
    form = download_form(page, live_server, result.job)
    form.get_by_label("Format").select_option(label="JPEG")
    sizes = []
    for quality in ("5", "100"):
        form.get_by_label("Quality").fill(quality)
        sizes.append(len(download(page, form, tmp_path)[1]))
    assert sizes[0] < sizes[1]


def test_a_quality_out_of_range_gets_a_page_saying_why(
    page: Page, live_server: LiveServer, result: Result
) -> None:
    form = download_form(page, live_server, result.job)
    form.get_by_label("Format").select_option(label="WebP")
    form.get_by_label("Quality").fill("150")
    form.get_by_role("button", name="Download").click()
    expect(page.get_by_role("heading", name="Download")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Quality is a whole number from 1 to 100.")
    # The form again, as it was sent, to fix and try once more.
    form = page.locator("form.download")
    expect(form.get_by_label("Format")).to_have_value("webp")
    expect(form.get_by_label("Quality")).to_have_value("150")
    screenshot(page, "download-error", "desktop")


def test_the_download_form_sits_beside_each_result(
    page: Page, live_server: LiveServer, person: User, result: Result
) -> None:
    second = Result.objects.create(
        job=result.job,
        position=1,
        file=default_storage.save(
            f"jobs/{person.pk}/{result.job_id}/result-1.jpg", ContentFile(camera_jpeg())
        ),
        media_type="image/jpeg",
    )
    page.goto(f"{live_server.url}/jobs/{result.job_id}/")
    forms = page.locator(".variant form.download")
    expect(forms).to_have_count(2)
    screenshot(page, "download-forms", "desktop")
    with page.expect_download() as info:
        forms.nth(1).get_by_role("button", name="Download").click()
    assert info.value.suggested_filename.endswith(f"{second.job.pk.hex[:8]}-2.jpg")
