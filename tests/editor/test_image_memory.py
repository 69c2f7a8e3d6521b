"""The memory budget of every decode (editor.images.within_budget): a picture whose step would
take more than IMAGE_MEMORY_BUDGET_MB is refused from its header, before any pixel is decoded,
wherever it comes from. A format decoded whole has a pixel cap derived from the budget
(images.pixel_cap), so most such pictures are refused by it first, in the words the form uses.
The budget is lowered here so that a few megapixels stand for 100."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from pytest_django import Settings as SettingsWrapper

from editor import images
from editor.images import ImageLimits
from editor.vendors.base import InputImage, VendorError, VendorRequest
from editor.vendors.local.adapter import LocalAdapter
from tests.images import huge_png, make_image

# 2000×1000 RGBA: 8 MB decoded, and 8 MB more for its one working copy.
SIZE = (2000, 1000)
MESSAGE = (
    "This image needs too much memory to process: 16 MB; the limit is 10 MB. "
    "Save it smaller or as JPEG."
)
# 10 MB over PNG's 12 bytes a pixel at worst: 0.83 MP.
OVER_CAP = (
    "This image has too many pixels: at 2,000 × 1,000 it has 2 megapixels, and the most a PNG "
    "may have is 0.8 megapixels. Saved as an ordinary (baseline) JPEG it may have up to 500 "
    "megapixels: it is then scaled down to fit."
)
LIMITS = ImageLimits(
    formats=frozenset({"JPEG", "PNG"}), max_bytes=10_000_000, max_width=4000, max_height=4000
)


@pytest.fixture
def budget(settings: SettingsWrapper) -> None:
    settings.IMAGE_MEMORY_BUDGET_MB = 10


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every full decode Pillow starts, by mode: none may start for a refused picture."""
    started: list[str] = []
    load = Image.Image.load

    def counting(self: Image.Image) -> object:
        if getattr(self, "tile", None):
            started.append(self.mode)
        return load(self)

    monkeypatch.setattr(Image.Image, "load", counting)
    return started


def test_the_header_says_what_a_16_bit_rgba_png_needs() -> None:
    image = Image.open(io.BytesIO(huge_png(SIZE)))
    assert image.mode == "RGBA"  # Pillow decodes 16-bit RGBA to 8 bits a channel
    assert images.memory_needed(image) == 2_000_000 * (4 + 4)
    assert images.memory_needed(image, encode="WEBP") == 2_000_000 * (4 + 4 + 6)
    assert images.memory_needed(image, copies=0) == 2_000_000 * 4


@pytest.mark.usefixtures("budget")
@pytest.mark.parametrize(
    "step",
    [
        lambda data: images.fit(data, LIMITS, vendor_label="PicWish"),
        lambda data: images.convert(data, "JPEG", 90),
        lambda data: images.convert(data, "PNG", 90),
        images.thumbnail,
        lambda data: images.check_fit_memory(io.BytesIO(data), LIMITS),
    ],
    ids=["fit", "convert-jpeg", "convert-png", "thumbnail", "submit-check"],
)
def test_every_step_refuses_a_picture_over_the_budget_before_decoding(
    step: object, decoded: list[str]
) -> None:
    with pytest.raises(images.ImageRejected) as refused:
        step(huge_png(SIZE))  # type: ignore[operator]
    assert str(refused.value) == OVER_CAP
    assert decoded == []


@pytest.mark.usefixtures("budget")
def test_the_same_steps_take_a_picture_within_the_budget() -> None:
    data = huge_png((900, 900))  # 6.5 MB at its peak, under PNG's 0.83 MP cap
    assert images.thumbnail(data).width == 900
    assert images.fit(data, LIMITS, vendor_label="PicWish").image.media_type == "image/png"
    assert Image.open(io.BytesIO(images.convert(data, "JPEG", 90))).mode == "RGB"
    # WebP's encoder takes its own buffers on top: 11 MB for this one.
    with pytest.raises(images.ImageRejected, match="11 MB; the limit is 10 MB"):
        images.convert(data, "WEBP", 90)


@pytest.mark.usefixtures("budget")
def test_a_big_jpeg_is_fitted_and_thumbnailed_from_a_reduced_decode() -> None:
    data = make_image((4000, 2000))  # 64 MB at full size; libjpeg decodes it at a quarter
    limits = ImageLimits(
        formats=frozenset({"JPEG"}), max_bytes=10_000_000, max_width=1000, max_height=1000
    )
    assert images.fit(data, limits, vendor_label="PicWish").width == 1000
    images.check_fit_memory(io.BytesIO(data), limits)
    assert images.thumbnail(data).width == 4000
    # A converted download needs every pixel: refused.
    with pytest.raises(images.ImageRejected, match="64 MB; the limit is 10 MB"):
        images.convert(data, "PNG", 90)


@pytest.mark.usefixtures("budget")
def test_the_built_in_engine_refuses_a_photo_over_the_budget(decoded: list[str]) -> None:
    request = VendorRequest(
        "color_migration",
        {"image": InputImage(huge_png(SIZE, bits=8), "image/png")},
        {"mode": "AUTO", "color_count": 1, "degree": 0.5},
    )
    with pytest.raises(VendorError) as refused:
        LocalAdapter(api_key="").submit(request)
    assert str(refused.value) == MESSAGE
    assert refused.value.code == "invalid_image"
    assert not refused.value.retryable
    assert decoded == []


@pytest.mark.usefixtures("budget")
def test_a_mask_over_the_budget_is_refused_at_submit_and_when_fitted(decoded: list[str]) -> None:
    # 1000×1000 RGB (a JPEG: its pixel cap is not the budget's): 4 MB decoded and two working
    # copies of 4 MB (upright, its gray channel).
    data = make_image((1000, 1000))
    message = "This image needs too much memory to process: 12 MB; the limit is 10 MB."
    with pytest.raises(images.ImageRejected, match=message):
        images.check_mask_memory(io.BytesIO(data))
    with pytest.raises(images.ImageRejected, match=message):
        images.fit_mask(data, (1000, 1000))
    assert decoded == []
    small = make_image((500, 500))
    images.check_mask_memory(io.BytesIO(small))
    assert images.fit_mask(small, (500, 500)).media_type == "image/png"
