"""The built-in engine as a vendor adapter: the request's parameters read, the photos opened
within our limits, each result written through its lookup table."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageFilter, JpegImagePlugin

from editor import images
from editor.images import ImageLimits
from editor.vendors.base import (
    Done,
    InputImage,
    ParamValue,
    ResultImage,
    VendorAdapter,
    VendorError,
    VendorRequest,
    read_number,
)
from editor.vendors.local.color import (
    Floats,
    auto_targets,
    palette_target,
    reference_target,
    srgb_to_oklab,
    to_lut,
)

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

OPERATION = "color_migration"
MODES = ("AUTO", "TEMPLATE", "REF_PIC")
MAX_COLOR_COUNT = 8
MAX_TEMPLATE_COLORS = 7

# Our own limits: the work below is bounded by the lookup table, not by the photo, so we accept
# far more than the vendor's 3 MB / 10000 px. The pipeline hands us RGB (rgb_only).
LIMITS = ImageLimits(
    formats=frozenset({"JPEG", "PNG", "WEBP"}),
    max_bytes=100 * 1024 * 1024,
    max_width=12000,
    max_height=12000,
    min_width=16,
    min_height=16,
    rgb_only=True,
)

STATS_SIZE = 512  # longest side of the copy every statistic is taken from
STATS_SAMPLE = 65_536  # pixels of the reduced copy that statistics are taken from
STRIP_PIXELS = 1 << 20  # pixels per strip handed to one thread
# Threads only speed up the C filter (it releases the GIL). Kept small because image work
# already runs in one Celery worker process per core (ARCHITECTURE.md).
WORKERS = max(1, min(4, os.cpu_count() or 1))
JPEG_QUALITY = 95
# zlib level 3 writes a 48 MP PNG several times faster than the default 6, for a few % more bytes.
PNG_COMPRESS_LEVEL = 3


class LocalAdapter(VendorAdapter):
    vendor = "local"
    label = "Built-in engine"
    operations = frozenset({OPERATION})

    @classmethod
    def limits(cls, operation: str, role: str) -> ImageLimits:
        if operation != OPERATION or role not in ("image", "ref"):
            raise ValueError(f"The built-in engine has no input {role!r} for {operation!r}")
        return LIMITS

    def submit(self, request: VendorRequest) -> Done:
        if request.operation not in self.operations:
            raise VendorError(
                _("The built-in engine cannot run the operation %(operation)r.")
                % {"operation": request.operation},
                retryable=False,
                code="unsupported_operation",
            )
        recipe = Recipe.from_params(request.params)
        image = request.files.get("image")
        if image is None:
            raise VendorError(
                _("Color migration needs a photo."), retryable=False, code="missing_image"
            )
        ref = request.files.get("ref")
        if recipe.mode == "REF_PIC" and ref is None:
            raise VendorError(
                _("The reference-photo mode needs a reference photo."),
                retryable=False,
                code="invalid_parameter",
            )

        photo = Photo.open(image, _("photo"))
        # A JPEG's statistics come from a reduced decode of their own, so the full-size decode
        # (libjpeg, which releases the GIL) runs on a second core meanwhile, instead of after.
        with ThreadPoolExecutor(max_workers=1) as loader:
            loading = loader.submit(photo.load) if photo.reduced_apart else None
            luts = [to_lut(target) for target in recipe.targets(photo.statistics, ref)]
            if loading is not None:
                loading.result()
        photo.load()
        results = []
        for index, lut in enumerate(luts):
            # The last result may overwrite the decoded photo: one full-size image fewer in memory.
            recolored = photo.recolor(lut, in_place=index == len(luts) - 1)
            results.append(photo.encode(recolored))
            del recolored
        return Done(images=tuple(results))

    def poll(self, task_ref: str) -> Done:
        raise VendorError(
            _("The built-in engine finishes while it is asked; there is nothing to poll."),
            retryable=False,
            code="not_pollable",
        )


def _bad(message: str | StrPromise) -> VendorError:
    return VendorError(message, retryable=False, code="invalid_parameter")


@dataclass(frozen=True)
class Recipe:
    """The validated parameters of one call."""

    mode: str
    degree: float
    color_count: int = 1
    palette: tuple[tuple[int, int, int], ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, ParamValue]) -> Recipe:
        mode = params.get("mode")
        if not isinstance(mode, str) or mode.strip().upper() not in MODES:
            raise _bad(_("Mode must be AUTO, TEMPLATE or REF_PIC."))
        mode = mode.strip().upper()
        degree = _number(params.get("degree"), _("Strength (degree)"))
        if not 0.0 <= degree <= 1.0:
            raise _bad(_("Strength (degree) must be between 0 and 1."))
        if mode == "AUTO":
            count = params.get("color_count", 1)
            if isinstance(count, str) and count.strip().isdigit():
                count = int(count)
            if isinstance(count, bool) or not isinstance(count, int):
                raise _bad(_("The number of color families must be a whole number."))
            if not 1 <= count <= MAX_COLOR_COUNT:
                raise _bad(
                    _("The number of color families must be 1 to %(most)d.")
                    % {"most": MAX_COLOR_COUNT}
                )
            return cls(mode, degree, color_count=count)
        if mode == "TEMPLATE":
            return cls(mode, degree, palette=_palette(params.get("color_template")))
        return cls(mode, degree)

    def targets(self, photo: Floats, ref: InputImage | None) -> list[Floats]:
        """One lookup table's worth of sRGB colors per result (color.LUT_SIZE³ rows of 3)."""
        if self.mode == "REF_PIC":
            assert ref is not None  # submit() refused a REF_PIC call without one
            reference = Photo.open(ref, _("reference photo")).statistics
            return [reference_target(photo, reference, self.degree)]
        if self.mode == "TEMPLATE":
            return [palette_target(photo, self.palette, self.degree)]
        return auto_targets(photo, self.color_count, self.degree)


def _number(value: ParamValue | None, label: str) -> float:
    # The vendor takes degree as a form string ("0.4"); our forms store a float.
    number = read_number(value)
    if number is None:
        raise _bad(_("%(label)s must be a number between 0 and 1.") % {"label": label})
    return number


def _palette(value: ParamValue | None) -> tuple[tuple[int, int, int], ...]:
    # The vendor takes one comma-separated string; our forms store a tuple of strings.
    if isinstance(value, str):
        entries: Sequence[str] = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, tuple | list):  # a list when parameters come back from JSON
        entries = [str(entry) for entry in value]
    else:
        raise _bad(_("The palette must be a list of hex colors such as DB0D0D."))
    if not 1 <= len(entries) <= MAX_TEMPLATE_COLORS:
        raise _bad(_("The palette must have 1 to %(most)d colors.") % {"most": MAX_TEMPLATE_COLORS})
    colors = []
    for entry in entries:
        text = str(entry).strip().removeprefix("#")
        # The vendor documents "ARGB" colors but shows six digits: take RRGGBB or AARRGGBB.
        if len(text) == 8:
            text = text[2:]
        if len(text) != 6 or any(char not in "0123456789abcdefABCDEF" for char in text):
            raise _bad(
                _("%(entry)r is not a hex color such as DB0D0D.") % {"entry": str(entry).strip()}
            )
        colors.append((int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)))
    return tuple(colors)


# --- Images -------------------------------------------------------------------------------------


def _invalid(message: str) -> VendorError:
    return VendorError(message, retryable=False, code="invalid_image")


class Photo:
    """One input: its header now, reduced-copy statistics on demand, full pixels when loaded."""

    def __init__(self, file: InputImage, image: Image.Image, what: str) -> None:
        self._file = file
        self._image = image
        self._what = what
        self.format = image.format or ""
        # An embedded profile stays valid only while the pixels stay in the same RGB space.
        self.icc_profile: bytes | None = (
            image.info.get("icc_profile") if image.mode in ("RGB", "RGBA", "P", "PA") else None
        )
        # The pixels keep their stored orientation, so the result must keep the EXIF tag that
        # says how to show them; the rest of EXIF (camera, GPS) is not copied into results.
        try:
            orientation = int(image.getexif().get(0x0112, 1))
        except (OSError, SyntaxError, ValueError, TypeError):  # a damaged EXIF block
            orientation = 1
        self.orientation = orientation if 1 <= orientation <= 8 else 1
        self.subsampling = (
            JpegImagePlugin.get_sampling(image)
            if isinstance(image, JpegImagePlugin.JpegImageFile)
            else -1
        )
        # A JPEG's reduced copy is decoded apart, from a header of its own: draft() makes libjpeg
        # decode at 1/2-1/8 scale, and it only works before the first decode, which the
        # full-size image still needs. Other formats are reduced from the full-size pixels.
        self.reduced_apart = self.format == "JPEG"
        self._statistics: Floats | None = None
        self._loaded: Image.Image | None = None

    @classmethod
    def open(cls, file: InputImage, what: str) -> Photo:
        return cls(file, _open(file, what), what)

    @property
    def statistics(self) -> Floats:
        """The OKLab colors of a ≤512 px copy, one row per opaque pixel."""
        if self._statistics is None:
            # Never the full-size pixels of a JPEG, even when they are already loaded: the same
            # photo must always give the same statistics, whichever decode finished first.
            if self.reduced_apart:
                source = _open(self._file, self._what)
            else:
                self.load()
                assert self._loaded is not None
                source = self._loaded
            try:
                self._statistics = _pixels(_as_rgb(_reduce(source), self._what))
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
                raise _invalid(_undecodable(self._what)) from error
        return self._statistics

    def load(self) -> None:
        if self._loaded is not None:
            return
        try:
            self._image.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise _invalid(_undecodable(self._what)) from error
        self._loaded = _as_rgb(self._image, self._what)

    def recolor(self, lut: ImageFilter.Color3DLUT, *, in_place: bool) -> Image.Image:
        assert self._loaded is not None
        source = self._loaded
        # A read-only image (memory-mapped) would be copied by the first paste of each thread.
        in_place = in_place and not source.readonly
        target = source if in_place else Image.new(source.mode, source.size)
        rows = max(16, STRIP_PIXELS // source.width)
        boxes = [
            (0, top, source.width, min(source.height, top + rows))
            for top in range(0, source.height, rows)
        ]

        def strip(box: tuple[int, int, int, int]) -> None:
            # Each thread copies its strip out, filters it and writes it back: crop, filter and
            # paste all release the GIL, and no thread waits for another's strip. The threads
            # share the two Image objects but never a row: a strip is cropped before the same
            # rows are pasted back, which makes writing into the source safe.
            target.paste(source.crop(box).filter(lut), box)

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for _stripped in pool.map(strip, boxes):  # re-raises a thread's error here
                pass
        if in_place:
            self._loaded = None
        return target

    def encode(self, image: Image.Image) -> ResultImage:
        options: dict[str, object] = {}
        if self.icc_profile:
            options["icc_profile"] = self.icc_profile
        if self.orientation != 1:
            exif = Image.Exif()
            exif[0x0112] = self.orientation
            options["exif"] = exif.tobytes()
        if self.format == "JPEG" and image.mode == "RGB":
            if self.subsampling >= 0:
                options["subsampling"] = self.subsampling
            data = images.save(image, "JPEG", quality=JPEG_QUALITY, **options)
            return ResultImage(data, "image/jpeg")
        data = images.save(image, "PNG", compress_level=PNG_COMPRESS_LEVEL, **options)
        return ResultImage(data, "image/png")


def _open(file: InputImage, what: str) -> Image.Image:
    """Read the header only, refusing anything outside our limits before pixels are decoded."""
    if len(file.data) > LIMITS.max_bytes:
        raise _invalid(
            _("The %(what)s is larger than %(size)d MB.")
            % {"what": what, "size": LIMITS.max_bytes // (1024 * 1024)}
        )
    try:
        image = Image.open(io.BytesIO(file.data), formats=sorted(LIMITS.formats))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise _invalid(
            _("The %(what)s is not a JPEG, PNG or WebP image we can read.") % {"what": what}
        ) from error
    width, height = image.size
    if width > LIMITS.max_width or height > LIMITS.max_height:
        raise _invalid(
            _("The %(what)s is larger than %(width)d x %(height)d pixels.")
            % {"what": what, "width": LIMITS.max_width, "height": LIMITS.max_height}
        )
    if width < LIMITS.min_width or height < LIMITS.min_height:
        raise _invalid(
            _("The %(what)s is smaller than %(width)d x %(height)d pixels.")
            % {"what": what, "width": LIMITS.min_width, "height": LIMITS.min_height}
        )
    try:
        # The decoded photo and one working copy: its RGB conversion, or a result recolored
        # beside it (the last result is recolored in place).
        images.within_budget(image)
    except images.ImageRejected as rejected:
        raise VendorError(str(rejected), retryable=False, code="invalid_image") from None
    return image


def _as_rgb(image: Image.Image, what: str) -> Image.Image:
    """RGB, or RGBA when the input has transparency (the filter keeps the alpha channel)."""
    if image.mode in ("RGB", "RGBA"):
        return image
    if image.mode in ("1", "L", "I", "I;16", "I;16B", "I;16L"):
        # 16-bit grays (PNG) would clip in a direct conversion; scale them to 8 bits first.
        if image.mode.startswith("I"):
            image = image.point(lambda value: value / 257).convert("L")
        return image.convert("RGB")
    if image.mode in ("LA", "La", "PA", "RGBa"):
        return image.convert("RGBA")
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "CMYK":
        profile = image.info.get("icc_profile")
        if profile:
            try:
                converted = ImageCms.profileToProfile(
                    image,
                    ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                    ImageCms.createProfile("sRGB"),
                    outputMode="RGB",
                )
            except ImageCms.PyCMSError:
                converted = None
            if converted is not None:
                return converted
        return image.convert("RGB")
    raise _invalid(
        _("The %(what)s uses the %(mode)s color mode; save it as an RGB JPEG or PNG.")
        % {"what": what, "mode": image.mode}
    )


def _reduce(image: Image.Image) -> Image.Image:
    scale = STATS_SIZE / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        if image.format == "JPEG":
            image.draft("RGB", size)  # no-op once decoded
        image = image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
    return image


def _pixels(rgb: Image.Image) -> Floats:
    array = np.asarray(rgb, dtype=np.uint8)
    colors = array[..., :3].reshape(-1, 3)
    if rgb.mode == "RGBA":
        # Fully transparent pixels often hold garbage colors; they say nothing about the photo.
        opaque = array[..., 3].reshape(-1) > 0
        if opaque.any():
            colors = colors[opaque]
    if len(colors) > STATS_SAMPLE:
        # A fixed seed: the same photo must always give the same results.
        colors = colors[np.random.default_rng(0).choice(len(colors), STATS_SAMPLE, replace=False)]
    return srgb_to_oklab(colors / 255.0)


def _undecodable(what: str) -> str:
    return _("The %(what)s could not be decoded; it may be damaged.") % {"what": what}
