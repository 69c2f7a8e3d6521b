"""Big photos fitted, not refused (editor.images): a baseline JPEG up to SAFETY_MAX_PIXELS is
decoded at a reduced size (JPEG draft mode) and fitted like any other photo; every other kind is
decoded whole and has a pixel cap from the memory budget; a decompression bomb is refused from
its header; the form gets the same caps and words as the server.

Big JPEGs are made without pixels in memory (tests.images.gray_jpeg): real files that libjpeg
decodes like any other of their size."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import images, metadata
from editor.images import ImageLimits, ImageRejected
from editor.models import Job, Vendor
from tests.factories import make_key
from tests.images import gray_jpeg, huge_png, make_image, phone_photo

# PicWish's limits (vendor-contracts.md): 4096 a side.
LIMITS = ImageLimits(
    formats=frozenset({"JPEG", "PNG"}), max_bytes=15_000_000, max_width=4096, max_height=4096
)
# The built-in engine's: 12000 a side.
WIDE = ImageLimits(
    formats=frozenset({"JPEG", "PNG"}), max_bytes=50_000_000, max_width=12000, max_height=12000
)


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every decode Pillow starts."""
    started: list[tuple[int, int]] = []
    load = Image.Image.load

    def counting(self: Image.Image) -> object:
        if getattr(self, "tile", None):
            started.append(self.size)
        return load(self)

    monkeypatch.setattr(Image.Image, "load", counting)
    return started


# --- The caps -------------------------------------------------------------------------------


def test_the_caps_at_the_default_budget(settings: SettingsWrapper) -> None:
    settings.IMAGE_MEMORY_BUDGET_MB = 700
    assert images.pixel_cap("JPEG") == images.SAFETY_MAX_PIXELS == 500_000_000
    assert images.pixel_cap("PNG") == 700_000_000 // 12  # 58.3 MP
    assert images.pixel_cap("WEBP") == 700_000_000 // 14  # 50 MP
    assert images.pixel_cap("HEIF") == images.pixel_cap("AVIF") == 700_000_000 // 16
    assert images.pixel_cap(images.PROGRESSIVE_JPEG) == 700_000_000 // 16
    # The budget decides the formats decoded whole, never past the safety cap.
    settings.IMAGE_MEMORY_BUDGET_MB = 100_000
    assert images.pixel_cap("PNG") == images.SAFETY_MAX_PIXELS


def test_within_its_cap_no_kind_goes_over_the_budget(settings: SettingsWrapper) -> None:
    """The caps are the budget over the worst a pixel costs: a photo just under one is never
    refused by the memory check that follows (so the form's warning is the whole story)."""
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    side = 900  # 0.81 MP: under a PNG's 0.83 MP cap
    for mode in ("RGB", "RGBA", "LA", "P", "I;16", "1", "L"):
        png = make_image((side, side), "PNG", mode, 0)
        images.check_fit_memory(io.BytesIO(png), WIDE)
    images.check_fit_memory(io.BytesIO(huge_png((side, side))), WIDE)
    cmyk = make_image((1100, 1100), "JPEG", "CMYK", 0)  # 1.21 MP under the 1.25 MP full decode
    images.check_fit_memory(io.BytesIO(cmyk), WIDE)


def over(kind: str) -> bytes:
    """A 1000×1000 photo of ``kind``: over every cap but a baseline JPEG's at a 10 MB budget."""
    if kind == "PNG":
        return make_image((1000, 1000), "PNG")
    if kind == "WEBP":
        return make_image((1000, 1000), "WEBP")
    if kind in {"HEIF", "AVIF"}:
        return phone_photo(kind, size=(1000, 1000))
    return make_image((1000, 1000), "JPEG", progressive=True)


@pytest.mark.parametrize("kind", ["PNG", "WEBP", "HEIF", "AVIF", images.PROGRESSIVE_JPEG])
def test_each_kind_over_its_cap_is_refused_from_its_header_in_the_forms_words(
    kind: str, settings: SettingsWrapper, decoded: list[tuple[int, int]]
) -> None:
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    data = over(kind)
    with pytest.raises(ImageRejected) as refused:
        images.check_upload(io.BytesIO(data))
    assert decoded == []
    label = {"HEIF": "HEIC"}.get(kind, kind)
    cap = {"PNG": "0.8", "WEBP": "0.7"}.get(kind, "0.6")
    assert str(refused.value) == (
        f"This image has too many pixels: at 1,000 × 1,000 it has 1 megapixels, and the most a "
        f"{label} may have is {cap} megapixels. Saved as an ordinary (baseline) JPEG it may have "
        "up to 500 megapixels: it is then scaled down to fit."
    )
    # What the page is given: the same numbers and the same sentence.
    given = images.pixel_caps()
    assert given["caps"][kind] == images.pixel_cap(kind)
    assert given["labels"][kind] == label
    words = given["too_many"] % {
        "width": "1,000",
        "height": "1,000",
        "megapixels": "1",
        "format": label,
        "cap": cap,
    }
    assert str(refused.value) == words + " " + given["save_as_jpeg"] % {"jpeg_cap": "500"}


def test_a_baseline_jpeg_of_the_same_size_is_taken(settings: SettingsWrapper) -> None:
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    data = make_image((1000, 1000))
    assert images.check_upload(io.BytesIO(data)).width == 1000
    assert images.fit(data, WIDE, vendor_label="X").width == 1000


# --- Decompression bombs ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(25_000, 20_001), (65_535, 65_535)])
def test_a_decompression_bomb_is_refused_clearly_before_decoding(
    size: tuple[int, int], decoded: list[tuple[int, int]]
) -> None:
    # Real JPEGs of 500 MP and more (a megabyte or two, gray): over the safety cap.
    bomb = gray_jpeg(size)
    message = "This image has too many pixels: the most any photo may have is 500 megapixels."
    for step in (
        lambda: images.check_upload(io.BytesIO(bomb)),
        lambda: metadata.clean_upload(bomb),
        lambda: images.fit(bomb, LIMITS, vendor_label="X"),
        lambda: images.thumbnail(bomb),
    ):
        with pytest.raises(ImageRejected) as refused:
            step()
        assert str(refused.value) == message
    assert decoded == []


# --- Big JPEGs, decoded reduced ---------------------------------------------------------------


def test_a_108_megapixel_jpeg_is_checked_and_fitted_from_a_reduced_decode(
    decoded: list[tuple[int, int]],
) -> None:
    data = gray_jpeg((12_000, 9_000))
    assert images.check_upload(io.BytesIO(data)).width == 12_000
    images.check_fit_memory(io.BytesIO(data), LIMITS)
    assert metadata.clean_upload(data) == data  # decoded whole at an eighth: every byte read
    fitted = images.fit(data, LIMITS, vendor_label="PicWish")
    assert (fitted.width, fitted.height) == (4096, 3072)
    assert fitted.notes == (
        "Scaled down from 12000×9000 to 4096×3072 pixels to fit PicWish's limit of 4096×4096.",
    )
    # Never decoded at its full size: an eighth for the check, a half to fit.
    assert (12_000, 9_000) not in decoded
    assert (6000, 4500) in decoded


def test_a_200_megapixel_jpeg_is_decoded_at_a_quarter_a_little_under_the_limit(
    decoded: list[tuple[int, int]],
) -> None:
    # A 200 MP phone sensor's size: a quarter is 4080×3060, within a tenth of 4096×3072, for
    # a quarter of the memory of the half (8160×6120).
    fitted = images.fit(gray_jpeg((16_320, 12_240)), LIMITS, vendor_label="PicWish")
    assert (fitted.width, fitted.height) == (4080, 3060)
    assert decoded == [(4080, 3060)]
    assert "Scaled down from 16320×12240 to 4080×3060 pixels" in fitted.notes[0]


def test_a_jpeg_under_the_full_decode_cap_is_fitted_exactly_as_before() -> None:
    fitted = images.fit(make_image((5000, 2500)), LIMITS, vendor_label="PicWish")
    assert (fitted.width, fitted.height) == (4096, 2048)


def test_a_jpeg_within_the_limits_but_over_the_budget_is_decoded_smaller(
    settings: SettingsWrapper, decoded: list[tuple[int, int]]
) -> None:
    # 2 MP at a 10 MB budget: 16 MB decoded whole, so a half (4 MB), although 12000 a side
    # would take it as it is.
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    data = make_image((2000, 1000))
    images.check_fit_memory(io.BytesIO(data), WIDE)
    fitted = images.fit(data, WIDE, vendor_label="Built-in")
    assert (fitted.width, fitted.height) == (1000, 500)
    assert decoded == [(1000, 500)]
    assert fitted.notes == (
        "Scaled down from 2000×1000 to 1000×500 pixels: a JPEG this big is decoded at a "
        "reduced size to stay within the studio's memory.",
    )


def test_a_500_megapixel_jpeg_fits_the_built_in_engine_within_the_budget(
    settings: SettingsWrapper,
) -> None:
    """Only the header and the draft are looked at: 25,000 × 20,000 fitted to 12000 a side
    would be decoded at a half (125 MP, 1 GB); the budget makes it a quarter."""
    settings.IMAGE_MEMORY_BUDGET_MB = 700
    image = Image.open(io.BytesIO(gray_jpeg((25_000, 20_000))))
    images._draft_if_big(image, WIDE)
    assert image.size == (6250, 5000)
    images.within_budget(image)


# --- Progressive JPEGs --------------------------------------------------------------------------


def test_a_progressive_jpeg_counts_its_coefficients_at_any_scale() -> None:
    image = Image.open(io.BytesIO(gray_jpeg((1600, 1200), progressive=True)))
    # 4:2:0: a full-size luma plane and two quarter-size chroma planes, two bytes a sample.
    coefficients = 1600 * 1200 * 3 // 2 * 2
    assert images.coefficient_bytes(image) == coefficients
    image.draft("RGB", (200, 150))
    assert image.size == (200, 150)
    assert images.coefficient_bytes(image) == coefficients
    assert images.memory_needed(image, copies=0) == 200 * 150 * 4 + coefficients
    baseline = Image.open(io.BytesIO(gray_jpeg((1600, 1200))))
    assert images.coefficient_bytes(baseline) == 0


def test_a_progressive_jpeg_under_its_cap_is_taken(settings: SettingsWrapper) -> None:
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    data = gray_jpeg((700, 700), progressive=True)  # 0.49 MP, under 0.625
    assert metadata.clean_upload(data) == data
    assert images.fit(data, WIDE, vendor_label="X").width == 700


# --- The form and the server ---------------------------------------------------------------------


def test_the_form_carries_the_servers_caps(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get(reverse("editor:operation", args=["colorize"]))
    form = response.context["form"]
    attrs = form.fields["file_image"].widget.attrs
    assert json.loads(attrs["data-pixel-caps"]) == images.pixel_caps()
    assert "data-pixel-caps" in response.content.decode()


def test_a_108_megapixel_jpeg_becomes_a_job_that_says_it_will_be_scaled_down(
    client: Client, alice: User
) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    upload = SimpleUploadedFile("big.jpg", gray_jpeg((12_000, 9_000)), "image/jpeg")
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": upload},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("editor:job", args=[Job.objects.get().pk])
    assert "12000×9000 pixels; it will be scaled down" in response.content.decode()


def test_a_jpeg_within_the_limits_but_decoded_smaller_is_noted_at_submit(
    client: Client, alice: User, settings: SettingsWrapper
) -> None:
    # 2 MP at a 10 MB budget: over the 1.25 MP a JPEG is decoded whole at, within the built-in
    # engine's 12000 a side. The page's script says the same sentence (decoded_smaller).
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    client.force_login(alice)
    upload = SimpleUploadedFile("wide.jpg", make_image((2000, 1000)), "image/jpeg")
    response = client.post(
        reverse("editor:operation", args=["color_migration"]),
        {
            "provider": "local",
            "mode": "AUTO",
            "degree": "0.5",
            "color_count": "3",
            "file_image": upload,
        },
        follow=True,
    )
    assert Job.objects.count() == 1, response.context["form"].errors
    note = images.decoded_smaller(2000, 1000)
    assert note == (
        "At 2,000 × 1,000 px this JPEG is more than the studio decodes whole: it will be "
        "decoded at a reduced size and scaled down."
    )
    assert note in response.content.decode()
    assert images.pixel_caps()["jpeg_full_decode"] == 1_250_000
