"""Small images made by the tests themselves."""

from __future__ import annotations

import io

from PIL import Image


def make_image(
    size: tuple[int, int] = (64, 48),
    fmt: str = "JPEG",
    mode: str = "RGB",
    color: tuple[int, ...] | int = (120, 80, 200),
    **save: object,
) -> bytes:
    image = Image.new(mode, size, color)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
