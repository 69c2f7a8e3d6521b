"""Phone photos from a person's seat: paste a HEIC (the browser cannot preview it, the page says
what happens to it), drop several photos on a field that takes one (the first is used, and the
field says so) and on the main photo (a batch), then send a HEIC taken sideways and get an
upright result, with the studio saying it converted the photo.

The job goes through the real worker and the vendor sandbox (tests.integration).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import Image
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.browser.steps import (
    field,
    open_operation,
    picture,
    run,
    screenshot,
    see_success,
    signed_in_with_keys,
    status,
)
from tests.images import phone_photo

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
]

# Files made in the page from (base64, type, name) triples: a data: URL cannot be fetched
# under the Content-Security-Policy.
FILES = """
files => files.map(([data, type, name]) => new File(
  [Uint8Array.from(atob(data), c => c.charCodeAt(0))], name, { type }))
"""

PASTE = f"""
files => {{
  const transfer = new DataTransfer();
  ({FILES})(files).forEach(file => transfer.items.add(file));
  const init = {{ clipboardData: transfer, bubbles: true, cancelable: true }};
  const event = new ClipboardEvent("paste", init);
  document.body.dispatchEvent(event);
  return event.defaultPrevented;
}}
"""

DROP = f"""
([selector, files]) => {{
  const transfer = new DataTransfer();
  ({FILES})(files).forEach(file => transfer.items.add(file));
  const target = document.querySelector(selector);
  for (const kind of ["dragenter", "dragover", "drop"]) {{
    const init = {{ dataTransfer: transfer, bubbles: true, cancelable: true }};
    target.dispatchEvent(new DragEvent(kind, init));
  }}
}}
"""


def as_file(data: bytes, media_type: str, name: str) -> list[str]:
    return [base64.b64encode(data).decode(), media_type, name]


def test_paste_drop_several_and_a_sideways_heic_comes_back_upright(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    signed_in_with_keys(page, live_server, "phone")

    # Retouch takes one style photo: two dropped on it, the first is used and the field says so.
    form = open_operation(page, live_server, "retouch")
    page.evaluate(
        DROP,
        [
            ".field--file_style .dropzone",
            [
                as_file(picture((200, 150)), "image/jpeg", "look-1.jpg"),
                as_file(picture((210, 150)), "image/jpeg", "look-2.jpg"),
            ],
        ],
    )
    style = form.locator(".field--file_style")
    expect(style.locator("[data-info]")).to_contain_text("200 × 150 px")
    expect(style.locator("[data-info]")).to_contain_text(
        "2 photos were dropped; this field takes one, so the first (look-1.jpg) is used."
    )
    assert field(form, "file_style").evaluate("i => Array.from(i.files, f => f.name)") == [
        "look-1.jpg"
    ]

    # Pasted from the clipboard: a HEIC, which the browser cannot preview.
    heic = phone_photo("HEIF", size=(120, 240))
    assert page.evaluate(PASTE, [as_file(heic, "image/heic", "IMG_0001.HEIC")]) is True
    main = form.locator(".field--file_image")
    expect(main.locator("[data-info]")).to_contain_text("HEIC")
    expect(main.locator("[data-info]")).to_contain_text("cannot preview it")
    expect(main.locator("[data-warning]")).to_be_hidden()  # not "not an image"
    assert field(form, "file_image").evaluate("i => i.files[0].name") == "IMG_0001.HEIC"

    # Three photos dropped on the colorize form: a batch, one job each.
    form = open_operation(page, live_server, "colorize")
    page.evaluate(
        DROP,
        [
            "h1",
            [
                as_file(picture((300 + n, 200), fmt="PNG"), "image/png", f"{n}.png")
                for n in range(3)
            ],
        ],
    )
    expect(form.locator(".field--file_image [data-info]")).to_contain_text("3 photos, one job each")
    assert field(form, "file_image").evaluate("i => i.files.length") == 3

    # A photo taken sideways, chosen as a file: it comes back upright.
    sideways = tmp_path / "IMG_0002.HEIC"
    sideways.write_bytes(heic)
    with Image.open(sideways) as stored:
        assert stored.size == (120, 240)  # upright once decoded; the file's pixels lie sideways
    field(form, "file_image").set_input_files(str(sideways))
    expect(form.locator(".field--file_image [data-info]")).to_contain_text("IMG_0002.HEIC")
    job = run(form)
    (size,) = see_success(page)  # "Your photo" loads too: a JPEG shown for the HEIC
    assert size == (120, 240)
    expect(status(page)).to_contain_text("Converted from HEIC to JPEG.")
    result = job.results.get()
    with default_storage.open(result.file.name, "rb") as handle, Image.open(handle) as image:
        assert image.height > image.width
    screenshot(page, "phone-photo-converted", "desktop")
