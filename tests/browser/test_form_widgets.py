"""Step 4 from a person's seat, on a desktop and on a phone: paste or drop a photo and see it at
once, frame the extender's new area by dragging its edges, paint a mask that reaches the vendor
at the photo's size, build a palette, and pick an expression.

Jobs that are sent go through the real worker and the vendor sandbox (tests.integration).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import Image
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import User
from editor.models import JobStatus
from tests.browser.steps import (
    EVERY_DEVICE,
    drag,
    field,
    line,
    open_operation,
    photo,
    picture,
    portrait,
    run,
    screenshot,
    signed_in_with_keys,
    spot,
    wait_for,
)

# The real worker and the sandbox it calls (used by the tests that send a job).

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration, EVERY_DEVICE]


@pytest.fixture
def person(page: Page, live_server: LiveServer) -> User:
    return signed_in_with_keys(page, live_server, "widgets")


def encoded(data: bytes, media_type: str = "image/jpeg") -> list[str]:
    """A file for the page's scripts: base64 and its type. (A data: URL cannot be fetched
    under the Content-Security-Policy's connect-src 'self'.)"""
    return [base64.b64encode(data).decode(), media_type]


# The file made in the page: (base64, type) -> Blob.
BLOB = "new Blob([Uint8Array.from(atob(data), c => c.charCodeAt(0))], { type })"

PASTE = f"""
([data, type, name]) => {{
  const blob = {BLOB};
  const transfer = new DataTransfer();
  transfer.items.add(new File([blob], name, {{ type: blob.type }}));
  const init = {{ clipboardData: transfer, bubbles: true, cancelable: true }};
  const event = new ClipboardEvent("paste", init);
  (document.activeElement || document.body).dispatchEvent(event);
  return event.defaultPrevented;
}}
"""

DROP = f"""
([selector, data, type, name]) => {{
  const blob = {BLOB};
  const transfer = new DataTransfer();
  transfer.items.add(new File([blob], name, {{ type: blob.type }}));
  const target = document.querySelector(selector);
  for (const kind of ["dragenter", "dragover", "drop"]) {{
    const init = {{ dataTransfer: transfer, bubbles: true, cancelable: true }};
    target.dispatchEvent(new DragEvent(kind, init));
  }}
}}
"""


def paste(
    page: Page, data: bytes, name: str = "clipboard.png", media_type: str = "image/png"
) -> None:
    assert page.evaluate(PASTE, [*encoded(data, media_type), name]) is True


# How many of the mask canvas's pixels carry paint (alpha above 0).
PAINTED_PIXELS = """
canvas => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { count += 1; } }
  return count;
}
"""


def ratio(form: Locator, side: str) -> float:
    return float(field(form, side).input_value())


# --- Upload: paste, drop, preview, warnings ---------------------------------------------------


@pytest.mark.usefixtures("worker")
def test_paste_a_photo_previews_it_and_the_job_gets_it(
    page: Page, live_server: LiveServer, person: User, device: str
) -> None:
    form = open_operation(page, live_server, "colorize")
    # Sent without a photo: the server's error comes back in a swapped form, whose widgets work.
    form.locator("button[type=submit]").click()
    expect(form.locator(".field--file_image .field-error")).to_have_text("Choose a photo.")
    paste(page, picture((300, 200), fmt="PNG"))

    upload = form.locator(".field--file_image")
    expect(upload.locator("[data-preview]")).to_be_visible()
    expect(upload.locator("[data-info]")).to_contain_text("300 × 200 px")
    expect(upload.locator("[data-warning]")).to_be_hidden()
    names = field(form, "file_image").evaluate("input => Array.from(input.files, f => f.name)")
    assert len(names) == 1
    assert names[0].endswith(".png")

    job = run(form)
    wait_for(page, JobStatus.SUCCEEDED)
    with default_storage.open(job.inputs["image"], "rb") as handle:
        assert Image.open(handle).size == (300, 200)


def test_a_photo_over_the_vendor_limits_is_flagged_before_upload(
    page: Page, live_server: LiveServer, person: User, device: str
) -> None:
    form = open_operation(page, live_server, "retouch")
    # AILabTools's retouch takes at most 2999 px a side.
    paste(page, picture((3200, 400), fmt="PNG"))
    warning = form.locator(".field--file_image [data-warning]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("3,200 × 400 px")
    expect(warning).to_contain_text("scaled down")
    expect(warning).to_contain_text("2,999 × 2,999")

    # Focus the style field and paste: the photo goes there, not to the main field.
    field(form, "file_style").focus()
    paste(page, picture((200, 150), fmt="PNG"), name="style.png")
    expect(form.locator(".field--file_style [data-info]")).to_contain_text("200 × 150 px")
    expect(form.locator(".field--file_image [data-info]")).to_contain_text("3,200 × 400 px")


def test_drop_a_photo_on_the_form(
    page: Page, live_server: LiveServer, person: User, device: str
) -> None:
    form = open_operation(page, live_server, "color_migration")
    field(form, "mode").select_option("REF_PIC")
    ref = form.locator(".field--file_ref")
    expect(ref).to_be_visible()
    # Dropped on the reference field: it goes there; dropped elsewhere: the main photo.
    page.evaluate(DROP, [".field--file_ref .dropzone", *encoded(picture((400, 300))), "ref.jpg"])
    expect(ref.locator("[data-preview]")).to_be_visible()
    expect(ref.locator("[data-info]")).to_contain_text("400 × 300 px")
    page.evaluate(DROP, ["h1", *encoded(picture((500, 250))), "main.jpg"])
    expect(form.locator(".field--file_image [data-info]")).to_contain_text("500 × 250 px")
    assert field(form, "file_ref").evaluate("input => input.files[0].name") == "ref.jpg"
    assert field(form, "file_image").evaluate("input => input.files[0].name") == "main.jpg"


# --- Extender: frame edges, sliders, presets, prompt, seed ------------------------------------


@pytest.mark.usefixtures("worker")
def test_drag_the_frame_edges(
    page: Page, live_server: LiveServer, person: User, device: str, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "extend")
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg", (640, 480)))
    frame = form.locator("[data-frame]")
    expect(frame).to_be_visible()
    expect(form.locator("[data-frame-size]")).to_contain_text("New size: 768 × 576 px")

    # Drag the right edge outwards by half the photo's shown width.
    photo_box = form.locator("[data-frame-photo]").bounding_box()
    assert photo_box is not None
    right = form.locator("[data-edge=right]")
    start = spot(right)
    drag(page, device, line(start, (start[0] + photo_box["width"] * 0.4, start[1]), steps=8))
    assert ratio(form, "right") == pytest.approx(0.5, abs=0.03)
    expect(right).to_have_attribute("aria-valuenow", str(ratio(form, "right")))
    percent = round(ratio(form, "right") * 100)
    expect(right.locator("[data-edge-value]")).to_have_text(f"+{percent} %")

    # The top edge by keyboard: two steps up, one fine step back.
    top = form.locator("[data-edge=top]")
    top.focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Shift+ArrowDown")
    assert ratio(form, "top") == pytest.approx(0.19)

    # The slider and the number field follow each other.
    form.locator("[data-range-for=id_bottom]").fill("0.3")
    assert ratio(form, "bottom") == pytest.approx(0.3)
    field(form, "left").fill("0.25")
    expect(form.locator("[data-edge=left]")).to_have_attribute("aria-valuenow", "0.25")

    # A preset computed from the photo's 4:3 aspect: 16:9 adds a sixth of the width each side.
    form.get_by_role("button", name="16:9").click()
    assert ratio(form, "left") == pytest.approx(0.17)
    assert ratio(form, "right") == pytest.approx(0.17)
    assert ratio(form, "top") == 0
    form.get_by_role("button", name="+25 % all round").click()
    assert [ratio(form, side) for side in ("top", "bottom", "left", "right")] == [0.25] * 4
    expect(form.locator("[data-frame-size]")).to_contain_text("960 × 720")

    # Prompt word counter, seed toggle.
    prompt = field(form, "custom_prompt")
    prompt.fill("calm sea " * 51)
    expect(form.locator("[data-word-count]")).to_contain_text("102 / 100 words: the vendor reads")
    prompt.fill("a calm sea under a pale sky")
    expect(form.locator("[data-word-count]")).to_have_text("7 / 100 words")
    fixed = form.get_by_label("Fixed seed")
    expect(fixed).to_be_checked()
    fixed.uncheck()
    expect(field(form, "seed")).to_have_value("-1")
    form.get_by_role("button", name="Random seed").click()
    expect(fixed).to_be_checked()
    seed = int(field(form, "seed").input_value())
    assert seed >= 0

    job = run(form)
    assert job.params["left"] == 0.25
    assert job.params["right"] == 0.25
    assert job.params["seed"] == seed
    wait_for(page, JobStatus.SUCCEEDED)
    assert "mask" not in job.inputs

    # "Run again" from this job: its photo stands in, framed with its settings.
    page.goto(f"{live_server.url}/studio/extend/?from={job.pk}")
    form = page.locator("#operation-form")
    expect(form.locator("[data-frame]")).to_be_visible()
    expect(form.locator("[data-frame-size]")).to_contain_text("New size: 960 × 720 px")


@pytest.mark.usefixtures("worker")
def test_paint_undo_and_erase_a_mask_that_reaches_the_vendor(
    page: Page, live_server: LiveServer, person: User, device: str, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "extend")
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg", (640, 480)))
    form.get_by_text("Paint a mask").click()
    canvas = form.locator("[data-mask-canvas]")
    expect(canvas).to_be_visible()
    expect(form.locator("[data-frame]")).to_be_hidden()
    expect(field(form, "top")).to_be_hidden()
    assert canvas.evaluate("c => [c.width, c.height]") == [640, 480]
    form.locator("[data-brush-size]").fill("24")

    # Points are shares of the photo. Stroke A across the upper left; stroke B lower right,
    # then undone.
    drag(page, device, line(spot(canvas, 0.1, 0.25), spot(canvas, 0.6, 0.25)))
    drag(page, device, line(spot(canvas, 0.6, 0.8), spot(canvas, 0.9, 0.8)))
    undo = form.get_by_role("button", name="Undo")
    redo = form.get_by_role("button", name="Redo")
    undo.click()
    expect(redo).to_be_enabled()
    # The eraser takes a bite out of stroke A.
    form.get_by_text("Eraser", exact=True).click()
    form.locator("[data-brush-size]").fill("60")
    drag(page, device, line(spot(canvas, 0.35, 0.15), spot(canvas, 0.35, 0.35), steps=6))
    expect(redo).to_be_disabled()

    job = run(form)
    wait_for(page, JobStatus.SUCCEEDED)
    job.refresh_from_db()
    with default_storage.open(job.prepared["mask"], "rb") as handle:
        mask = Image.open(handle)
        mask.load()
    assert mask.size == (640, 480)
    gray = mask.convert("L")

    def value(x: float, y: float) -> int:
        return int(gray.getpixel((round(640 * x), round(480 * y))))  # type: ignore[arg-type]

    assert value(0.15, 0.25) == 255  # painted
    assert value(0.55, 0.25) == 255  # painted
    assert value(0.35, 0.25) == 0  # erased
    assert value(0.75, 0.8) == 0  # undone
    assert value(0.1, 0.6) == 0  # never painted
    assert value(0.9, 0.05) == 0


def test_mask_tools_by_keyboard_and_an_empty_mask_is_refused(
    page: Page, live_server: LiveServer, person: User, device: str, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "extend")
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg", (400, 300)))
    form.get_by_text("Paint a mask").click()
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-mask-status]")).to_have_text(
        "Paint the area to fill first, or switch to extending the frame."
    )
    assert "/jobs/" not in page.url

    canvas = form.locator("[data-mask-canvas]")
    canvas.focus()
    expect(form.locator("[data-mask-cursor]")).to_be_visible()
    page.keyboard.press("Space")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    painted = int(canvas.evaluate(PAINTED_PIXELS))
    assert painted > 0
    form.get_by_role("button", name="Invert").click()
    inverted = int(canvas.evaluate(PAINTED_PIXELS))
    assert inverted == pytest.approx(400 * 300 - painted, rel=0.02)
    form.get_by_role("button", name="Undo").click()
    canvas.focus()
    page.keyboard.press("Control+z")
    assert canvas.evaluate(PAINTED_PIXELS) == 0


# --- Color migration: palette, reference photo, strength -------------------------------------


@pytest.mark.usefixtures("worker")
def test_build_a_palette(
    page: Page, live_server: LiveServer, person: User, device: str, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "color_migration")
    expect(field(form, "provider")).to_have_value("local")
    field(form, "mode").select_option("TEMPLATE")
    swatches = form.locator(".swatch")
    expect(swatches).to_have_count(2)
    expect(form.get_by_label("Hex code of color 1")).to_have_value("#DB0D0D")

    add = form.get_by_role("button", name="Add a color")
    add.click()
    expect(swatches).to_have_count(3)
    form.get_by_label("Hex code of color 3").fill("#12ab34")
    # Move it to the top with the keyboard: focus stays on the moved color's button.
    form.get_by_role("button", name="Move color 3 up").focus()
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Move color 2 up")
    page.keyboard.press("Space")
    expect(form.get_by_label("Hex code of color 1")).to_have_value("#12AB34")
    form.get_by_role("button", name="Remove color 3").click()
    add.click()
    form.get_by_label("Color 3", exact=True).fill("#00ff00")
    expect(field(form, "color_template")).to_have_value("12AB34, DB0D0D, 00FF00")
    for _ in range(4):
        add.click()
    expect(swatches).to_have_count(7)
    expect(add).to_be_disabled()
    for n in (7, 6, 5, 4):
        form.get_by_role("button", name=f"Remove color {n}").click()

    # Strength as a slider with a live hint.
    form.locator("[data-range-for=id_degree]").fill("0.8")
    expect(field(form, "degree")).to_have_value("0.8")
    expect(form.locator("[data-degree-hint]")).to_have_text("0.80 — strong")

    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg", (640, 480)))
    job = run(form)
    assert job.params["color_template"] == ["12AB34", "DB0D0D", "00FF00"]
    assert job.params["degree"] == 0.8
    wait_for(page, JobStatus.SUCCEEDED)


def test_the_palette_text_field_still_drives_the_swatches(
    page: Page, live_server: LiveServer, person: User, device: str, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "color_migration")
    field(form, "mode").select_option("TEMPLATE")
    field(form, "color_template").fill("#ABCDEF; 123456")
    expect(form.locator(".swatch")).to_have_count(2)
    expect(form.get_by_label("Hex code of color 2")).to_have_value("#123456")
    field(form, "mode").select_option("REF_PIC")
    field(form, "file_ref").set_input_files(photo(tmp_path / "ref.jpg", (300, 300)))
    expect(form.locator(".field--file_ref [data-preview]")).to_be_visible()
    expect(form.locator(".field--file_ref [data-info]")).to_contain_text("300 × 300 px")


# --- Expression pickers -----------------------------------------------------------------------


@pytest.mark.usefixtures("worker")
def test_expression_pickers(
    page: Page, live_server: LiveServer, person: User, device: str, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools")
    cards = form.locator("[data-choice-cards]")
    expect(cards).to_be_visible()
    expect(cards.get_by_role("radio")).to_have_count(8)
    expect(cards).to_contain_text("A wide, open smile that shows the teeth.")
    cards.get_by_text("Standard grin").click()
    expect(field(form, "service_choice")).to_have_value("13")
    # Arrow keys move through the cards as through any radio group.
    cards.get_by_role("radio", name=re.compile("^Standard grin")).press("ArrowRight")
    expect(field(form, "service_choice")).to_have_value("14")

    field(form, "provider").select_option("ailabtools_advanced")
    expect(cards).to_be_hidden()
    search = form.get_by_placeholder("Search 117 expressions")
    expect(search).to_be_visible()
    choices = form.locator(".radio-list__item")
    expect(choices).to_have_count(117)
    search.fill("cute pout")
    visible = choices.filter(visible=True)
    expect(visible).to_have_count(3)
    for text in visible.all_inner_texts():
        assert "pout" in text.lower()
    expect(form.locator("[data-filter-count]")).to_have_text("3 of 117 shown")
    visible.filter(has_text="Super cute pouting face").click()
    expect(field(form, "expression")).to_have_value("super_cute_pouting_face")
    search.fill("zzz")
    expect(choices.filter(visible=True)).to_have_count(0)
    expect(form.locator("[data-filter-count]")).to_have_text("No expression matches “zzz”.")
    search.fill("laugh")
    search.press("Enter")
    expect(field(form, "expression")).to_have_value("bright_laugh")
    assert "/jobs/" not in page.url

    field(form, "file_image").set_input_files(portrait(tmp_path / "face.jpg"))
    job = run(form)
    assert job.provider == "ailabtools_advanced"
    assert job.params["expression"] == "bright_laugh"


# --- Screenshots ------------------------------------------------------------------------------


def test_screenshots(
    page: Page, live_server: LiveServer, person: User, device: str, tmp_path: Path
) -> None:
    """The operation pages as people see them, saved for review in test-artifacts/screenshots."""
    form = open_operation(page, live_server, "extend")
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg", (640, 480)))
    field(form, "right").fill("0.4")
    field(form, "top").fill("0.15")
    expect(form.locator("[data-frame]")).to_be_visible()
    screenshot(page, "extend-frame", device)

    form.get_by_text("Paint a mask").click()
    canvas = form.locator("[data-mask-canvas]")
    drag(page, device, line(spot(canvas, 0.1, 0.3), spot(canvas, 0.5, 0.4)))
    screenshot(page, "extend-mask", device)

    form = open_operation(page, live_server, "color_migration")
    field(form, "mode").select_option("TEMPLATE")
    form.get_by_role("button", name="Add a color").click()
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg", (640, 480)))
    screenshot(page, "color-migration-template", device)

    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools_advanced")
    form.get_by_placeholder("Search 117 expressions").fill("smile")
    field(form, "file_image").set_input_files(portrait(tmp_path / "face.jpg"))
    screenshot(page, "expression-advanced", device)

    form = open_operation(page, live_server, "expression")
    field(form, "provider").select_option("ailabtools")
    screenshot(page, "expression-classic", device)

    form = open_operation(page, live_server, "colorize")
    paste(page, picture((4200, 600), fmt="PNG"))
    expect(form.locator(".field--file_image [data-warning]")).to_be_visible()
    screenshot(page, "colorize-preview", device)
