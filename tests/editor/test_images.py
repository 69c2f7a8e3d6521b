from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable

import pytest
from PIL import Image, ImageDraw, ImageOps

from editor import images
from editor.images import ImageLimits, ImageRejected, convert, fit, fit_mask, save, thumbnail
from tests.images import SRGB, camera_jpeg, make_image, open_image, private_metadata

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


def mistyped_exif(orientation: int) -> bytes:
    """EXIF as some cameras and editors write it: a valid Orientation, and XResolution (a
    RATIONAL) stored as text. Pillow reads the block, but cannot write it back."""
    text = b"72 dpi\0"  # longer than 4 bytes: stored after the directory, at an offset
    entries = [
        struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0),  # SHORT, left-justified
        struct.pack(">HHII", 0x011A, 2, len(text), 8 + 2 + 2 * 12 + 4),  # ASCII, not RATIONAL
    ]
    directory = struct.pack(">H", len(entries)) + b"".join(entries) + struct.pack(">I", 0)
    return b"Exif\0\0" + b"MM\0*" + struct.pack(">I", 8) + directory + text


def marked_photo(exif: bytes) -> bytes:
    """200×100, white with a red top-left corner, so the turn shows in the pixels."""
    image = Image.new("RGB", (200, 100), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((0, 0, 39, 19), fill=(255, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def well_formed_exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return value


def is_red(image: Image.Image, xy: tuple[int, int]) -> bool:
    red, green, blue = rgb(image, xy)
    return red > 200 and green < 60 and blue < 60


def is_white(image: Image.Image, xy: tuple[int, int]) -> bool:
    return min(rgb(image, xy)) > 200


def test_the_damaged_exif_of_these_tests_is_one_pillow_cannot_write_back() -> None:
    # The premise of the tests below: ImageOps.exif_transpose, which writes the block back
    # without the orientation, raises on it.
    photo = Image.open(io.BytesIO(marked_photo(mistyped_exif(6))))
    assert photo.getexif()[0x0112] == 6
    with pytest.raises((struct.error, TypeError)):
        ImageOps.exif_transpose(photo)


def test_a_damaged_exif_block_does_not_stop_fitting() -> None:
    fitted = fit(marked_photo(mistyped_exif(6)), LIMITS, vendor_label="AILabTools")
    reference = fit(marked_photo(well_formed_exif(6)), LIMITS, vendor_label="AILabTools")
    # Turned 90° clockwise, like the same photo with a well-formed tag: red at the top right.
    for image in (open_image(fitted.image.data), open_image(reference.image.data)):
        assert image.size == (100, 200)
        assert is_red(image, (95, 5))
        assert not is_red(image, (5, 5))
    assert (fitted.width, fitted.height) == (100, 200)
    assert any("upright" in note for note in fitted.notes)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda data: open_image(thumbnail(data).thumbnail), id="thumbnail"),
        pytest.param(lambda data: open_image(convert(data, "PNG", 90)), id="download-copy"),
        pytest.param(lambda data: open_image(fit_mask(data, (100, 200)).data), id="mask"),
    ],
)
def test_a_damaged_exif_block_is_read_for_its_orientation_everywhere(
    make: Callable[[bytes], Image.Image],
) -> None:
    image = make(marked_photo(mistyped_exif(6)))
    assert image.width < image.height
    # The marked corner (red; black in a mask) is at the top right, as with a well-formed tag.
    assert is_white(image, (3, 3))
    assert not is_white(image, (image.width - 3, 3))


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


def test_webp_falls_back_to_the_default_effort_when_the_fast_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """libwebp refuses a low effort on some very large pictures ("encoding error 6"); the copy
    is then made at its default effort instead of failing the download."""
    real_save = Image.Image.save
    efforts: list[object] = []

    def picky_save(
        image: Image.Image, fp: object, format: str | None = None, **options: object
    ) -> None:
        if format == "WEBP":
            efforts.append(options.get("method"))
            if options.get("method") != 4:
                raise ValueError("encoding error 6")
        real_save(image, fp, format, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(Image.Image, "save", picky_save)
    data = convert(make_image(), "WEBP", 90)
    assert efforts == [2, 4]
    assert open_image(data).format == "WEBP"


def test_a_png_damaged_inside_its_pixel_data_is_refused_not_sent_as_it_is() -> None:
    # Reading a PNG's EXIF decodes it; fit must still notice that the decode failed.
    data = bytearray(make_image((120, 90), "PNG", color=(10, 200, 30)))
    data[60] ^= 0xFF  # inside IDAT
    with pytest.raises(ImageRejected, match="damaged"):
        fit(bytes(data), LIMITS, vendor_label="X")


def test_a_truncated_result_gets_no_thumbnail_but_a_clear_message() -> None:
    with pytest.raises(ImageRejected, match="damaged"):
        thumbnail(noisy_jpeg((64, 64))[:1500])


# --- Nothing the studio writes carries the photo's comment or GPS ----------------------------

TAGGED = camera_jpeg(orientation=6)  # GPS, serial, XMP, an ICC profile and a "shot at home" COM


def test_a_fitted_copy_carries_no_comment_or_gps_but_keeps_the_profile() -> None:
    assert "comment" in open_image(TAGGED).info
    fitted = fit(TAGGED, ImageLimits(frozenset({"JPEG"}), 10_000_000, 48, 48), vendor_label="V")
    assert fitted.notes  # turned upright and scaled down: a copy, not the upload
    assert private_metadata(fitted.image.data) == set()
    assert open_image(fitted.image.data).info["icc_profile"] == SRGB


def test_a_thumbnail_carries_no_comment_or_gps() -> None:
    made = thumbnail(TAGGED)
    assert private_metadata(made.thumbnail) == set()
    assert b"\xff\xfe" not in made.thumbnail  # no COM segment at all


def test_every_jpeg_the_studio_saves_leaves_the_comment_out() -> None:
    image = open_image(TAGGED)
    assert image.info["comment"] == b"shot at home"
    assert "comment" not in open_image(save(image, "JPEG", quality=90)).info


@pytest.mark.parametrize(
    ("mode", "transparent"),
    [("1", 0), ("L", 0), ("P", 0), ("I;16", 0), ("RGB", (0, 0, 0))],
)
@pytest.mark.parametrize("target", ["PNG", "JPEG"])
def test_a_transparent_colour_in_any_mode_is_flattened_onto_white(
    mode: str, transparent: object, target: str
) -> None:
    """PNG lets every mode without an alpha band name a transparent colour; a mode-"1" one made
    the fit step raise on save ("transparency for RGB must be list or tuple")."""
    buffer = io.BytesIO()
    Image.new(mode, (64, 48)).save(buffer, "PNG", transparency=transparent)  # all transparent
    limits = ImageLimits(frozenset({target}), 5_000_000, 4096, 4096, 8, 8, rgb_only=True)
    fitted = fit(buffer.getvalue(), limits, vendor_label="V")
    picture = open_image(fitted.image.data)
    assert picture.mode == "RGB"
    assert picture.getpixel((5, 5)) == (255, 255, 255)
    assert any("Flattened transparency" in note for note in fitted.notes)
    for fmt in ("PNG", "JPEG", "WEBP"):
        assert open_image(convert(buffer.getvalue(), fmt, 90)).size == (64, 48)


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        (ValueError("cannot use transparency for this mode"), True),
        (OSError("cannot write mode PA as JPEG"), True),
        (OSError(28, "No space left on device"), False),  # the disk's, not the photo's
    ],
)
def test_pillow_failing_on_a_decoded_photo_is_a_refusal_of_the_photo(
    monkeypatch: pytest.MonkeyPatch, error: Exception, refused: bool
) -> None:
    def encode(*args: object, **kwargs: object) -> bytes:
        raise error

    monkeypatch.setattr(images, "_encode", encode)
    limits = ImageLimits(frozenset({"JPEG"}), 5_000_000, 1000, 1000, 8, 8)
    data = make_image((64, 48), fmt="PNG")  # a PNG for a JPEG-only vendor: re-encoded
    if refused:
        with pytest.raises(ImageRejected, match="could not be processed"):
            fit(data, limits, vendor_label="Fake")
    else:
        with pytest.raises(OSError, match="No space left") as raised:
            fit(data, limits, vendor_label="Fake")
        assert raised.value is error
