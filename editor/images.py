"""Pillow work: header checks, fitting photos to a vendor's limits, masks, thumbnails, and the
copies people download.

Fitting never touches a photo that already fits: its original bytes go to the vendor as they
are. Otherwise it applies the EXIF orientation, converts to 8-bit RGB when the endpoint wants
RGB, scales down to the pixel bounds and recompresses until the byte limit holds, and says what
it did in plain words so the person can be told.

Anything that leaves the studio as a download carries no EXIF (so no GPS position, camera serial
or time), no XMP and no text comments, but keeps its ICC color profile: ``convert`` while
re-encoding, ``editor.metadata.strip_metadata`` for the original file, without touching its pixels.

This module is the foundation of image handling: it imports nothing of the studio's, and the
vendor adapters, the domain and the pages all take media types and image limits from here.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError
from pillow_heif import register_heif_opener

# HEIC/HEIF (phones' own format) through libheif; AVIF through Pillow's own plugin. Thumbnails
# and depth maps a HEIC carries are not read: only its primary picture is used.
register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

logger = logging.getLogger(__name__)

# The most pixels a photo may have in any format, refused from its header: past this a file is
# a decompression bomb or a mistake (a 200 MP phone sensor fits twice). A baseline JPEG up to
# it is taken whatever the memory budget, since libjpeg decodes it at a half, a quarter or an
# eighth of its size (draft mode) for a few bytes a pixel of the original; every other format
# is decoded whole and has a lower cap from the memory budget (pixel_cap).
SAFETY_MAX_PIXELS = 500_000_000
Image.MAX_IMAGE_PIXELS = SAFETY_MAX_PIXELS
# A file whose data ends early must fail to decode, not be padded out (check_pixels). This is
# Pillow's default; said here because the upload checks depend on it.
ImageFile.LOAD_TRUNCATED_IMAGES = False


# The memory one decode and the working copies of its step may take, unless settings say
# otherwise (IMAGE_MEMORY_BUDGET_MB): with a process's own 100-150 MB (Django, Celery) it keeps
# every process that decodes under 1 GB (make bench).
DEFAULT_MEMORY_BUDGET_MB = 700
# Bytes Pillow keeps per decoded pixel: "1", "L" and "P" take one, the 16-bit grays two, and
# every other mode four (RGB included: Pillow pads it to 32 bits; 16-bit RGB(A) PNGs decode
# to 8-bit RGB(A)).
_ONE_BYTE_MODES = frozenset({"1", "L", "P"})
_TWO_BYTE_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
# A working copy is RGB or RGBA: four bytes a pixel. Steps hold at most one beside the decoded
# picture at a time (turned upright, converted to RGB, transparency flattened); a picture with
# transparency in a mode other than RGBA is converted to RGBA first, a second one.
WORKING_COPY_BYTES = 4
# What libwebp's encoder holds beside the picture it is given, per pixel (measured on 48 MP:
# its YUV planes and its own ARGB copy; make bench "converted to WebP").
ENCODER_BYTES = {"WEBP": 6}
# What a decoder holds beside the picture it hands Pillow, per pixel: libheif and libavif
# decode into planes of their own (YUV, and an RGB copy that is then copied into Pillow's
# image), all alive until the decode returns. Measured on a 12 MP photo: a decode's peak was
# 8.7 (HEIC) and 9.4 (AVIF) bytes a pixel with Pillow's own four, counted here as 4 + 8.
DECODER_BYTES = {"HEIF": 8, "AVIF": 8}
# What libjpeg holds for a progressive JPEG while it decodes, at any scale: the whole picture's
# DCT coefficients, two bytes a sample of each component (at its own sampling).
COEFFICIENT_BYTES = 2
# The bytes a pixel costs at worst to take a photo of each format at its full size, as
# memory_needed counts them: its decode in its costliest mode and fit's working copy (at least
# four bytes a pixel each, check_fit_memory), PNG's transparency outside RGBA going through an
# RGBA copy too, libwebp's encoder, libheif's and libavif's own planes. A progressive JPEG adds
# its coefficients, for up to four full-size components. The formats decoded whole have a pixel
# cap of the memory budget over this (pixel_cap): within it no step goes over the budget.
FULL_DECODE_BYTES = {
    "JPEG": 4 + WORKING_COPY_BYTES,
    "PNG": 4 + 2 * WORKING_COPY_BYTES,
    "WEBP": 4 + WORKING_COPY_BYTES + ENCODER_BYTES["WEBP"],
    "HEIF": 4 + WORKING_COPY_BYTES + DECODER_BYTES["HEIF"],
    "AVIF": 4 + WORKING_COPY_BYTES + DECODER_BYTES["AVIF"],
}
PROGRESSIVE_JPEG = "progressive JPEG"
PROGRESSIVE_BYTES = FULL_DECODE_BYTES["JPEG"] + 4 * COEFFICIENT_BYTES
# A JPEG over its full-decode cap is decoded reduced to the largest scale whose copy is at
# least this share of the size it is fitted to (each side): a 16320×12240 photo fitted to
# 4096×4096 is decoded at a quarter (4080×3060, 12 MP) rather than at a half (50 MP).
DRAFT_TOLERANCE = 0.9


@dataclass(frozen=True)
class MediaType:
    """One image type the studio accepts, stores and sends. Every table of types, extensions,
    Pillow formats and magic bytes in the product is derived from ``MEDIA`` below."""

    format: str  # Pillow's name, and the download/API format in lower case
    mime: str
    extension: str
    # (offset, bytes) pairs that all match at the start of a file of this type.
    magic: tuple[tuple[int, bytes], ...]
    # ISO-BMFF files (HEIF, AVIF) say what they are by the brands of their ``ftyp`` box: the
    # major brand or a compatible one must be among these.
    brands: frozenset[bytes] = frozenset()
    # What browsers show as it is: the others are shown as a JPEG copy (editor.media).
    shown_by_browsers: bool = True
    # The name people know it by, in what the studio says ("Converted from HEIC to JPEG.").
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.format

    def matches(self, data: bytes) -> bool:
        if not all(data[at : at + len(value)] == value for at, value in self.magic):
            return False
        return not self.brands or bool(self.brands & ftyp_brands(data))


def ftyp_brands(data: bytes) -> frozenset[bytes]:
    """The major and compatible brands of an ISO-BMFF file's leading ``ftyp`` box (empty when
    it has none): ``size, "ftyp", major, minor version, compatible...``."""
    if data[4:8] != b"ftyp" or len(data) < 16:
        return frozenset()
    size = min(int.from_bytes(data[0:4], "big"), len(data))
    brands = {data[8:12]}
    brands.update(data[at : at + 4] for at in range(16, size - 3, 4))
    return frozenset(brands)


# The ftyp box of an AVIF usually lists "mif1" too, and a HEIC "mif1" with "heic": AVIF's own
# brands are tried first, so "mif1" alone stands for HEIF (HEVC), its first and common use.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})

MEDIA: tuple[MediaType, ...] = (
    MediaType("JPEG", "image/jpeg", "jpg", ((0, b"\xff\xd8\xff"),)),
    MediaType("PNG", "image/png", "png", ((0, b"\x89PNG\r\n\x1a\n"),)),
    MediaType("WEBP", "image/webp", "webp", ((0, b"RIFF"), (8, b"WEBP"))),
    MediaType("AVIF", "image/avif", "avif", ((4, b"ftyp"),), _AVIF_BRANDS),
    MediaType(
        "HEIF",
        "image/heic",
        "heic",
        ((4, b"ftyp"),),
        _HEIF_BRANDS,
        shown_by_browsers=False,
        label="HEIC",
    ),
)
BY_FORMAT = {media.format: media for media in MEDIA}
BY_MIME = {media.mime: media for media in MEDIA}
# Pillow format -> media type and -> file extension.
MEDIA_TYPES = {media.format: media.mime for media in MEDIA}
EXTENSIONS = {media.format: media.extension for media in MEDIA}
# Formats the studio writes (fitted copies, downloads): it reads the phone formats, never
# writes them.
WRITTEN = frozenset({"JPEG", "PNG", "WEBP"})
# For <input type="file" accept="...">: the media types, and the extensions of the phone
# formats, whose media type some systems do not know (a .heic picked on Windows comes as "").
ACCEPT = ",".join([*BY_MIME, "image/heif", ".heic", ".heif", ".avif"])
ORIENTATION_TAG = 0x0112
# How much of a file ``sniff`` needs: an ftyp box lists its brands in its first few dozen bytes.
SNIFF_BYTES = 64


def sniff(data: bytes) -> MediaType | None:
    """The type of JPEG, PNG, WebP, AVIF or HEIC bytes from their magic bytes (give it
    ``SNIFF_BYTES``); None for anything else. Neither a person's file name nor a vendor's
    Content-Type is trusted for this."""
    return next((media for media in MEDIA if media.matches(data)), None)


def format_of(data: bytes) -> str:
    """The Pillow format name of bytes of a type we accept, or "" for anything else."""
    media = sniff(data)
    return media.format if media else ""


def extension_for(mime: str) -> str:
    """The file extension the studio gives a stored or sent file of this media type."""
    media = BY_MIME.get(mime)
    return media.extension if media else "bin"


@dataclass(frozen=True)
class ImageLimits:
    """What one vendor endpoint accepts for one input, from the vendor's docs
    (vendor-contracts.md); ``fit`` makes a photo satisfy them."""

    formats: frozenset[str]  # Pillow format names: "JPEG", "PNG", "WEBP"
    max_bytes: int
    max_width: int  # inclusive bounds we aim for, already inside the vendor's strict ones
    max_height: int
    min_width: int = 1
    min_height: int = 1
    rgb_only: bool = True


@dataclass(frozen=True)
class Encoded:
    """Image bytes the studio made, with their media type."""

    data: bytes = field(repr=False)
    media_type: str

    def __repr__(self) -> str:
        return f"Encoded({self.media_type}, {len(self.data)} bytes)"


# What decoding a damaged file may raise: Pillow's own plugins raise OSError, SyntaxError or
# EOFError, libavif's and libheif's bindings RuntimeError or ValueError.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, RuntimeError)


class ImageRejected(ValueError):
    """The file cannot be used; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class Fitted:
    image: Encoded
    width: int
    height: int
    notes: tuple[str, ...] = field(default=())


def _open(stream: IO[bytes]) -> Image.Image:
    """Open lazily (header only) and refuse what we will not decode: a format we do not take,
    and more pixels than its format's cap (pixel_cap)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            _("This image has too many pixels: the most any photo may have is %(cap)s megapixels.")
            % {"cap": _megapixels(SAFETY_MAX_PIXELS)}
        ) from None
    except (UnidentifiedImageError, *DECODE_ERRORS):
        raise ImageRejected(_("This file is not an image we can read.")) from None
    if image.format not in MEDIA_TYPES:
        raise ImageRejected(
            _("%(format)s images are not supported; use JPEG, PNG, WebP, HEIC or AVIF.")
            % {"format": image.format}
            if image.format
            else _("This kind of image is not supported; use JPEG, PNG, WebP, HEIC or AVIF.")
        )
    if image.width < 1 or image.height < 1:
        raise ImageRejected(_("This file is not an image we can read."))
    kind = kind_of(image)
    if image.width * image.height > pixel_cap(kind):
        raise too_many_pixels(kind, image.width, image.height)
    return image


def kind_of(image: Image.Image) -> str:
    """What a photo's pixel cap goes by: its format, or ``PROGRESSIVE_JPEG``."""
    if image.format == "JPEG" and image.info.get("progressive"):
        return PROGRESSIVE_JPEG
    return image.format or ""


def pixel_cap(kind: str) -> int:
    """The most pixels a photo of ``kind`` (a format in MEDIA, or ``PROGRESSIVE_JPEG``) may
    have. A baseline JPEG: SAFETY_MAX_PIXELS, since it is decoded reduced when it is big; any
    other kind is decoded whole, so the memory budget decides (FULL_DECODE_BYTES). The form
    checks the same numbers before upload (pixel_caps)."""
    if kind == "JPEG":
        return SAFETY_MAX_PIXELS
    per_pixel = PROGRESSIVE_BYTES if kind == PROGRESSIVE_JPEG else FULL_DECODE_BYTES[kind]
    return min(SAFETY_MAX_PIXELS, memory_budget() // per_pixel)


def pixel_caps() -> dict[str, Any]:
    """The pixel caps and the words for a photo over one, for the operation page: its script
    says before upload what the server would say after (the same numbers, the same sentence)."""
    kinds = [*FULL_DECODE_BYTES, PROGRESSIVE_JPEG]
    return {
        "caps": {kind: pixel_cap(kind) for kind in kinds},
        "labels": {kind: _kind_label(kind) for kind in kinds},
        "too_many": _TOO_MANY_PIXELS(),
        "save_as_jpeg": _SAVE_AS_JPEG(),
        "jpeg_cap": _megapixels(pixel_cap("JPEG")),
        "jpeg_full_decode": full_decode_cap(),
        "decoded_smaller": _DECODED_SMALLER(),
    }


def _DECODED_SMALLER() -> str:
    return _(
        "At %(width)s × %(height)s px this JPEG is more than the studio decodes whole: it will "
        "be decoded at a reduced size and scaled down."
    )


def decoded_smaller(width: int, height: int) -> str:
    """What the studio says, before upload and at submit, of a JPEG within the vendor's limits
    but over its full-decode cap (fit decodes it reduced)."""
    return _DECODED_SMALLER() % {
        "width": number_format(width, force_grouping=True),
        "height": number_format(height, force_grouping=True),
    }


def _TOO_MANY_PIXELS() -> str:
    return _(
        "This image has too many pixels: at %(width)s × %(height)s it has %(megapixels)s "
        "megapixels, and the most a %(format)s may have is %(cap)s megapixels."
    )


def _SAVE_AS_JPEG() -> str:
    return _(
        "Saved as an ordinary (baseline) JPEG it may have up to %(jpeg_cap)s megapixels: it "
        "is then scaled down to fit."
    )


def _kind_label(kind: str) -> str:
    return kind if kind == PROGRESSIVE_JPEG else BY_FORMAT[kind].name


def _megapixels(pixels: int, *, up: bool = False) -> str:
    """Megapixels to a tenth, grouped as the language does and without a trailing ".0": a cap
    rounded down, a photo's size up (so a photo over a cap never reads as equal to it). The
    page's script writes them the same way (static/js/upload.js)."""
    tenths = -(-pixels // 100_000) if up else pixels // 100_000
    return number_format(tenths / 10, decimal_pos=1 if tenths % 10 else 0, force_grouping=True)


def _megabytes(size: int) -> str:
    """Whole megabytes, grouped as the language does."""
    return number_format(round(size / 1_000_000), force_grouping=True)


def too_many_pixels(kind: str, width: int, height: int) -> ImageRejected:
    """The refusal of a photo over its kind's pixel cap, in the words the form uses too."""
    message = _TOO_MANY_PIXELS() % {
        "width": number_format(width, force_grouping=True),
        "height": number_format(height, force_grouping=True),
        "megapixels": _megapixels(width * height, up=True),
        "format": _kind_label(kind),
        "cap": _megapixels(pixel_cap(kind)),
    }
    if kind != "JPEG":
        message += " " + _SAVE_AS_JPEG() % {"jpeg_cap": _megapixels(pixel_cap("JPEG"))}
    return ImageRejected(message)


def memory_budget() -> int:
    """The bytes one decode and its step's working copies may take (IMAGE_MEMORY_BUDGET_MB)."""
    megabytes = getattr(settings, "IMAGE_MEMORY_BUDGET_MB", DEFAULT_MEMORY_BUDGET_MB)
    return int(megabytes) * 1_000_000


def bytes_per_pixel(mode: str) -> int:
    """What Pillow keeps per pixel of a picture decoded in ``mode``."""
    if mode in _ONE_BYTE_MODES:
        return 1
    return 2 if mode in _TWO_BYTE_MODES else 4


def memory_needed(image: Image.Image, *, copies: int = 1, encode: str = "") -> int:
    """The bytes a step takes at its peak for ``image`` as it will decode (its header, after
    any draft): the decoded pixels, ``copies`` working copies (two when transparency outside
    RGBA must go through RGBA first), and the encoder's own buffers for ``encode``. Computed
    from the header: nothing is decoded."""
    pixels = image.width * image.height
    if copies and image.mode != "RGBA" and _has_alpha(image):
        copies += 1
    per_pixel = bytes_per_pixel(image.mode) + copies * WORKING_COPY_BYTES
    decoder = DECODER_BYTES.get(image.format or "", 0)
    encoder = ENCODER_BYTES.get(encode, 0)
    return pixels * (per_pixel + max(decoder, encoder)) + coefficient_bytes(image)


def coefficient_bytes(image: Image.Image) -> int:
    """What libjpeg holds for a progressive JPEG while decoding it (0 for anything else): the
    DCT coefficients of its whole picture, whatever scale it is drafted to."""
    if kind_of(image) != PROGRESSIVE_JPEG:
        return 0
    config = getattr(image, "decoderconfig", ())
    scale = int(config[0]) if config else 1
    pixels = image.width * scale * image.height * scale
    layers: list[tuple[int, int, int, int]] = getattr(image, "layer", [])
    if not layers:
        return pixels * 4 * COEFFICIENT_BYTES
    h_max = max(h for _id, h, _v, _q in layers) or 1
    v_max = max(v for _id, _h, v, _q in layers) or 1
    samples = sum(pixels * h * v // (h_max * v_max) for _id, h, v, _q in layers)
    return samples * COEFFICIENT_BYTES


def too_much_memory(needed: int, budget: int) -> ImageRejected:
    return ImageRejected(
        _(
            "This image needs too much memory to process: %(needed)s MB; the limit is "
            "%(limit)s MB. Save it smaller or as JPEG."
        )
        % {"needed": _megabytes(needed), "limit": _megabytes(budget)}
    )


def within_budget(image: Image.Image, *, copies: int = 1, encode: str = "") -> None:
    """Refuse, before decoding, a picture whose step would take more than the memory budget:
    every full decode in the studio goes through here (fit, convert, thumbnail, masks, the
    upload check, the built-in engine)."""
    needed = memory_needed(image, copies=copies, encode=encode)
    budget = memory_budget()
    if needed > budget:
        raise too_much_memory(needed, budget)


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
    if mode == "RGB" and not _has_alpha(image):
        return image
    if mode in {"I;16", "I;16B", "I;16L", "I"}:
        # 16-bit grayscale: scale down to 8 bits rather than clipping at 255.
        notes.append(_("Converted from 16-bit to 8-bit color."))
        image = image.point(lambda value: value / 256).convert("L")
        mode = "L"
    if _has_alpha(image):
        notes.append(_("Flattened transparency onto white (the vendor needs RGB)."))
        return _flatten(image)
    if mode == "CMYK":
        notes.append(_("Converted from CMYK to RGB."))
    elif mode not in {"L", "P", "1"}:
        notes.append(_("Converted from %(mode)s to RGB.") % {"mode": mode})
    return image.convert("RGB")


def _flatten(image: Image.Image) -> Image.Image:
    """A picture with transparency laid on white, in RGB. One working copy beside the picture
    (two for a mode other than RGBA, converted first), as ``memory_needed`` counts: pasted
    through its own alpha onto a white RGB canvas, rather than composited onto an RGBA one and
    converted, which takes three."""
    rgba = image if image.mode == "RGBA" else image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba)
    return flat


def save(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` encoded as ``fmt``: the one way the studio writes an image with Pillow (fitted
    copies, masks, thumbnails, downloads, the built-in engine's results). It never carries the
    decoded file's comment: Pillow's JPEG saver writes ``info["comment"]`` back by itself, and a
    JPEG comment can hold anything (``<script>`` included). EXIF and XMP are written only when
    the caller passes them."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        options["comment"] = b""
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _encode(
    image: Image.Image, fmt: str, quality: int, icc: bytes | None, exif: bytes = b""
) -> bytes:
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = b"Exif\0\0" + exif
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
        return save(image, fmt, **options)
    except ValueError:
        if fmt != "WEBP":
            raise
        return save(image, fmt, **{**options, "method": 4})


def fit(data: bytes, limits: ImageLimits, *, vendor_label: str) -> Fitted:
    """Make ``data`` acceptable to an endpoint with ``limits``, or say why it cannot be."""
    with _processing():
        return _fit(data, limits, vendor_label)


@contextlib.contextmanager
def _processing() -> Iterator[None]:
    """Pillow's own errors while working on a photo that decoded (a colour mode it cannot
    convert or save, a broken profile) are about that photo: they would happen again on every
    try, so they end the job with a clear refusal rather than as a crash retried. An OSError
    with an errno is the disk's or the system's, not the photo's, and passes on."""
    try:
        yield
    except ImageRejected:
        raise
    except (OSError, ValueError) as error:
        if isinstance(error, OSError) and error.errno is not None:
            raise
        logger.warning("a photo could not be processed: %s: %s", type(error).__name__, error)
        raise ImageRejected(
            _(
                "This image could not be processed (its colour mode or format is one we cannot "
                "convert). Save it as an ordinary JPEG or PNG and try again."
            )
        ) from error


def _fit(data: bytes, limits: ImageLimits, vendor_label: str) -> Fitted:
    image = _open(io.BytesIO(data))
    source_format = image.format or "JPEG"
    width, height = image.size
    if width < limits.min_width or height < limits.min_height:
        raise ImageRejected(
            _(
                "This image is %(width)d×%(height)d pixels; %(vendor)s needs at least "
                "%(min_width)d×%(min_height)d."
            )
            % {
                "width": width,
                "height": height,
                "vendor": vendor_label,
                "min_width": limits.min_width,
                "min_height": limits.min_height,
            }
        )
    needs_rgb = limits.rgb_only and (image.mode != "RGB" or _has_alpha(image))
    too_big = width > limits.max_width or height > limits.max_height
    _draft_if_big(image, limits)
    within_budget(image, encode=_fit_encoder(source_format, limits))
    try:
        # Decode fully even when the file fits: a damaged photo must not cost vendor credits.
        # Before reading the orientation: reading a PNG's EXIF decodes it, and Pillow forgets
        # a failed decode, so a later load() would pass a damaged PNG as it is.
        image.load()
    except DECODE_ERRORS:
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
        and image.size == (width, height)  # not decoded reduced for its memory
    ):
        return Fitted(Encoded(data, MEDIA_TYPES[source_format]), width, height)

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
    if not too_big and (image.width, image.height) != (width, height):
        notes.append(
            _(
                "Scaled down from %(width)d×%(height)d to %(new_width)d×%(new_height)d pixels: "
                "a JPEG this big is decoded at a reduced size to stay within the studio's memory."
            )
            % {
                "width": width,
                "height": height,
                "new_width": image.width,
                "new_height": image.height,
            }
        )
    elif (image.width, image.height) != (width, height) and not (
        oriented and (image.height, image.width) == (width, height)
    ):
        notes.append(
            _(
                "Scaled down from %(width)d×%(height)d to %(new_width)d×%(new_height)d pixels "
                "to fit %(vendor)s's limit of %(max_width)d×%(max_height)d."
            )
            % {
                "width": width,
                "height": height,
                "new_width": image.width,
                "new_height": image.height,
                "vendor": vendor_label,
                "max_width": limits.max_width,
                "max_height": limits.max_height,
            }
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
                    _("This image cannot be made small enough for %(vendor)s's %(limit)d MB limit.")
                    % {"vendor": vendor_label, "limit": limits.max_bytes // 1_000_000}
                )
        encoded = _encode(image, target, quality, icc)
    if len(data) > limits.max_bytes:
        notes.append(
            _(
                "Recompressed from %(before)s MB to %(after)s MB to fit %(vendor)s's "
                "%(limit)s MB limit."
            )
            % {
                "before": number_format(len(data) / 1_000_000, decimal_pos=1),
                "after": number_format(len(encoded) / 1_000_000, decimal_pos=1),
                "vendor": vendor_label,
                "limit": number_format(limits.max_bytes / 1_000_000, decimal_pos=0),
            }
        )
    if source_format not in limits.formats:
        notes.append(
            _("Converted from %(source)s to %(target)s.")
            % {"source": BY_FORMAT[source_format].name, "target": BY_FORMAT[target].name}
        )
    return Fitted(
        Encoded(encoded, MEDIA_TYPES[target]),
        image.width,
        image.height,
        tuple(dict.fromkeys(notes)),
    )


def _draft_if_big(image: Image.Image, limits: ImageLimits) -> None:
    """Draft a JPEG that is bigger than ``limits`` or than its full-decode cap (fit and its
    check at submit decide alike)."""
    if image.format != "JPEG":
        return
    too_big = image.width > limits.max_width or image.height > limits.max_height
    if too_big or image.width * image.height > full_decode_cap():
        _draft_to_fit(image, limits)


def full_decode_cap() -> int:
    """The most pixels of a JPEG decoded at its full size within the memory budget."""
    return memory_budget() // FULL_DECODE_BYTES["JPEG"]


def _draft_to_fit(image: Image.Image, limits: ImageLimits) -> None:
    """Let libjpeg decode a JPEG bigger than ``limits`` at a reduced scale (1/2 to 1/8): far
    less memory and time on huge photos. Asked for the size the picture is scaled to in the
    end (its sides in proportion), rounded up, so the reduced copy is never smaller.

    A JPEG over its full-decode cap (more pixels than the memory budget takes decoded whole)
    may be decoded a step smaller than that: to the largest scale whose copy is at least
    ``DRAFT_TOLERANCE`` of the fitted size, and smaller still while that copy would not fit the
    budget (a 500 MP photo fitted to the built-in engine's 12000×12000 is decoded at a
    quarter). The photo is still scaled down to within the limits, a little short of them."""
    width, height = image.size
    scale = min(1, limits.max_width / width, limits.max_height / height)
    wanted = (math.ceil(width * scale), math.ceil(height * scale))
    if width * height <= full_decode_cap():
        image.draft("RGB", wanted)
        return
    factor = next(
        factor
        for factor in (8, 4, 2, 1)
        if math.ceil(width / factor) >= DRAFT_TOLERANCE * wanted[0]
        and math.ceil(height / factor) >= DRAFT_TOLERANCE * wanted[1]
    )
    decoded = 4 if image.mode in {"RGB", "CMYK"} else bytes_per_pixel(image.mode)
    per_pixel = decoded + WORKING_COPY_BYTES
    held = coefficient_bytes(image)
    while factor < 8 and (
        math.ceil(width / factor) * math.ceil(height / factor) * per_pixel + held > memory_budget()
    ):
        factor *= 2
    # Pillow picks the largest of 1/2, 1/4, 1/8 that keeps the copy at least the size asked.
    image.draft("RGB", (max(1, width // factor), max(1, height // factor)))


def _fit_encoder(source_format: str, limits: ImageLimits) -> str:
    """The format ``fit`` may encode in, for its memory: WebP only for a WebP it keeps."""
    return "WEBP" if source_format == "WEBP" and "WEBP" in limits.formats else ""


def check_fit_memory(upload: IO[bytes], limits: ImageLimits) -> None:
    """At submit, from the header: refuse a photo that ``fit`` could not take within the memory
    budget for these limits (a JPEG bigger than the limits counts at the reduced scale fit
    decodes it at). Its fitted copy is RGB, four bytes a pixel, which the built-in engine
    decodes again, so a photo in a smaller mode counts at four bytes too."""
    upload.seek(0)
    try:
        image = _open(upload)
        _draft_if_big(image, limits)
        needed = memory_needed(image, encode=_fit_encoder(image.format or "", limits))
        pixels = image.width * image.height
        needed = max(needed, pixels * (4 + WORKING_COPY_BYTES))
        budget = memory_budget()
        if needed > budget:
            raise too_much_memory(needed, budget)
    finally:
        upload.seek(0)


def _fallback_format(limits: ImageLimits) -> str:
    for candidate in ("JPEG", "PNG", "WEBP"):
        if candidate in limits.formats:
            return candidate
    raise ValueError("limits allow no format we can write")


# A mask is turned upright, then its alpha or gray channel taken: two working copies.
MASK_COPIES = 2


def check_mask_memory(upload: IO[bytes]) -> None:
    """At submit, from the header: refuse a mask ``fit_mask`` could not take within the
    memory budget."""
    upload.seek(0)
    try:
        within_budget(_open(upload), copies=MASK_COPIES)
    finally:
        upload.seek(0)


def fit_mask(data: bytes, size: tuple[int, int]) -> Encoded:
    """A mask as the vendor wants it: grayscale PNG at exactly the photo's resolution
    (AILabTools refuses any other size with ERROR_MASK_IMAGE_RESOLUTION_MISMATCH)."""
    mask = _open(io.BytesIO(data))
    within_budget(mask, copies=MASK_COPIES)
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
    return Encoded(save(mask, "PNG", optimize=True), "image/png")


def damaged() -> ImageRejected:
    """The error for a file whose header passed but whose content is broken."""
    return ImageRejected(_("This image is damaged or incomplete."))


def incomplete() -> ImageRejected:
    """The error for a file whose data ends before its picture does."""
    return ImageRejected(
        _("This image is damaged or incomplete: its data ends before the picture does.")
    )


def bad_checksum() -> ImageRejected:
    """The error for a file whose data fails the checksum stored beside it."""
    return ImageRejected(
        _("This image is damaged or incomplete: a checksum in the file does not match its data.")
    )


# What a baseline JPEG's scan is followed by instead of its end-of-image marker, to decode it:
# sixteen 0xFF data bytes (each stuffed as FF 00, so no marker). A complete scan only reads
# them ahead (libjpeg fills its bit buffer to 57 bits before decoding a code); a short one
# decodes them as bad codes, a block or two's worth, and then runs out of data, which Pillow
# reports as an error. Followed by the end-of-image marker, a short scan would be filled with
# gray instead, with a warning nobody sees.
_RUN_OUT = b"\xff\x00" * 16


def check_pixels(data: bytes, *, scan_end: int | None = None) -> None:
    """Decode ``data`` whole or raise ImageRejected. ``scan_end``, for a baseline JPEG: where
    its one scan's compressed data ends (editor.metadata finds it): the decoder gets the file
    up to there and ``_RUN_OUT``, so a picture its data does not cover fails. A JPEG decodes
    at an eighth of its size: every compressed byte is still read, for a fraction of the
    time and memory of the full size."""
    stream = data if scan_end is None else data[:scan_end] + _RUN_OUT
    image = _open(io.BytesIO(stream))
    if image.format == "JPEG":
        image.draft(None, (1, 1))
    within_budget(image, copies=0)
    try:
        image.load()
    except DECODE_ERRORS:
        raise incomplete() from None


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
    """An alpha band, or a transparent colour (``info["transparency"]``), which PNG allows in
    every mode without one: 1, L, P, RGB and 16-bit grey."""
    return "A" in image.mode or "transparency" in image.info


# Modes each format stores as they are; anything else is converted first.
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"})
_JPEG_MODES = frozenset({"L", "RGB", "CMYK"})


def convert(data: bytes, fmt: str, quality: int, *, exif: bytes = b"") -> bytes:
    """The picture re-encoded as ``fmt`` (PNG, JPEG or WEBP), upright (EXIF orientation applied),
    with its ICC profile and without EXIF, XMP or comments, but for ``exif`` when given (a TIFF
    structure without orientation: the capture date and camera a download keeps). ``quality``
    (1-100) is for JPEG and WebP; PNG is lossless. JPEG has no transparency, so transparent
    pixels land on white. Raises ImageRejected for what we cannot read; ValueError for a format
    or quality we do not offer (callers check those first)."""
    if fmt not in WRITTEN:
        raise ValueError(f"cannot convert to {fmt!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality {quality} is not between 1 and 100")
    image = _open(io.BytesIO(data))
    within_budget(image, encode=fmt)
    try:
        image.load()  # the first frame of an animation
        image = _upright(image)
    except DECODE_ERRORS:
        raise damaged() from None
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
        if image.mode != "RGBA" and _has_alpha(image):
            image = image.convert("RGBA")
        elif not _has_alpha(image):
            image = _to_rgb(image, notes)
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
        return _encode(image, fmt, quality, icc, exif)
    except (OSError, ValueError):
        raise damaged() from None


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
    within_budget(image)
    try:
        image.load()
        image = _upright(image)
    except DECODE_ERRORS:
        raise damaged() from None
    if image.mode not in {"RGB", "L"}:
        image = _flatten(image)
    image.thumbnail(THUMBNAIL_SIZE, Image.Resampling.LANCZOS)
    return Thumbnail(save(image, "JPEG", quality=85), width, height)


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
