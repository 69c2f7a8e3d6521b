from __future__ import annotations

import io
import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageCms, ImageDraw, ImageFilter

from editor.vendors.base import Done, InputImage, ParamValue, VendorError, VendorRequest
from editor.vendors.local import adapter as local
from editor.vendors.local.adapter import LocalAdapter
from editor.vendors.local.color import to_lut
from tests.images import ORIENTATION, SRGB, camera_jpeg, private_metadata

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def scene(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A small landscape: blue sky gradient, green hills, a red block, a face, a gray card."""
    width, height = size
    sky = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize(size).point(lambda v: 70 + v // 2),
            Image.linear_gradient("L").resize(size).point(lambda v: 130 + v // 3),
            Image.linear_gradient("L").resize(size).point(lambda v: 210 + v // 9),
        ],
    )
    draw = ImageDraw.Draw(sky)
    draw.ellipse(
        (-width // 4, height * 5 // 8, width * 2 // 3, height * 3 // 2), fill=(60, 140, 50)
    )
    draw.ellipse((width // 2, height * 2 // 3, width * 4 // 3, height * 3 // 2), fill=(90, 160, 60))
    draw.rectangle(
        (width * 7 // 10, height // 4, width * 85 // 100, height * 3 // 4), fill=(200, 40, 40)
    )
    draw.ellipse((width // 5, height // 4, width * 2 // 5, height // 2), fill=(224, 172, 130))
    draw.rectangle((2, 2, width // 6, height // 6), fill=(128, 128, 128))
    return sky.filter(ImageFilter.GaussianBlur(1))


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> InputImage:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return InputImage(buffer.getvalue(), MEDIA_TYPES.get(fmt, "image/png"))


def run(
    image: InputImage, ref: InputImage | None = None, /, **params: ParamValue
) -> tuple[Done, list[Image.Image]]:
    files = {"image": image} if ref is None else {"image": image, "ref": ref}
    done = LocalAdapter(api_key="").submit(VendorRequest("color_migration", files, params))
    decoded: list[Image.Image] = []
    for result in done.images:
        opened = Image.open(io.BytesIO(result.data))
        opened.load()
        decoded.append(opened)
    return done, decoded


def pixels(image: Image.Image) -> npt.NDArray[np.int16]:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def mean_abs_difference(first: Image.Image, second: Image.Image) -> float:
    return float(np.abs(pixels(first) - pixels(second)).mean())


def hue_distance_to_blue(image: Image.Image) -> float:
    """Circular distance (degrees) from the saturation-weighted mean hue to pure blue (240°)."""
    hsv = np.asarray(image.convert("HSV"), dtype=np.float64)
    angle = hsv[..., 0] / 255 * 2 * math.pi
    weight = hsv[..., 1]
    mean = math.atan2(float((weight * np.sin(angle)).sum()), float((weight * np.cos(angle)).sum()))
    return abs((math.degrees(mean) - 240 + 180) % 360 - 180)


def test_declares_the_local_color_migration_engine() -> None:
    adapter = LocalAdapter(api_key="")
    assert (adapter.vendor, adapter.label) == ("local", "Built-in engine")
    assert adapter.operations == frozenset({"color_migration"})
    for role in ("image", "ref"):
        limits = LocalAdapter.limits("color_migration", role)
        assert limits.formats == frozenset({"JPEG", "PNG", "WEBP"})
        assert (limits.min_width, limits.max_width) == (16, 12000)
        assert limits.rgb_only
    with pytest.raises(ValueError, match="mask"):
        LocalAdapter.limits("color_migration", "mask")


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"mode": "AUTO", "degree": 0.5}, 1),
        ({"mode": "AUTO", "degree": 0.5, "color_count": 4}, 4),
        ({"mode": "TEMPLATE", "degree": 0.5, "color_template": ("DB0D0D", "0E0CBB")}, 1),
        ({"mode": "REF_PIC", "degree": 0.5}, 1),
    ],
)
@pytest.mark.parametrize(("fmt", "media_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_each_mode_returns_its_count_of_same_size_images(
    params: dict[str, ParamValue], count: int, fmt: str, media_type: str
) -> None:
    ref = encode(Image.new("RGB", (40, 30), (200, 60, 40)), "JPEG")
    done, images = run(encode(scene((61, 47)), fmt), ref, **params)
    assert len(done.images) == count
    assert {result.media_type for result in done.images} == {media_type}
    assert {(image.format, image.size, image.mode) for image in images} == {(fmt, (61, 47), "RGB")}


def test_webp_input_comes_back_as_png() -> None:
    done, images = run(encode(scene(), "WEBP", lossless=True), mode="AUTO", degree=0.4)
    assert done.media_type == "image/png"
    assert images[0].format == "PNG"


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "AUTO", "color_count": 3},
        {"mode": "TEMPLATE", "color_template": ("0000FF", "FFFF00")},
        {"mode": "REF_PIC"},
    ],
)
def test_degree_zero_gives_back_the_photo(params: dict[str, ParamValue]) -> None:
    photo = scene()
    ref = encode(Image.new("RGB", (40, 30), (255, 0, 0)))
    _, images = run(encode(photo), ref, degree=0.0, **params)
    for image in images:
        assert np.abs(pixels(image) - pixels(photo)).max() <= 2


def test_reference_photo_moves_colors_toward_it() -> None:
    # A cool, grayish photo and a strongly red reference.
    photo = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize((80, 60)).point(lambda v: 90 + v // 4),
            Image.linear_gradient("L").resize((80, 60)).point(lambda v: 100 + v // 4),
            Image.linear_gradient("L").resize((80, 60)).point(lambda v: 140 + v // 4),
        ],
    )
    red = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize((50, 40)).point(lambda v: 150 + v * 100 // 255),
            Image.new("L", (50, 40), 30),
            Image.new("L", (50, 40), 40),
        ],
    )
    _, weak = run(encode(photo), encode(red, "JPEG"), mode="REF_PIC", degree=0.3)
    _, strong = run(encode(photo), encode(red, "JPEG"), mode="REF_PIC", degree=0.9)

    def redness(image: Image.Image) -> float:
        channels = pixels(image).reshape(-1, 3).mean(axis=0)
        return float(channels[0] - channels[2])

    assert redness(photo) < -40
    assert redness(weak[0]) > redness(photo) + 20
    assert redness(strong[0]) > redness(weak[0]) + 20
    assert redness(strong[0]) > 20


def test_blue_palette_moves_the_main_color_toward_blue() -> None:
    # A mostly green/yellow photo: the dominant color should become blue.
    photo = Image.merge(
        "RGB",
        [
            Image.linear_gradient("L").resize((80, 60)).point(lambda v: 60 + v // 2),
            Image.new("L", (80, 60), 160),
            Image.new("L", (80, 60), 50),
        ],
    )
    _, images = run(encode(photo), mode="TEMPLATE", degree=0.9, color_template=("0000FF",))
    result = images[0]
    assert hue_distance_to_blue(photo) > 120
    assert hue_distance_to_blue(result) < 45
    before = pixels(photo).reshape(-1, 3).mean(axis=0)
    after = pixels(result).reshape(-1, 3).mean(axis=0)
    assert after[2] - after[1] > before[2] - before[1] + 60


def test_palette_entries_may_use_a_hash_or_an_alpha_byte() -> None:
    photo = encode(scene())
    results = [
        run(photo, mode="TEMPLATE", degree=0.7, color_template=template)[0].data
        for template in (("DB0D0D", "0E0CBB"), ("#DB0D0D", "FF0E0CBB"), "DB0D0D, #0E0CBB")
    ]
    assert results[0] == results[1] == results[2]
    assert results[0] != run(photo, mode="TEMPLATE", degree=0.7, color_template=("0E0CBB",))[0].data


def test_auto_families_differ_from_each_other_and_from_the_photo() -> None:
    photo = scene()
    _, images = run(encode(photo), mode="AUTO", degree=0.8, color_count=3)
    assert len(images) == 3
    for image in images:
        assert mean_abs_difference(image, photo) > 8
    for first, second in itertools.combinations(images, 2):
        assert mean_abs_difference(first, second) > 8


def test_stronger_degree_moves_colors_further() -> None:
    photo = scene()
    changes = [
        mean_abs_difference(
            run(encode(photo), mode="TEMPLATE", degree=degree, color_template=("C03090",))[1][0],
            photo,
        )
        for degree in (0.2, 0.5, 1.0)
    ]
    assert 0 < changes[0] < changes[1] < changes[2]


def test_neutrals_move_much_less_than_colors() -> None:
    photo = scene((120, 80))
    _, images = run(encode(photo), mode="AUTO", degree=1.0, color_count=1)
    difference = np.abs(pixels(images[0]) - pixels(photo)).sum(axis=-1)
    gray_card = difference[3:11, 3:17].mean()  # inside the (128, 128, 128) card
    sky = difference[3:11, 40:60].mean()
    assert gray_card < sky / 4


def test_results_are_deterministic() -> None:
    photo = encode(scene(), "JPEG")
    first = run(photo, mode="AUTO", degree=0.6, color_count=2)[0]
    second = run(photo, mode="AUTO", degree=0.6, color_count=2)[0]
    assert [image.data for image in first.images] == [image.data for image in second.images]


def reference_results(
    image: InputImage, ref: InputImage | None, params: dict[str, ParamValue]
) -> list[bytes]:
    """The engine the slow way: statistics first, then each table applied to the whole decoded
    photo in one call on this thread, no strips, no threads, no decode overlapped."""
    photo = local.Photo.open(image, "photo")
    targets = local.Recipe.from_params(params).targets(photo.statistics, ref)
    whole = Image.open(io.BytesIO(image.data))
    whole.load()
    return [photo.encode(whole.filter(to_lut(target))).data for target in targets]


@pytest.mark.parametrize("size", [(150, 16), (150, 17), (97, 101), (1100, 701)])
@pytest.mark.parametrize(
    "params",
    [
        # Two results: the first is written into a new image, the last over the decoded photo.
        {"mode": "AUTO", "degree": 0.7, "color_count": 2},
        {"mode": "TEMPLATE", "degree": 0.8, "color_template": ("DB0D0D", "0E0CBB")},
        {"mode": "REF_PIC", "degree": 0.9},
    ],
)
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_strips_threads_and_overlapped_decode_change_no_byte(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int], params: dict[str, ParamValue], fmt: str
) -> None:
    # 16-row strips (the least): heights of exactly one strip, one strip and a row, an odd
    # count with a short last strip, and a photo above the 512 px of the statistics, whose JPEG
    # statistics come from a reduced decode beside the full-size one.
    monkeypatch.setattr(local, "STRIP_PIXELS", 1)
    photo = encode(scene(size), fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    ref = encode(Image.new("RGB", (40, 30), (200, 60, 40)), "JPEG")
    done, _ = run(photo, ref, **params)
    assert [image.data for image in done.images] == reference_results(photo, ref, params)


def test_jpeg_statistics_do_not_depend_on_whether_the_photo_is_loaded() -> None:
    # The full-size decode runs beside the statistics: whichever ends first, same statistics.
    image = encode(scene((1100, 701)), "JPEG", quality=90)
    before = local.Photo.open(image, "photo")
    after = local.Photo.open(image, "photo")
    after.load()
    assert np.array_equal(before.statistics, after.statistics)


def test_a_photo_that_fails_to_decode_in_full_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # The full-size decode runs on another thread; its error must still reach the caller.
    def broken(photo: local.Photo) -> None:
        raise local._invalid(local._undecodable("photo"))

    monkeypatch.setattr(local.Photo, "load", broken)
    with pytest.raises(VendorError) as caught:
        run(encode(scene((200, 150)), "JPEG"), mode="AUTO", degree=0.5)
    assert (caught.value.code, caught.value.retryable) == ("invalid_image", False)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"mode": "X", "degree": 0.5}, "Mode"),
        ({"degree": 0.5}, "Mode"),
        ({"mode": "AUTO"}, "degree"),
        ({"mode": "AUTO", "degree": 1.5}, "between 0 and 1"),
        ({"mode": "AUTO", "degree": -0.1}, "between 0 and 1"),
        ({"mode": "AUTO", "degree": "strong"}, "number"),
        ({"mode": "AUTO", "degree": float("nan")}, "number"),
        ({"mode": "AUTO", "degree": 0.5, "color_count": 9}, "1 to 8"),
        ({"mode": "AUTO", "degree": 0.5, "color_count": 0}, "1 to 8"),
        ({"mode": "AUTO", "degree": 0.5, "color_count": 2.5}, "whole number"),
        ({"mode": "TEMPLATE", "degree": 0.5}, "palette"),
        ({"mode": "TEMPLATE", "degree": 0.5, "color_template": ()}, "1 to 7"),
        ({"mode": "TEMPLATE", "degree": 0.5, "color_template": ("112233",) * 8}, "1 to 7"),
        ({"mode": "TEMPLATE", "degree": 0.5, "color_template": ("GG0000",)}, "GG0000"),
        ({"mode": "TEMPLATE", "degree": 0.5, "color_template": ("12345",)}, "12345"),
        ({"mode": "REF_PIC", "degree": 0.5}, "reference photo"),
    ],
)
def test_bad_parameters_are_refused_for_good(params: dict[str, ParamValue], fragment: str) -> None:
    with pytest.raises(VendorError) as caught:
        run(encode(scene()), **params)
    assert caught.value.retryable is False
    assert caught.value.code == "invalid_parameter"
    assert fragment in caught.value.message


def test_other_operations_are_refused() -> None:
    request = VendorRequest("colorize", {"image": encode(scene())}, {})
    with pytest.raises(VendorError) as caught:
        LocalAdapter(api_key="").submit(request)
    assert (caught.value.code, caught.value.retryable) == ("unsupported_operation", False)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"not an image", "JPEG, PNG or WebP"),
        (encode(scene(), "GIF").data, "JPEG, PNG or WebP"),
        (encode(scene((200, 150)), "JPEG").data[:1500], "damaged"),
        (encode(Image.new("RGB", (12, 40))).data, "smaller than 16 x 16"),
    ],
)
def test_unreadable_photos_are_refused(data: bytes, fragment: str) -> None:
    with pytest.raises(VendorError) as caught:
        run(InputImage(data, "image/jpeg"), mode="AUTO", degree=0.5)
    assert (caught.value.code, caught.value.retryable) == ("invalid_image", False)
    assert fragment in caught.value.message


def test_an_unreadable_reference_is_named_as_such() -> None:
    with pytest.raises(VendorError) as caught:
        run(encode(scene()), InputImage(b"nope", "image/png"), mode="REF_PIC", degree=0.5)
    assert caught.value.code == "invalid_image"
    assert "reference photo" in caught.value.message


def test_jpeg_keeps_its_icc_profile_and_orientation_but_not_other_exif() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the pixels are stored sideways
    exif[0x010F] = "Camera maker"
    photo = encode(scene(), "JPEG", icc_profile=profile, exif=exif.tobytes(), quality=90)
    _, images = run(photo, mode="TEMPLATE", degree=0.6, color_template=("DB0D0D",))
    assert images[0].info.get("icc_profile") == profile
    assert images[0].getexif().get(0x0112) == 6
    assert 0x010F not in images[0].getexif()


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    photo = scene()
    _, images = run(encode(photo.convert("CMYK"), "JPEG", quality=95), mode="AUTO", degree=0.0)
    assert (images[0].format, images[0].mode, images[0].size) == ("JPEG", "RGB", photo.size)
    assert "icc_profile" not in images[0].info
    assert mean_abs_difference(images[0], photo) < 6


def test_palette_png_is_converted_and_transparency_is_kept() -> None:
    photo = scene().convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    _, opaque = run(encode(photo), mode="AUTO", degree=0.0)
    assert (opaque[0].mode, opaque[0].size) == ("RGB", photo.size)
    assert np.abs(pixels(opaque[0]) - pixels(photo)).max() <= 2

    translucent = scene().convert("RGBA")
    translucent.putalpha(Image.linear_gradient("L").resize(translucent.size))
    _, images = run(encode(translucent), mode="AUTO", degree=0.8)
    assert images[0].mode == "RGBA"
    assert np.array_equal(np.asarray(images[0])[..., 3], np.asarray(translucent)[..., 3])


def test_poll_has_nothing_to_poll() -> None:
    with pytest.raises(VendorError) as caught:
        LocalAdapter(api_key="").poll("anything")
    assert caught.value.retryable is False


def test_palette_colors_go_to_color_families_not_to_grays() -> None:
    photo = scene((120, 80))
    _, images = run(
        encode(photo), mode="TEMPLATE", degree=1.0, color_template=("DB0D0D", "0E0CBB", "F2C12E")
    )
    difference = np.abs(pixels(images[0]) - pixels(photo)).sum(axis=-1)
    gray_card = difference[3:11, 3:17].mean()
    hills = difference[70:78, 10:40].mean()
    assert gray_card < 12
    assert hills > 60


def test_a_result_carries_no_comment_or_gps_but_keeps_profile_and_orientation() -> None:
    tagged = camera_jpeg(orientation=6)
    done, _decoded = run(InputImage(tagged, "image/jpeg"), mode="AUTO", degree=0.5)
    for result in done.images:
        assert private_metadata(result.data) == set()
        image = Image.open(io.BytesIO(result.data))
        assert image.info["icc_profile"] == SRGB
        assert image.getexif()[ORIENTATION] == 6
