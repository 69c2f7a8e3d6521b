"""`make screenshots`: the pictures of README.md's user guide, chosen from those the browser
tests take (test-artifacts/screenshots, see steps.screenshot) and made small enough to commit
in docs/screenshots/: at most 1280 pixels wide and ``MAX_HEIGHT`` tall (the top of a long page,
where its point is), quantized to a palette and written as optimised PNG, each under
``MAX_BYTES``.

Run after the browser tests that take them (the Makefile's ``screenshots`` target does both):
``.venv/bin/python -m tests.browser.readme_screenshots``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
# Where steps.screenshot keeps them (steps.SCREENSHOTS; not imported: it needs Django set up).
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
WIDTH = 1280
MAX_HEIGHT = 1400
MAX_BYTES = 300_000

# The picture in docs/screenshots for each feature of the guide, from the test that takes it.
CHOSEN: dict[str, str] = {
    "recipe-builder.png": "recipe-builder-desktop.png",  # tests/browser/test_recipes.py
    "recipe-batch.png": "recipe-batch-desktop.png",  # the same test, a step stopped
    "album.png": "album-desktop.png",  # tests/browser/test_albums.py
    "shared-album.png": "shared-album-desktop.png",  # the same test, as a visitor
    "phone-photo.png": "phone-photo-converted-desktop.png",  # tests/browser/test_phone_photos.py
    "company-sign-in.png": "company-sign-in-desktop.png",  # tests/browser/test_company_sign_in.py
    "notifications.png": "notifications-settings-desktop.png",  # test_email_notices.py
    "studio-es.png": "studio-es-desktop.png",  # tests/browser/test_languages.py
    "shared-es.png": "shared-es-desktop.png",  # the same test, as a visitor
    "studio-zh.png": "studio-zh-hans-desktop.png",
    "shared-zh.png": "shared-zh-hans-desktop.png",
}


def small(source: Path, target: Path) -> int:
    """``source`` as a small PNG at ``target``; returns its size in bytes."""
    with Image.open(source) as opened:
        image = opened.convert("RGB")
    if image.width > WIDTH:
        image = image.resize(
            (WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS
        )
    image = image.crop((0, 0, image.width, min(image.height, MAX_HEIGHT)))
    # Pages are flat colours and text: a palette keeps them sharp at a fraction of the size.
    for colours in (256, 128, 64):
        image.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            target, "PNG", optimize=True
        )
        if target.stat().st_size <= MAX_BYTES:
            break
    return target.stat().st_size


def main() -> int:
    missing = [name for name in CHOSEN.values() if not (SCREENSHOTS / name).exists()]
    if missing:
        print(f"run the browser tests first; missing in {SCREENSHOTS}: {', '.join(missing)}")
        return 1
    DOCS.mkdir(parents=True, exist_ok=True)
    for target, source in CHOSEN.items():
        size = small(SCREENSHOTS / source, DOCS / target)
        print(f"docs/screenshots/{target}: {size // 1000} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
