"""README.md's pictures: every image it shows is in the repository, small enough to commit, and
every picture `make screenshots` makes is shown (tests/browser/readme_screenshots.py)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.browser import readme_screenshots

ROOT = Path(__file__).resolve().parent.parent
# Markdown images, ![text](path), the text possibly over several lines, and HTML <img src>.
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img[^>]*\ssrc=\"([^\"]+)\"")


def shown() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [first or second for first, second in IMAGE.findall(text)]


def test_every_image_the_readme_shows_exists_and_is_small() -> None:
    images = shown()
    assert images, "the README shows no picture"
    for image in images:
        assert not re.match(r"[a-z]+://", image), f"{image}: pictures are kept here, not linked"
        path = ROOT / image
        assert path.is_file(), f"README.md shows {image}, which is not in the repository"
        assert path.stat().st_size <= readme_screenshots.MAX_BYTES, f"{image} is too large"


def test_every_chosen_screenshot_is_shown() -> None:
    images = set(shown())
    for name in readme_screenshots.CHOSEN:
        assert f"docs/screenshots/{name}" in images, f"{name} is made but not shown"
