"""What leaves the studio: ``metadata.strip_metadata`` (the original file, pixels untouched) and
``images.convert`` (a copy as PNG, JPEG or WebP) drop EXIF, GPS, XMP and comments and keep the
ICC color profile."""

from __future__ import annotations

import io
import warnings
import zlib
from collections.abc import Callable

import pytest
from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from editor import images, metadata
from tests.images import (
    HTML_TAIL,
    ORIENTATION,
    SRGB,
    XMP,
    camera_jpeg,
    cut_jpeg,
    encode,
    exif,
    has_gps,
    lying_jpeg,
    make_image,
    open_image,
    picture,
    png_cut_data,
    png_with_bad_crc,
    private_metadata,
    zip_tail,
)


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


def near(color: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return all(abs(a - b) <= 3 for a, b in zip(color, expected, strict=True))


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of each segment up to the first scan."""
    segments, position = [], 2
    while True:
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segments.append((marker, data[position + 4 : position + 2 + length]))
        if marker == 0xDA:
            return segments
        position += 2 + length


def jpeg_scan(data: bytes) -> bytes:
    """Everything from the first start-of-scan marker to the end-of-image marker."""
    return data[data.index(b"\xff\xda") : data.rindex(b"\xff\xd9") + 2]


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        crc = int.from_bytes(data[position + 8 + length : position + 12 + length], "big")
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        position += 12 + length
    return chunks


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WEBP"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8
    chunks, position = [], 12
    while position < len(data):
        kind = data[position : position + 4]
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 8 + length + length % 2
    return chunks


# --- strip_metadata: JPEG -------------------------------------------------------------------


def test_jpeg_loses_gps_exif_xmp_and_comment_but_keeps_pixels_and_profile() -> None:
    original = camera_jpeg(orientation=None)
    assert has_gps(original)  # the test photo really carries a position
    stripped = metadata.strip_metadata(original)

    assert not has_gps(stripped)
    assert b"Exif\0\0" not in stripped
    assert b"PhoneCorp" not in stripped
    assert b"Secret place" not in stripped
    assert b"shot at home" not in stripped
    kept = open_image(stripped)
    assert kept.info["icc_profile"] == SRGB
    assert "comment" not in kept.info
    assert "xmp" not in kept.info
    # The compressed pixels are the very same bytes, and so decode the same.
    assert jpeg_scan(stripped) == jpeg_scan(original)
    assert kept.tobytes() == open_image(original).tobytes()
    markers = [marker for marker, _payload in jpeg_segments(stripped)]
    assert 0xE1 not in markers
    assert 0xFE not in markers


def test_jpeg_orientation_survives_as_the_only_exif_tag() -> None:
    original = camera_jpeg(orientation=6)
    stripped = metadata.strip_metadata(original)
    tags = Image.open(io.BytesIO(stripped)).getexif()
    assert dict(tags) == {ORIENTATION: 6}
    assert not has_gps(stripped)
    # Displayed upright exactly as the original was: rotated by its tag.
    assert ImageOps.exif_transpose(open_image(stripped)).size == (64, 96)
    assert jpeg_scan(stripped) == jpeg_scan(original)
    # The new EXIF comes right after JFIF, where readers look for it.
    markers = [marker for marker, _payload in jpeg_segments(stripped)]
    assert markers[:2] == [0xE0, 0xE1]


def test_jpeg_orientation_1_needs_no_exif() -> None:
    stripped = metadata.strip_metadata(camera_jpeg(orientation=1))
    assert b"Exif\0\0" not in stripped


def test_progressive_jpeg_scans_are_copied_whole() -> None:
    original = camera_jpeg(progressive=True)
    stripped = metadata.strip_metadata(original)
    assert jpeg_scan(stripped) == jpeg_scan(original)
    assert open_image(stripped).tobytes() == open_image(original).tobytes()
    assert not has_gps(stripped)


def test_a_large_icc_profile_split_over_several_segments_is_kept() -> None:
    profile = SRGB + b"\0" * 140_000  # more than one 64 KB APP2 segment
    original = encode(picture(), "JPEG", icc_profile=profile, exif=exif())
    stripped = metadata.strip_metadata(original)
    assert open_image(stripped).info["icc_profile"] == profile
    assert sum(1 for marker, _p in jpeg_segments(stripped) if marker == 0xE2) == 3


def test_data_after_the_end_of_the_jpeg_is_left_out() -> None:
    # Multi-picture files hide extra images (with their own EXIF) after the first one.
    original = camera_jpeg() + camera_jpeg(orientation=None)
    stripped = metadata.strip_metadata(original)
    assert stripped.endswith(b"\xff\xd9")
    assert stripped.count(b"\xff\xd8") == 1
    assert b"PhoneCorp" not in stripped


def test_restart_markers_and_adobe_segment_survive() -> None:
    cmyk = encode(picture(mode="CMYK"), "JPEG", quality=90, exif=exif(), restart_marker_rows=1)
    stripped = metadata.strip_metadata(cmyk)
    markers = [marker for marker, _payload in jpeg_segments(stripped)]
    assert 0xEE in markers  # Adobe: how to read the CMYK pixels
    assert 0xDD in markers  # restart interval
    assert jpeg_scan(stripped) == jpeg_scan(cmyk)
    assert open_image(stripped).tobytes() == open_image(cmyk).tobytes()


# --- strip_metadata: PNG and WebP -----------------------------------------------------------


def camera_png(orientation: int | None = 8) -> bytes:
    info = PngInfo()
    info.add_text("Comment", "shot at home")
    info.add_text("Location", "Secret place", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    return encode(picture(), "PNG", exif=exif(orientation), icc_profile=SRGB, pnginfo=info)


def test_png_loses_exif_and_text_but_keeps_pixels_and_profile() -> None:
    original = camera_png(orientation=None)
    assert has_gps(original)
    stripped = metadata.strip_metadata(original)
    kinds = [kind for kind, _body in png_chunks(stripped)]
    assert not {b"eXIf", b"tEXt", b"zTXt", b"iTXt"} & set(kinds)
    assert b"iCCP" in kinds
    assert not has_gps(stripped)
    assert b"Secret place" not in stripped
    assert b"PhoneCorp" not in stripped
    kept = open_image(stripped)
    assert kept.info["icc_profile"] == SRGB
    data = [body for kind, body in png_chunks(stripped) if kind == b"IDAT"]
    assert data == [body for kind, body in png_chunks(original) if kind == b"IDAT"]
    assert kept.tobytes() == open_image(original).tobytes()


def test_png_orientation_survives_before_the_image_data() -> None:
    stripped = metadata.strip_metadata(camera_png(orientation=8))
    kinds = [kind for kind, _body in png_chunks(stripped)]
    assert kinds.index(b"eXIf") < kinds.index(b"IDAT")
    assert dict(open_image(stripped).getexif()) == {ORIENTATION: 8}


def camera_webp(orientation: int | None = 3, **options: object) -> bytes:
    return encode(
        picture(), "WEBP", quality=80, exif=exif(orientation), xmp=XMP, icc_profile=SRGB, **options
    )


def test_webp_loses_exif_and_xmp_and_fixes_the_header() -> None:
    original = camera_webp(orientation=None)
    assert has_gps(original)
    stripped = metadata.strip_metadata(original)
    chunks = webp_chunks(stripped)  # checks the RIFF size too
    kinds = [kind for kind, _body in chunks]
    assert b"EXIF" not in kinds
    assert b"XMP " not in kinds
    assert kinds[:2] == [b"VP8X", b"ICCP"]
    flags = chunks[0][1][0]
    assert flags & 0x08 == 0  # no EXIF
    assert flags & 0x04 == 0  # no XMP
    assert flags & 0x20  # the ICC profile is still announced
    assert not has_gps(stripped)
    assert b"Secret place" not in stripped
    kept = open_image(stripped)
    assert kept.info["icc_profile"] == SRGB
    image_data = [body for kind, body in chunks if kind in {b"VP8 ", b"VP8L"}]
    assert image_data == [
        body for kind, body in webp_chunks(original) if kind in {b"VP8 ", b"VP8L"}
    ]
    assert kept.tobytes() == open_image(original).tobytes()


def test_webp_orientation_survives() -> None:
    stripped = metadata.strip_metadata(camera_webp(orientation=3))
    chunks = webp_chunks(stripped)
    assert chunks[0][1][0] & 0x08
    assert dict(Image.open(io.BytesIO(stripped)).getexif()) == {ORIENTATION: 3}
    assert not has_gps(stripped)


def test_a_simple_webp_has_nothing_to_strip() -> None:
    original = make_image(fmt="WEBP", quality=70)
    assert webp_chunks(original)[0][0] in {b"VP8 ", b"VP8L"}
    assert metadata.strip_metadata(original) == original


def test_an_animated_webp_keeps_its_frames() -> None:
    frames = [picture(), picture().rotate(180)]
    original = encode(
        frames[0], "WEBP", save_all=True, append_images=frames[1:], exif=exif(), lossless=True
    )
    stripped = metadata.strip_metadata(original)
    assert getattr(Image.open(io.BytesIO(stripped)), "n_frames", 1) == 2
    assert not has_gps(stripped)


# --- strip_metadata: what it refuses -------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not an image at all", id="text"),
        pytest.param(make_image(fmt="GIF"), id="gif"),
        pytest.param(camera_jpeg()[:2000], id="jpeg-cut-in-the-scan"),
        pytest.param(camera_jpeg()[:30], id="jpeg-cut-in-a-segment"),
        pytest.param(camera_png()[:-30], id="png-without-end"),
        pytest.param(camera_webp()[:-40], id="webp-short-of-its-riff-size"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 40, id="jpeg-garbage"),
    ],
)
def test_damaged_or_unknown_files_are_rejected_with_a_message(data: bytes) -> None:
    with pytest.raises(images.ImageRejected) as rejected:
        metadata.strip_metadata(data)
    assert str(rejected.value)


def huge_png() -> bytes:
    """A valid PNG header announcing far more pixels than we accept (a decompression bomb)."""
    header = (30_000).to_bytes(4, "big") * 2 + bytes((8, 2, 0, 0, 0))
    pixels = zlib.compress(b"\0" * 100)
    return (
        b"\x89PNG\r\n\x1a\n"
        + metadata._png_chunk(b"IHDR", header)
        + metadata._png_chunk(b"IDAT", pixels)
        + metadata._png_chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_refused_before_any_work() -> None:
    with pytest.raises(images.ImageRejected, match="too many pixels"):
        metadata.strip_metadata(huge_png())
    with pytest.raises(images.ImageRejected, match="too many pixels"):
        images.convert(huge_png(), "JPEG", 90)


# --- convert ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.parametrize("source", ["JPEG", "PNG", "WEBP"])
def test_a_converted_copy_is_upright_with_its_profile_and_no_exif(fmt: str, source: str) -> None:
    makers: dict[str, Callable[[], bytes]] = {
        "JPEG": camera_jpeg,
        "PNG": camera_png,
        "WEBP": camera_webp,
    }
    original = makers[source]()
    assert has_gps(original)
    converted = images.convert(original, fmt, 85)
    image = open_image(converted)
    assert image.format == fmt
    assert images.format_of(converted) == fmt
    assert image.size == ((96, 64) if source == "WEBP" else (64, 96))  # rotated 180° or 90°
    assert image.info.get("icc_profile") == SRGB
    assert not image.getexif()
    assert "xmp" not in image.info
    assert "comment" not in image.info
    assert b"Secret place" not in converted
    assert b"shot at home" not in converted


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_quality_sets_the_size_of_lossy_copies(fmt: str) -> None:
    original = encode(picture((320, 240)), "PNG")
    low, high = images.convert(original, fmt, 20), images.convert(original, fmt, 95)
    assert len(low) < len(high)


def test_png_is_lossless_whatever_the_quality() -> None:
    original = encode(picture(), "PNG")
    for quality in (1, 100):
        assert open_image(images.convert(original, "PNG", quality)).tobytes() == (
            open_image(original).tobytes()
        )


def test_transparency_lands_on_white_in_a_jpeg_and_stays_in_png_and_webp() -> None:
    clear = Image.new("RGBA", (40, 30), (255, 0, 0, 0))
    clear.paste((0, 0, 255, 255), (0, 0, 20, 30))
    original = encode(clear, "PNG")
    jpeg = open_image(images.convert(original, "JPEG", 95))
    assert jpeg.mode == "RGB"
    assert near(pixel(jpeg, (35, 15)), (255, 255, 255))
    assert near(pixel(jpeg, (5, 15)), (0, 0, 255))
    png = open_image(images.convert(original, "PNG", 90))
    assert png.mode == "RGBA"
    assert pixel(png, (35, 15))[3] == 0
    webp = open_image(images.convert(original, "WEBP", 90))
    assert webp.mode == "RGBA"
    assert pixel(webp, (35, 15))[3] == 0


def test_a_palette_png_with_transparency_converts_everywhere() -> None:
    palette = picture().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    original = encode(palette, "PNG", transparency=0)
    assert open_image(images.convert(original, "PNG", 90)).info.get("transparency") == 0
    assert open_image(images.convert(original, "JPEG", 90)).mode == "RGB"
    assert open_image(images.convert(original, "WEBP", 90)).mode == "RGBA"


def test_cmyk_stays_cmyk_in_jpeg_and_becomes_rgb_elsewhere() -> None:
    original = encode(picture(mode="CMYK"), "JPEG", quality=95)
    assert open_image(images.convert(original, "JPEG", 90)).mode == "CMYK"
    for fmt in ("PNG", "WEBP"):
        assert open_image(images.convert(original, fmt, 90)).mode == "RGB"


def test_a_profile_that_no_longer_fits_the_pixels_is_dropped() -> None:
    # An RGB profile on gray pixels: the PNG copy keeps the pixels gray, where the profile
    # would mislead viewers; the WebP copy stores them as RGB, which the profile describes.
    original = encode(picture(mode="L"), "PNG", icc_profile=SRGB)
    assert "icc_profile" not in open_image(images.convert(original, "PNG", 90)).info
    assert open_image(images.convert(original, "WEBP", 90)).info.get("icc_profile") == SRGB


def test_convert_refuses_damaged_files_and_formats_it_does_not_offer() -> None:
    with pytest.raises(images.ImageRejected):
        images.convert(camera_jpeg()[:2000], "PNG", 90)
    with pytest.raises(images.ImageRejected):
        images.convert(b"nonsense", "PNG", 90)
    with pytest.raises(ValueError, match="GIF"):
        images.convert(camera_jpeg(), "GIF", 90)
    with pytest.raises(ValueError, match="quality"):
        images.convert(camera_jpeg(), "JPEG", 0)


# --- clean_upload: what the studio keeps of an upload ---------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        lying_jpeg(),
        lying_jpeg((6000, 4000), progressive=True),  # under a progressive JPEG's pixel cap
        lying_jpeg((4000, 3000), (320, 240)),
        cut_jpeg(0.5),
        cut_jpeg(0.9),
        png_cut_data(),
    ],
    ids=["jpeg-10000x10000", "progressive", "jpeg-4000x3000", "jpeg-cut-half", "cut-90", "png"],
)
def test_a_picture_its_data_does_not_cover_is_refused(data: bytes) -> None:
    # What libjpeg makes of these without a word: the missing part padded out with flat gray.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if data.startswith(b"\xff\xd8"):
            padded = open_image(data)
            corner = padded.getpixel((padded.width - 1, padded.height - 1))
            assert corner == (128, 128, 128)
    with pytest.raises(images.ImageRejected, match="its data ends before the picture does"):
        metadata.clean_upload(data)


def test_a_png_that_fails_a_checksum_is_refused() -> None:
    data = png_with_bad_crc()
    open_image(data)  # Pillow decodes it without complaint
    with pytest.raises(images.ImageRejected, match="a checksum in the file does not match"):
        metadata.clean_upload(data)


@pytest.mark.parametrize(
    "data",
    [
        encode(picture(), "JPEG"),
        encode(picture((333, 211)), "JPEG", progressive=True),
        encode(picture((200, 120)), "JPEG", quality=50, subsampling=2),
        encode(picture().convert("L"), "JPEG"),
        encode(picture().convert("CMYK"), "JPEG"),
        encode(picture((64, 48)), "PNG"),
        encode(picture((67, 45)), "PNG", interlace=1),
        encode(picture((67, 45)).convert("P"), "PNG"),
        encode(picture((67, 45)).convert("1"), "PNG"),
        encode(picture(), "WEBP", quality=80),
        encode(picture(), "WEBP", lossless=True),
    ],
)
def test_whole_pictures_without_metadata_are_kept_byte_for_byte(data: bytes) -> None:
    assert metadata.clean_upload(data) == data


def test_restart_markers_do_not_end_the_scan_early() -> None:
    data = encode(picture((200, 120)), "JPEG", restart_marker_blocks=1)
    assert b"\xff\xd0" in data
    assert metadata.clean_upload(data) == data


def jfxx_thumbnail(jpeg: bytes) -> bytes:
    """``jpeg`` with a JFIF extension segment (APP0, kept by stripping) holding a whole small
    JPEG, end-of-image marker included, right after its start-of-image marker."""
    thumbnail = encode(picture((32, 24)), "JPEG")
    payload = b"JFXX\0\x10" + thumbnail
    return jpeg[:2] + b"\xff\xe0" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


@pytest.mark.parametrize(
    ("image", "tail"),
    [
        (encode(picture(), "JPEG"), zip_tail()),
        (encode(picture(), "JPEG"), HTML_TAIL),
        (jfxx_thumbnail(encode(picture(), "JPEG")), zip_tail()),
        (encode(picture(), "PNG"), HTML_TAIL),
        (encode(picture(), "WEBP"), HTML_TAIL),
    ],
    ids=["jpeg+zip", "jpeg+html", "jpeg-with-thumbnail+zip", "png+html", "webp+html"],
)
def test_what_follows_the_end_of_the_picture_is_cut_off(image: bytes, tail: bytes) -> None:
    kept = metadata.clean_upload(image + tail)
    # The picture's own bytes, all of them and nothing else: not re-encoded.
    assert kept == image
    assert b"script" not in kept


def test_an_upload_loses_gps_serial_comment_and_xmp_but_keeps_profile_and_orientation() -> None:
    original = camera_jpeg(orientation=6)
    assert private_metadata(original) == {"gps", "serial", "comment", "xmp"}
    kept = metadata.clean_upload(original + zip_tail())
    assert private_metadata(kept) == set()
    image = open_image(kept)
    assert image.info["icc_profile"] == SRGB
    assert dict(image.getexif()) == {ORIENTATION: 6}
    assert jpeg_scan(kept) == jpeg_scan(original)
    assert image.tobytes() == open_image(original).tobytes()


def test_a_png_upload_loses_its_text_and_exif_but_keeps_its_profile() -> None:
    info = PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    original = encode(picture(), "PNG", pnginfo=info, exif=exif(8), icc_profile=SRGB)
    kept = metadata.clean_upload(original)
    assert private_metadata(kept) == set()
    assert b"script" not in kept
    image = open_image(kept)
    assert image.info["icc_profile"] == SRGB
    assert dict(image.getexif()) == {ORIENTATION: 8}
