"""The sandbox's honest image work: simple classical processing, never a model.

Each operation does something visibly related to what the vendor's model does, so a demo shows
a plausible change, and every output carries a small "SANDBOX" mark so no one mistakes it for
the real service's work.
"""

from __future__ import annotations

import io
import math
import warnings
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, UnidentifiedImageError

MARK_TEXT: Final = "SANDBOX"
# Decoding is refused above this many pixels, whatever an endpoint's own limits say.
MAX_PIXELS: Final = 100_000_000


class Undecodable(ValueError):
    """The bytes are not an image Pillow can read."""


class TooManyPixels(ValueError):
    """The image header declares more pixels than the sandbox will decode."""


def open_image(data: bytes) -> Image.Image:
    """Open lazily (header only); ``format`` and ``size`` are known, pixels are not loaded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise TooManyPixels from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise Undecodable from None
    if image.width * image.height > MAX_PIXELS:
        raise TooManyPixels
    return image


def format_of(image: Image.Image) -> str:
    """The file format as a vendor's check sees it: a camera's MPO file is a JPEG."""
    return "JPEG" if image.format == "MPO" else image.format or ""


def decode(image: Image.Image) -> None:
    """Load the pixels (a truncated or corrupt file fails here, not at open)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise Undecodable from None


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB; transparency is flattened onto white."""
    if image.mode == "RGB":
        return image
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I"):
        image = image.point(lambda value: value / 256).convert("L")
    return image.convert("RGB")


def _array(image: Image.Image) -> NDArray[np.float32]:
    return np.asarray(to_rgb(image), dtype=np.float32)


def _image(array: NDArray[np.float32]) -> Image.Image:
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


# --- Operations -----------------------------------------------------------------------------


def colorize(image: Image.Image) -> Image.Image:
    """A sepia duotone of the grayscale: warm shadows, cream highlights."""
    gray = ImageOps.grayscale(to_rgb(image))
    return ImageOps.colorize(gray, black=(38, 24, 12), white=(255, 244, 224), mid=(170, 124, 82))


def transfer_style(image: Image.Image, style: Image.Image) -> Image.Image:
    """Match each channel's mean and spread to the style image's (Reinhard-style transfer)."""
    source = _array(image)
    reference = _array(style)
    out = np.empty_like(source)
    for channel in range(3):
        values = source[..., channel]
        mean, spread = float(values.mean()), float(values.std())
        target_mean = float(reference[..., channel].mean())
        target_spread = float(reference[..., channel].std())
        scale = target_spread / spread if spread >= 1.0 else 1.0
        out[..., channel] = (values - mean) * scale + target_mean
    return _image(out)


def extend(image: Image.Image, top: float, bottom: float, left: float, right: float) -> Image.Image:
    """Pad by ratios of the size with mirrored, blurred borders; the original stays sharp."""
    rgb = to_rgb(image)
    width, height = rgb.size
    pad_top, pad_bottom = round(height * top), round(height * bottom)
    pad_left, pad_right = round(width * left), round(width * right)
    if not any((pad_top, pad_bottom, pad_left, pad_right)):
        return rgb.copy()
    array = np.asarray(rgb)
    padded = np.pad(array, ((pad_top, pad_bottom), (pad_left, pad_right), (0, 0)), mode="symmetric")
    canvas = Image.fromarray(padded, "RGB").filter(
        ImageFilter.GaussianBlur(radius=max(2.0, min(width, height) / 30))
    )
    canvas.paste(rgb, (pad_left, pad_top))
    return canvas


def fill_mask(image: Image.Image, mask: Image.Image) -> Image.Image:
    """Replace the white part of the mask with a heavy blur of the picture."""
    rgb = to_rgb(image)
    area = ImageOps.grayscale(to_rgb(mask)).point(lambda value: 255 if value >= 128 else 0)
    blurred = rgb.filter(ImageFilter.GaussianBlur(radius=max(4.0, min(rgb.size) / 12)))
    return Image.composite(blurred, rgb, area)


def change_expression(image: Image.Image, brightness: float, warmth: float) -> Image.Image:
    """A mild tint (warm when ``warmth`` > 0, cool below) and a slight brightness change."""
    array = _array(image) * brightness
    array[..., 0] += 14.0 * warmth
    array[..., 1] += 4.0 * warmth
    array[..., 2] -= 12.0 * warmth
    return _image(array)


def rotate_hue(image: Image.Image, degrees: float) -> Image.Image:
    hsv = np.array(to_rgb(image).convert("HSV"))
    shift = round(degrees / 360 * 256)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 256).astype(np.uint8)
    return Image.fromarray(hsv, "HSV").convert("RGB")


def mean_hue(image: Image.Image) -> float:
    """The saturation-weighted circular mean hue, in degrees."""
    hsv = np.asarray(to_rgb(image).convert("HSV"), dtype=np.float64)
    angles = hsv[..., 0] / 256 * 2 * math.pi
    weights = hsv[..., 1] * hsv[..., 2]
    if float(weights.sum()) == 0.0:
        return 0.0
    sin = float((np.sin(angles) * weights).sum())
    cos = float((np.cos(angles) * weights).sum())
    return math.degrees(math.atan2(sin, cos)) % 360


def hue_of(red: int, green: int, blue: int) -> float:
    pixel = Image.new("RGB", (1, 1), (red, green, blue)).convert("HSV")
    hue = pixel.getpixel((0, 0))
    assert isinstance(hue, tuple)
    return float(hue[0]) / 256 * 360


def fit_within(image: Image.Image, max_width: int, max_height: int) -> Image.Image:
    """Scale down to fit the bounds (0 means no bound), keeping the aspect ratio."""
    width = max_width or image.width
    height = max_height or image.height
    if image.width <= width and image.height <= height:
        return image
    fitted = image.copy()
    fitted.thumbnail((width, height), Image.Resampling.LANCZOS)
    return fitted


# --- Output ---------------------------------------------------------------------------------


def mark(image: Image.Image) -> Image.Image:
    """Stamp a small "SANDBOX" label in the bottom-right corner."""
    marked = to_rgb(image).copy()
    width, height = marked.size
    size = max(8, min(36, min(width, height) // 10))
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(marked)
    left, top, right, bottom = draw.textbbox((0, 0), MARK_TEXT, font=font)
    pad = max(2, size // 4)
    box_width, box_height = right - left + 2 * pad, bottom - top + 2 * pad
    x0, y0 = max(0, width - box_width - pad), max(0, height - box_height - pad)
    draw.rectangle((x0, y0, x0 + box_width, y0 + box_height), fill=(16, 16, 16))
    draw.text((x0 + pad - left, y0 + pad - top), MARK_TEXT, font=font, fill=(255, 214, 0))
    return marked


def encode(image: Image.Image, image_format: str) -> bytes:
    """``image_format`` is a Pillow name: JPEG, PNG or WEBP."""
    buffer = io.BytesIO()
    rgb = to_rgb(image)
    if image_format == "PNG":
        rgb.save(buffer, "PNG")
    else:
        rgb.save(buffer, image_format, quality=90)
    return buffer.getvalue()


def finish(image: Image.Image, image_format: str) -> bytes:
    """Mark and encode an output."""
    return encode(mark(image), image_format)
