from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from editor.images import ImageRejected, fit, fit_mask
from editor.vendors.base import ImageLimits
from tests.images import make_image, open_image

LIMITS = ImageLimits(
    formats=frozenset({"JPEG", "PNG"}),
    max_bytes=3_000_000,
    max_width=2999,
    max_height=2999,
    min_width=33,
    min_height=33,
)


def noisy_jpeg(size: tuple[int, int], quality: int = 98) -> bytes:
    rng = random.Random(7)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def test_a_photo_that_fits_is_sent_byte_for_byte() -> None:
    data = make_image((800, 600))
    fitted = fit(data, LIMITS, vendor_label="AILabTools")
    assert fitted.image.data == data
    assert fitted.image.media_type == "image/jpeg"
    assert (fitted.width, fitted.height) == (800, 600)
    assert fitted.notes == ()


def test_a_too_large_photo_is_scaled_down_with_a_note() -> None:
    fitted = fit(make_image((4000, 3000)), LIMITS, vendor_label="AILabTools")
    image = open_image(fitted.image.data)
    assert image.size == (2999, 2249)
    assert (fitted.width, fitted.height) == image.size
    assert any("Scaled down from 4000×3000" in note for note in fitted.notes)


def test_too_many_bytes_are_recompressed_under_the_limit() -> None:
    data = noisy_jpeg((1800, 1800))
    assert len(data) > LIMITS.max_bytes
    fitted = fit(data, LIMITS, vendor_label="AILabTools")
    assert len(fitted.image.data) <= LIMITS.max_bytes
    assert any("Recompressed" in note for note in fitted.notes)


def test_a_too_small_photo_is_refused_naming_the_minimum() -> None:
    with pytest.raises(ImageRejected, match=r"at least 33×33"):
        fit(make_image((20, 100)), LIMITS, vendor_label="AILabTools")


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = make_image((200, 100), exif=exif.tobytes())
    fitted = fit(data, LIMITS, vendor_label="AILabTools")
    assert open_image(fitted.image.data).size == (100, 200)
    assert any("upright" in note for note in fitted.notes)


@pytest.mark.parametrize(
    ("mode", "color", "fmt", "word"),
    [
        ("CMYK", (0, 255, 0, 0), "JPEG", "CMYK"),
        ("RGBA", (10, 20, 30, 128), "PNG", "transparency"),
        ("LA", (100, 50), "PNG", "transparency"),
        ("I;16", 40000, "PNG", "16-bit"),
    ],
)
def test_other_color_modes_become_rgb(
    mode: str, color: tuple[int, ...] | int, fmt: str, word: str
) -> None:
    fitted = fit(make_image((64, 64), fmt, mode, color), LIMITS, vendor_label="AILabTools")
    image = open_image(fitted.image.data)
    assert image.mode == "RGB"
    assert any(word in note for note in fitted.notes)


def test_sixteen_bit_gray_keeps_its_brightness() -> None:
    fitted = fit(make_image((64, 64), "PNG", "I;16", 40000), LIMITS, vendor_label="X")
    assert open_image(fitted.image.data).getpixel((0, 0)) == (156, 156, 156)


def test_palette_png_becomes_rgb() -> None:
    data = make_image((64, 64), "PNG", "P", 3)
    assert open_image(fit(data, LIMITS, vendor_label="X").image.data).mode == "RGB"


def test_a_format_the_vendor_refuses_is_converted() -> None:
    fitted = fit(make_image((64, 64), "WEBP"), LIMITS, vendor_label="X")
    assert fitted.image.media_type == "image/jpeg"
    assert any("Converted from WEBP to JPEG" in note for note in fitted.notes)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not an image"),
        (b"<html><script>alert(1)</script></html>", "not an image"),
        (make_image((64, 64), "GIF", "P", 1), "GIF images are not supported"),
        (noisy_jpeg((64, 64))[:1500], "damaged"),
    ],
)
def test_bad_files_get_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ImageRejected, match=message):
        fit(data, LIMITS, vendor_label="X")


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = make_image((12_000, 10_000), "PNG", "1", 0)
    with pytest.raises(ImageRejected, match="too many pixels"):
        fit(bomb, LIMITS, vendor_label="X")


def test_icc_profile_survives_recompression() -> None:
    profile = b"\x00" * 128 + b"fake-but-kept"
    fitted = fit(make_image((4000, 100), icc_profile=profile), LIMITS, vendor_label="X")
    assert open_image(fitted.image.data).info.get("icc_profile") == profile


def test_masks_are_resized_to_the_photo_and_made_binary() -> None:
    painted = make_image((50, 40), "PNG", "RGBA", (255, 255, 255, 200))
    mask = fit_mask(painted, (500, 400))
    image = open_image(mask.data)
    assert mask.media_type == "image/png"
    assert image.size == (500, 400)
    assert image.mode == "L"
    assert image.getextrema() == (255, 255)
