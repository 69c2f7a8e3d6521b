"""Big photos from a person's seat: a 108-megapixel JPEG (12,000 × 9,000) is flagged before
upload as one that will be scaled down, and becomes a job that says so and succeeds (decoded at
a reduced size on the server); a PNG over its pixel cap is refused before upload and after, in
the same words.

The job goes through the real worker and the vendor sandbox (tests.integration).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import Image
from playwright.sync_api import Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from editor import images
from editor.models import Job, JobStatus
from tests.browser.steps import field, open_operation, run, signed_in_with_keys, wait_for
from tests.images import encode, gray_jpeg, huge_png, phone_photo

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
]


def test_a_108_megapixel_jpeg_becomes_a_job_with_a_scaled_down_note(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    signed_in_with_keys(page, live_server, "bigjpeg")
    form = open_operation(page, live_server, "colorize")
    big = tmp_path / "big.jpg"
    big.write_bytes(gray_jpeg((12_000, 9_000)))  # 108 MP in about 0.8 MB
    field(form, "file_image").set_input_files(str(big))
    warning = form.locator(".field--file_image [data-warning]")
    expect(warning).to_contain_text("12,000 × 9,000 px")
    expect(warning).to_contain_text("scaled down")
    expect(warning).not_to_contain_text("too many pixels")

    job = run(form)
    notes = page.locator(".notes")
    expect(notes).to_contain_text("Scaled down from 12000×9000 to 4096×3072 pixels")
    wait_for(page, JobStatus.SUCCEEDED)
    job.refresh_from_db()
    with default_storage.open(job.results.get().file.name, "rb") as handle:
        # PicWish takes at most 4096 a side: the photo went at that size or a little under.
        assert max(Image.open(handle).size) <= 4096


def test_a_png_over_its_cap_is_refused_before_upload_and_after_in_the_same_words(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    signed_in_with_keys(page, live_server, "bigpng")
    form = open_operation(page, live_server, "colorize")
    side = 8_000  # 64 MP: over a PNG's cap at the default memory budget (58.3 MP)
    assert side * side > images.pixel_cap("PNG")
    big = tmp_path / "scan.png"
    big.write_bytes(huge_png((side, side), bits=8))
    field(form, "file_image").set_input_files(str(big))
    warning = form.locator(".field--file_image [data-warning]")
    expect(warning).to_contain_text("This image has too many pixels")
    said = warning.inner_text()
    assert "8,000 × 8,000" in said
    assert "the most a PNG may have is 58.3 megapixels" in said

    form.locator("button[type=submit]").click()
    error = page.locator(".field--file_image .field-error")
    expect(error).to_be_visible()
    assert error.inner_text().strip() == said.strip()
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("PNG", "scan.png"),
        ("WEBP", "lossy.webp"),
        ("WEBP lossless", "lossless.webp"),
        ("WEBP alpha", "alpha.webp"),
        ("HEIF", "phone.heic"),
        ("AVIF", "phone.avif"),
        ("progressive JPEG", "progressive.jpg"),
    ],
)
def test_the_form_reads_each_kinds_size_from_its_header(
    page: Page,
    live_server: LiveServer,
    tmp_path: Path,
    settings: SettingsWrapper,
    kind: str,
    name: str,
) -> None:
    """At a 10 MB budget a 1000×1000 photo is over every cap but a baseline JPEG's: the page
    reads its size from the header of each kind (WebP's three headers, HEIC's and AVIF's
    "ispe", a progressive JPEG's frame) and says the server's sentence before upload."""
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    signed_in_with_keys(page, live_server, "kinds")
    form = open_operation(page, live_server, "colorize")
    square = Image.new("RGB", (1000, 1000), (120, 80, 200))
    made = {
        "PNG": lambda: encode(square, "PNG"),
        "WEBP": lambda: encode(square, "WEBP"),
        "WEBP lossless": lambda: encode(square, "WEBP", lossless=True),
        "WEBP alpha": lambda: encode(square.convert("RGBA"), "WEBP"),
        "HEIF": lambda: phone_photo("HEIF", size=(1000, 1000)),
        "AVIF": lambda: phone_photo("AVIF", size=(1000, 1000)),
        "progressive JPEG": lambda: gray_jpeg((1000, 1000), progressive=True),
    }[kind]()
    path = tmp_path / name
    path.write_bytes(made)
    server_kind = kind.split(" ")[0] if kind.startswith("WEBP") else kind
    with pytest.raises(images.ImageRejected) as refused:
        images.check_upload(io.BytesIO(made))
    assert str(refused.value) == str(images.too_many_pixels(server_kind, 1000, 1000))
    field(form, "file_image").set_input_files(str(path))
    warning = form.locator(".field--file_image [data-warning]")
    expect(warning).to_have_text(str(refused.value))


def test_a_jpeg_decoded_smaller_within_the_limits_is_flagged_before_upload(
    page: Page, live_server: LiveServer, tmp_path: Path, settings: SettingsWrapper
) -> None:
    settings.IMAGE_MEMORY_BUDGET_MB = 10  # a JPEG is decoded whole up to 1.25 MP
    signed_in_with_keys(page, live_server, "smaller")
    form = open_operation(page, live_server, "color_migration")
    path = tmp_path / "wide.jpg"
    path.write_bytes(gray_jpeg((2000, 1000)))
    field(form, "file_image").set_input_files(str(path))
    warning = form.locator(".field--file_image [data-warning]")
    expect(warning).to_contain_text(images.decoded_smaller(2000, 1000))
