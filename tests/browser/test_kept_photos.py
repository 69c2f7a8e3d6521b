"""A form sent back with an error loses nothing, seen from the browser: the chosen photo stays
on the form (kept on the server as a draft), a painted mask comes back in the painter, and the
next try sends them without a new upload or a new stroke."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import Image
from playwright.sync_api import Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from editor.models import Draft, Job
from tests.browser.steps import add_key, field, job_of, open_operation, photo, run, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

# Painted pixels of the mask canvas (alpha above 0).
PAINTED_PIXELS = """
canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { count += 1; } }
  return count;
}
"""


def stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data


def test_the_photo_survives_a_quota_error_and_the_next_try_sends_it(
    page: Page, live_server: LiveServer, tmp_path: Path, settings: SettingsWrapper
) -> None:
    sign_in(page, live_server, "keeper")
    add_key(page, live_server, "picwish", "sandbox-kept-photo")
    settings.QUOTA_JOBS_PER_DAY = 0
    form = open_operation(page, live_server, "colorize")
    chosen = photo(tmp_path / "grandma.jpg", gray=True)
    field(form, "file_image").set_input_files(chosen)
    form.locator("button[type=submit]").click()

    form = page.locator("#operation-form")
    expect(form.get_by_role("alert")).to_contain_text("limit")
    kept = form.locator("[data-reuse-role=image]")
    expect(kept).to_contain_text("kept from your last try")
    expect(kept.get_by_label("Use it again")).to_be_checked()
    thumbnail = kept.get_by_role("img")
    expect(thumbnail).to_have_js_property("complete", True)
    assert int(thumbnail.evaluate("img => img.naturalWidth")) == 320

    settings.QUOTA_JOBS_PER_DAY = 200
    run(form)
    job = job_of(page)
    assert stored(job.inputs["image"]) == chosen.read_bytes()
    assert not Draft.objects.exists()


def test_a_painted_mask_comes_back_in_the_painter_and_is_sent_again(
    page: Page, live_server: LiveServer, tmp_path: Path, settings: SettingsWrapper
) -> None:
    sign_in(page, live_server, "masker")
    add_key(page, live_server, "ailabtools", "sandbox-kept-mask")
    settings.QUOTA_JOBS_PER_DAY = 0
    form = open_operation(page, live_server, "extend")
    field(form, "file_image").set_input_files(photo(tmp_path / "room.jpg", size=(400, 300)))
    form.get_by_text("Paint a mask").click()
    canvas = form.locator("[data-mask-canvas]")
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=10)
    page.mouse.up()
    painted = int(canvas.evaluate(PAINTED_PIXELS))
    assert painted > 0
    form.locator("button[type=submit]").click()

    form = page.locator("#operation-form")
    expect(form.get_by_role("alert")).to_contain_text("limit")
    expect(form.locator("[data-reuse-role=mask]")).to_be_visible()
    # Back on the mask painter, with the stroke in it.
    expect(form.locator("#extend-mode-mask")).to_be_checked()
    canvas = form.locator("[data-mask-canvas]")
    expect(canvas).to_be_visible()
    expect(form.locator("[data-mask-status]")).to_contain_text("Your mask is back")
    assert canvas.evaluate("c => [c.width, c.height]") == [400, 300]
    # The stroke's soft edge is cut at half strength when the mask is stored, so the count
    # moves with the brush's size on screen (the two-column form draws the painter smaller).
    assert int(canvas.evaluate(PAINTED_PIXELS)) == pytest.approx(painted, rel=0.1)

    settings.QUOTA_JOBS_PER_DAY = 200
    run(form)
    job = job_of(page)
    mask = Image.open(io.BytesIO(stored(job.inputs["mask"]))).convert("L")
    assert mask.size == (400, 300)
    assert mask.getpixel((120, 150)) == 255  # on the stroke
    assert mask.getpixel((300, 40)) == 0  # never painted
    assert Job.objects.count() == 1


def test_extending_the_frame_does_not_send_a_kept_mask(
    page: Page, live_server: LiveServer, tmp_path: Path, settings: SettingsWrapper
) -> None:
    sign_in(page, live_server, "framer")
    add_key(page, live_server, "ailabtools", "sandbox-kept-frame")
    settings.QUOTA_JOBS_PER_DAY = 0
    form = open_operation(page, live_server, "extend")
    field(form, "file_image").set_input_files(photo(tmp_path / "hall.jpg", size=(400, 300)))
    form.get_by_text("Paint a mask").click()
    canvas = form.locator("[data-mask-canvas]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    form.locator("button[type=submit]").click()

    form = page.locator("#operation-form")
    expect(form.get_by_role("alert")).to_contain_text("limit")
    form.get_by_text("Extend the frame").click()
    field(form, "left").fill("0.5")
    settings.QUOTA_JOBS_PER_DAY = 200
    run(form)
    job = job_of(page)
    assert "mask" not in job.inputs
    assert job.params["left"] == 0.5
