"""Pillow work: header checks, fitting photos to a vendor's limits, masks.

Fitting never touches a photo that already fits: its original bytes go to the vendor as they
are. Otherwise it applies the EXIF orientation, converts to 8-bit RGB when the endpoint wants
RGB, scales down to the pixel bounds and recompresses until the byte limit holds, and says what
it did in plain words so the person can be told.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import IO

from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from editor.vendors.base import ImageLimits, InputImage

# Anything bigger is refused before decoding: 100 megapixels (a 48 MP phone photo fits twice).
MAX_PIXELS = 100_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
TOO_MANY_PIXELS = (
    f"This image has too many pixels (the limit is {MAX_PIXELS // 1_000_000} megapixels)."
)

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
ORIENTATION_TAG = 0x0112


class ImageRejected(ValueError):
    """The file cannot be used; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class Fitted:
    image: InputImage
    width: int
    height: int
    notes: tuple[str, ...] = field(default=())


def _open(stream: IO[bytes]) -> Image.Image:
    """Open lazily (header only) and refuse what we will not decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageRejected(_("This file is not an image we can read.")) from None
    if image.width < 1 or image.height < 1 or image.width * image.height > MAX_PIXELS:
        raise ImageRejected(TOO_MANY_PIXELS)
    if image.format not in MEDIA_TYPES:
        raise ImageRejected(
            f"{image.format or 'This'} images are not supported; use JPEG, PNG or WebP."
        )
    return image


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ORIENTATION_TAG, 1))
    except (ValueError, TypeError, OSError):
        return 1


def _to_rgb(image: Image.Image, notes: list[str]) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in {"I;16", "I;16B", "I;16L", "I"}:
        # 16-bit grayscale: scale down to 8 bits rather than clipping at 255.
        notes.append(_("Converted from 16-bit to 8-bit color."))
        image = image.point(lambda value: value / 256).convert("L")
        mode = "L"
    if "A" in mode or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append(_("Flattened transparency onto white (the vendor needs RGB)."))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        notes.append(_("Converted from CMYK to RGB."))
    elif mode not in {"L", "P", "1"}:
        notes.append(f"Converted from {mode} to RGB.")
    return image.convert("RGB")


def _encode(image: Image.Image, fmt: str, quality: int, icc: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if fmt == "JPEG":
        options.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    elif fmt == "WEBP":
        options.update(quality=quality, method=4)
    else:
        options.update(optimize=False, compress_level=6)
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def fit(data: bytes, limits: ImageLimits, *, vendor_label: str, filename: str = "image") -> Fitted:
    """Make ``data`` acceptable to an endpoint with ``limits``, or say why it cannot be."""
    image = _open(io.BytesIO(data))
    source_format = image.format or "JPEG"
    width, height = image.size
    if width < limits.min_width or height < limits.min_height:
        raise ImageRejected(
            f"This image is {width}×{height} pixels; {vendor_label} needs at least "
            f"{limits.min_width}×{limits.min_height}."
        )
    frames = getattr(image, "n_frames", 1)
    oriented = _orientation(image) != 1
    needs_rgb = limits.rgb_only and image.mode != "RGB"
    too_big = width > limits.max_width or height > limits.max_height
    if too_big and source_format == "JPEG":
        # Let libjpeg decode at a reduced scale: far less memory and time on huge photos.
        image.draft("RGB", (limits.max_width, limits.max_height))
    try:
        # Decode fully even when the file fits: a damaged photo must not cost vendor credits.
        image.load()
    except (OSError, ValueError, SyntaxError):
        raise ImageRejected(_("This image is damaged or incomplete.")) from None
    if (
        source_format in limits.formats
        and len(data) <= limits.max_bytes
        and frames == 1
        and not oriented
        and not needs_rgb
        and not too_big
    ):
        return Fitted(
            InputImage(data, MEDIA_TYPES[source_format], f"{filename}.{EXTENSIONS[source_format]}"),
            width,
            height,
        )

    notes: list[str] = []
    icc = image.info.get("icc_profile") if image.mode != "CMYK" else None
    if frames > 1:
        notes.append(_("Used the first frame of an animated image."))
    if oriented:
        image = ImageOps.exif_transpose(image)
        notes.append(_("Rotated upright using the photo's orientation tag."))
    if limits.rgb_only or image.mode not in {"RGB", "RGBA", "L"}:
        image = _to_rgb(image, notes)

    if image.width > limits.max_width or image.height > limits.max_height:
        image.thumbnail((limits.max_width, limits.max_height), Image.Resampling.LANCZOS)
    if (image.width, image.height) != (width, height) and not (
        oriented and (image.height, image.width) == (width, height)
    ):
        notes.append(
            f"Scaled down from {width}×{height} to {image.width}×{image.height} pixels "
            f"to fit {vendor_label}'s limit of {limits.max_width}×{limits.max_height}."
        )

    target = source_format if source_format in limits.formats else _fallback_format(limits)
    if target == "JPEG" and image.mode not in {"RGB", "L"}:
        image = _to_rgb(image, notes)
    quality = 95
    encoded = _encode(image, target, quality, icc)
    while len(encoded) > limits.max_bytes:
        if target == "PNG" and "JPEG" in limits.formats and image.mode in {"RGB", "L"}:
            target = "JPEG"
            notes.append(_("Saved as JPEG to fit the vendor's file size limit."))
        elif target in {"JPEG", "WEBP"} and quality > 80:
            quality -= 5
        else:
            image = image.resize(
                (
                    max(limits.min_width, int(image.width * 0.85)),
                    max(limits.min_height, int(image.height * 0.85)),
                ),
                Image.Resampling.LANCZOS,
            )
            if image.width <= limits.min_width or image.height <= limits.min_height:
                raise ImageRejected(
                    f"This image cannot be made small enough for {vendor_label}'s "
                    f"{limits.max_bytes // 1_000_000} MB limit."
                )
        encoded = _encode(image, target, quality, icc)
    if len(data) > limits.max_bytes:
        notes.append(
            f"Recompressed from {len(data) / 1_000_000:.1f} MB to "
            f"{len(encoded) / 1_000_000:.1f} MB to fit {vendor_label}'s "
            f"{limits.max_bytes / 1_000_000:.0f} MB limit."
        )
    if source_format not in limits.formats:
        notes.append(f"Converted from {source_format} to {target}.")
    return Fitted(
        InputImage(encoded, MEDIA_TYPES[target], f"{filename}.{EXTENSIONS[target]}"),
        image.width,
        image.height,
        tuple(dict.fromkeys(notes)),
    )


def _fallback_format(limits: ImageLimits) -> str:
    for candidate in ("JPEG", "PNG", "WEBP"):
        if candidate in limits.formats:
            return candidate
    raise ValueError("limits allow no format we can write")


def fit_mask(data: bytes, size: tuple[int, int]) -> InputImage:
    """A mask as the vendor wants it: grayscale PNG at exactly the photo's resolution
    (AILabTools refuses any other size with ERROR_MASK_IMAGE_RESOLUTION_MISMATCH)."""
    mask = _open(io.BytesIO(data))
    try:
        mask = ImageOps.exif_transpose(mask)
        if "A" in mask.mode:
            # A painted mask: the strokes are where alpha is set.
            mask = mask.getchannel("A")
        mask = mask.convert("L")
    except (OSError, ValueError):
        raise ImageRejected(_("The mask is damaged or incomplete.")) from None
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
    mask = mask.point(lambda value: 255 if value >= 128 else 0)
    buffer = io.BytesIO()
    mask.save(buffer, "PNG", optimize=True)
    return InputImage(buffer.getvalue(), "image/png", "mask.png")


def format_of(data: bytes) -> str:
    """The Pillow format name of JPEG, PNG or WebP bytes, from their magic bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return ""


THUMBNAIL_SIZE = (480, 480)


@dataclass(frozen=True)
class Thumbnail:
    thumbnail: bytes
    width: int
    height: int


def thumbnail(data: bytes) -> Thumbnail:
    """A JPEG thumbnail of a result, and the result's own size. JPEGs decode at a reduced
    scale first (draft), so a 48-megapixel result costs a fraction of a full decode."""
    image = _open(io.BytesIO(data))
    width, height = image.size
    image.draft("RGB", THUMBNAIL_SIZE)
    image = ImageOps.exif_transpose(image)
    if image.mode not in {"RGB", "L"}:
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image).convert("RGB")
    image.thumbnail(THUMBNAIL_SIZE, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return Thumbnail(buffer.getvalue(), width, height)


@dataclass(frozen=True)
class Header:
    format: str
    width: int
    height: int


def check_upload(upload: IO[bytes]) -> Header:
    """Cheap checks from the header only (no decoding): a format we accept, sane dimensions,
    no decompression bomb. Raises ImageRejected with a message for the form."""
    upload.seek(0)
    try:
        image = _open(upload)
        return Header(image.format or "", image.width, image.height)
    finally:
        upload.seek(0)
