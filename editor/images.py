"""Pillow work: header checks, fitting photos to a vendor's limits, masks, thumbnails, and the
copies people download.

Fitting never touches a photo that already fits: its original bytes go to the vendor as they
are. Otherwise it applies the EXIF orientation, converts to 8-bit RGB when the endpoint wants
RGB, scales down to the pixel bounds and recompresses until the byte limit holds, and says what
it did in plain words so the person can be told.

Anything that leaves the studio as a download carries no EXIF (so no GPS position, camera serial
or time), no XMP and no text comments, but keeps its ICC color profile: ``strip_metadata`` does
it to the original file without touching the pixels, ``convert`` while re-encoding.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from typing import IO

from django.utils.translation import gettext as _
from PIL import Image, ImageCms, UnidentifiedImageError

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


# What Pillow may raise on a damaged EXIF block, reading it or writing it back.
EXIF_ERRORS = (ValueError, TypeError, OSError, SyntaxError, KeyError, IndexError, struct.error)
# EXIF orientation -> the turn that makes the picture upright (as in ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Where Pillow finds an orientation: EXIF (JPEG, WebP, PNG eXIf or text chunk) and XMP.
ORIENTATION_SOURCES = ("exif", "Raw profile type exif", "XML:com.adobe.xmp", "xmp")


def _orientation(image: Image.Image) -> int:
    """The photo's orientation (2-8), or 1 when it has none or none we can read."""
    try:
        value = int(image.getexif().get(ORIENTATION_TAG, 1))
    except EXIF_ERRORS:
        return 1
    return value if value in UPRIGHT else 1


def _upright(image: Image.Image) -> Image.Image:
    """The picture turned as its orientation tag says, or ``image`` itself when it has none.

    Used instead of ``ImageOps.exif_transpose``, which writes the EXIF block back without the
    tag and raises (struct.error, TypeError) when one of its tags is stored with the wrong
    type, as some cameras and editors do: a damaged EXIF block must never fail a job or a
    download. Here an orientation we cannot read counts as none, and the block is only read.
    The turned copy keeps no EXIF or XMP: its orientation no longer applies, and nothing the
    studio saves carries them."""
    turn = UPRIGHT.get(_orientation(image))
    if turn is None:
        return image
    upright = image.transpose(turn)
    for key in ORIENTATION_SOURCES:
        upright.info.pop(key, None)
    return upright


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
        # Effort 2 of 6: on a 48 MP photo it is ten times faster than libwebp's default (4) for a
        # file within 0.1 % of its size (make bench). Efforts 0 and 1 overflow the first
        # partition on pictures that big, so a refusal falls back to the default.
        options.update(quality=quality, method=2)
    else:
        options.update(optimize=False, compress_level=6)
    try:
        image.save(buffer, fmt, **options)
    except ValueError:
        if fmt != "WEBP":
            raise
        buffer = io.BytesIO()
        image.save(buffer, fmt, **{**options, "method": 4})
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
    needs_rgb = limits.rgb_only and image.mode != "RGB"
    too_big = width > limits.max_width or height > limits.max_height
    if too_big and source_format == "JPEG":
        # Let libjpeg decode at a reduced scale: far less memory and time on huge photos.
        image.draft("RGB", (limits.max_width, limits.max_height))
    try:
        # Decode fully even when the file fits: a damaged photo must not cost vendor credits.
        # Before reading the orientation: reading a PNG's EXIF decodes it, and Pillow forgets
        # a failed decode, so a later load() would pass a damaged PNG as it is.
        image.load()
    except (OSError, ValueError, SyntaxError):
        raise ImageRejected(_("This image is damaged or incomplete.")) from None
    frames = getattr(image, "n_frames", 1)
    oriented = _orientation(image) != 1
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
        image = _upright(image)
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
        mask = _upright(mask)
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


def _damaged() -> ImageRejected:
    return ImageRejected(_("This image is damaged or incomplete."))


def _orientation_of(exif: bytes | None) -> int:
    """The Orientation tag of raw EXIF (with or without the ``Exif\\0\\0`` prefix), 1 if none."""
    if not exif:
        return 1
    parsed = Image.Exif()
    try:
        parsed.load(exif)
        value = int(parsed.get(ORIENTATION_TAG, 1))
    except EXIF_ERRORS:
        return 1
    return value if value in UPRIGHT else 1


def _orientation_exif(orientation: int) -> bytes:
    """A minimal TIFF structure holding only the Orientation tag (no ``Exif`` prefix)."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()[len(b"Exif\0\0") :]


# JPEG segments that stay: JFIF (APP0), the ICC profile (APP2 "ICC_PROFILE") and Adobe (APP14,
# which says how to read CMYK/YCCK pixels). Every other APPn (Exif and XMP in APP1, MPF, IPTC in
# APP13...) and comments (COM) go. Markers that are not APPn or COM describe the pixels: kept.
_JPEG_ICC = b"ICC_PROFILE\0"


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xFE:
        return False
    if 0xE0 <= marker <= 0xEF:
        return marker in {0xE0, 0xEE} or (marker == 0xE2 and payload.startswith(_JPEG_ICC))
    return True


def _strip_jpeg(data: bytes) -> bytes:
    """Copy the segments that describe the pixels and the color profile; the compressed scan
    data is copied byte for byte. Whatever follows the end-of-image marker (the extra pictures
    of a multi-picture file, which carry their own EXIF) is left out."""
    size = len(data)
    kept: list[bytes] = [b"\xff\xd8"]
    exif_at: int | None = None
    exif: bytes | None = None
    position = 2
    while True:
        if position >= size or data[position] != 0xFF:
            raise _damaged()
        while position < size and data[position] == 0xFF:  # fill bytes before a marker
            position += 1
        if position >= size:
            raise _damaged()
        marker = data[position]
        position += 1
        if marker == 0xD9:  # end of image
            kept.append(b"\xff\xd9")
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # restart markers, TEM: no length
            kept.append(bytes((0xFF, marker)))
            continue
        if marker in {0x00, 0xD8} or position + 2 > size:
            raise _damaged()
        length = int.from_bytes(data[position : position + 2], "big")
        end = position + length
        if length < 2 or end > size:
            raise _damaged()
        payload = data[position + 2 : end]
        if exif_at is None and marker != 0xE0:
            exif_at = len(kept)  # a new EXIF goes after JFIF, before everything else
        if marker == 0xE1 and exif is None and payload.startswith(b"Exif\0\0"):
            exif = payload
        if _keep_jpeg_segment(marker, payload):
            kept.append(data[position - 2 : end])
        position = end
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next real marker
            scan = position
            while True:
                found = data.find(b"\xff", scan)
                if found < 0 or found + 1 >= size:
                    raise _damaged()
                following = data[found + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte, restart
                    scan = found + 2
                    continue
                break
            kept.append(data[position:found])
            position = found
    orientation = _orientation_of(exif)
    if orientation != 1:
        payload = b"Exif\0\0" + _orientation_exif(orientation)
        segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
        kept.insert(exif_at if exif_at is not None else 1, segment)
    return b"".join(kept)


# PNG chunks that go: EXIF, the three kinds of text (which hold XMP, comments, camera and
# software notes) and the last-modified time. Everything else, iCCP included, stays.
_PNG_DROPPED = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"})


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _strip_png(data: bytes) -> bytes:
    size = len(data)
    kept: list[bytes] = [data[:8]]
    exif: bytes | None = None
    position = 8
    while True:
        if position + 12 > size:
            raise _damaged()
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > size or (position == 8 and kind != b"IHDR"):
            raise _damaged()
        if kind not in _PNG_DROPPED:
            kept.append(data[position:end])
        elif kind == b"eXIf" and exif is None:
            exif = data[position + 8 : end - 4]
        position = end
        if kind == b"IEND":
            break
    orientation = _orientation_of(exif)
    if orientation != 1:
        # Right after IHDR: eXIf must come before the image data.
        kept.insert(2, _png_chunk(b"eXIf", _orientation_exif(orientation)))
    return b"".join(kept)


# VP8X flags (https://developers.google.com/speed/webp/docs/riff_container#extended_file_format).
_WEBP_EXIF_FLAG = 0x08
_WEBP_XMP_FLAG = 0x04


def _webp_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + len(body).to_bytes(4, "little") + body + (b"\0" if len(body) % 2 else b"")


def _strip_webp(data: bytes) -> bytes:
    if len(data) < 12:
        raise _damaged()
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > len(data) or riff_end < 12:
        raise _damaged()
    chunks: list[tuple[bytes, bytes]] = []
    exif: bytes | None = None
    position = 12
    while position < riff_end:
        if position + 8 > riff_end:
            raise _damaged()
        kind = data[position : position + 4]
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        end = position + 8 + length
        if end > riff_end:
            raise _damaged()
        body = data[position + 8 : end]
        if kind == b"EXIF":
            exif = exif if exif is not None else body
        elif kind != b"XMP ":
            chunks.append((kind, body))
        position = end + length % 2
    if not chunks:
        raise _damaged()
    orientation = _orientation_of(exif)
    if chunks[0][0] == b"VP8X" and len(chunks[0][1]) >= 10:
        header = bytearray(chunks[0][1])
        header[0] &= ~(_WEBP_EXIF_FLAG | _WEBP_XMP_FLAG) & 0xFF
        if orientation != 1:
            header[0] |= _WEBP_EXIF_FLAG
            chunks.append((b"EXIF", _orientation_exif(orientation)))
        chunks[0] = (b"VP8X", bytes(header))
    # A simple (lossy or lossless) WebP without VP8X cannot carry metadata at all: nothing to
    # keep, since a file that had an EXIF chunk there was not valid to begin with.
    body = b"WEBP" + b"".join(_webp_chunk(kind, chunk) for kind, chunk in chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def strip_metadata(data: bytes) -> bytes:
    """The same picture with its EXIF (GPS included), XMP and comments removed, by editing the
    file's container: the compressed pixels are copied byte for byte, never re-encoded, and the
    ICC color profile stays. A photo whose EXIF said to rotate it keeps an EXIF block with that
    one tag, so it displays as before (dropping the tag would turn it sideways; rotating the
    pixels would mean re-encoding the original). Raises ImageRejected for what we cannot read."""
    image = _open(io.BytesIO(data))  # header only: the format, and a sane size
    strip = {"JPEG": _strip_jpeg, "PNG": _strip_png, "WEBP": _strip_webp}[image.format or ""]
    return strip(data)


def _icc_space(icc: bytes | None) -> str:
    """The color space an ICC profile describes ('RGB', 'GRAY', 'CMYK'...), from its header."""
    if not icc or len(icc) < 20:
        return ""
    return icc[16:20].decode("ascii", "replace").strip()


def _space_of(mode: str) -> str:
    if mode == "CMYK":
        return "CMYK"
    if mode in {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"}:
        return "GRAY"
    return "RGB"


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """CMYK pixels in RGB, through their own profile when there is one (a plain conversion
    shifts printed colors noticeably); the result then carries an sRGB profile."""
    if _icc_space(icc) == "CMYK" and icc:
        try:
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(
                image, ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb, outputMode="RGB"
            )
            if converted is not None:
                return converted, srgb.tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the plain conversion below still gives a picture
    return image.convert("RGB"), None


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.mode or (image.mode == "P" and "transparency" in image.info)


# Modes each format stores as they are; anything else is converted first.
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"})
_JPEG_MODES = frozenset({"L", "RGB", "CMYK"})


def convert(data: bytes, fmt: str, quality: int) -> bytes:
    """The picture re-encoded as ``fmt`` (PNG, JPEG or WEBP), upright (EXIF orientation applied),
    with its ICC profile and without EXIF, XMP or comments. ``quality`` (1-100) is for JPEG and
    WebP; PNG is lossless. JPEG has no transparency, so transparent pixels land on white.
    Raises ImageRejected for what we cannot read; ValueError for a format or quality we do
    not offer (callers check those first)."""
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"cannot convert to {fmt!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality {quality} is not between 1 and 100")
    image = _open(io.BytesIO(data))
    try:
        image.load()  # the first frame of an animation
        image = _upright(image)
    except (OSError, ValueError, SyntaxError):
        raise _damaged() from None
    icc: bytes | None = image.info.get("icc_profile") or None
    notes: list[str] = []  # _to_rgb explains itself for the vendor's sake; not needed here
    if image.mode == "CMYK" and fmt != "JPEG":
        image, icc = _cmyk_to_rgb(image, icc)
    if fmt == "JPEG":
        if image.mode == "1":
            image = image.convert("L")
        elif image.mode not in _JPEG_MODES:
            image = _to_rgb(image, notes)
    elif fmt == "WEBP":
        if image.mode != "RGB" or _has_alpha(image):
            image = image.convert("RGBA") if _has_alpha(image) else _to_rgb(image, notes)
    elif image.mode not in _PNG_MODES:
        image = image.convert("RGBA") if _has_alpha(image) else _to_rgb(image, notes)
    if _icc_space(icc) != _space_of(image.mode):
        icc = None  # e.g. a gray profile on pixels now stored as RGB: it would mislead viewers
    # Savers read some options from the decoded file's info (PNG its profile and transparency,
    # JPEG its comment): keep only what the pixels need.
    transparency = image.info.get("transparency")
    image.info = {}
    if fmt == "PNG" and transparency is not None:
        image.info["transparency"] = transparency
    try:
        return _encode(image, fmt, quality, icc)
    except (OSError, ValueError):
        raise _damaged() from None


THUMBNAIL_SIZE = (480, 480)


@dataclass(frozen=True)
class Thumbnail:
    thumbnail: bytes
    width: int
    height: int


def thumbnail(data: bytes) -> Thumbnail:
    """A JPEG thumbnail of a result, and the result's own size. JPEGs decode at a reduced
    scale first (draft), so a 48-megapixel result costs a fraction of a full decode. Raises
    ImageRejected for what we cannot read, a damaged or truncated file included."""
    image = _open(io.BytesIO(data))
    width, height = image.size
    image.draft("RGB", THUMBNAIL_SIZE)
    try:
        image.load()
        image = _upright(image)
    except (OSError, ValueError, SyntaxError):
        raise _damaged() from None
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
