"""Phone photos: HEIC and AVIF read, turned upright, stripped and converted; a damaged one
refused on its field; shown to browsers as JPEG; and the photo details a download keeps."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image, ImageOps
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import images, metadata
from editor.models import Job, Result, Vendor
from tests.factories import job_with_details, make_job, make_key
from tests.images import (
    DAMAGED_HEIC,
    DATE_TAKEN,
    EXIF_IFD,
    F_NUMBER,
    MAKE,
    MODEL,
    ORIENTATION,
    SRGB,
    TAKEN_ON,
    cut_heic,
    encode,
    has_gps,
    is_upright,
    make_image,
    open_image,
    phone_photo,
    private_metadata,
)

pytestmark = pytest.mark.django_db

LIMITS = images.ImageLimits(
    formats=frozenset({"JPEG", "PNG", "WEBP"}),
    max_bytes=10_000_000,
    max_width=4000,
    max_height=4000,
)


# --- Sniffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), [("HEIF", "image/heic"), ("AVIF", "image/avif")])
def test_heic_and_avif_are_known_by_their_ftyp_brands(fmt: str, mime: str) -> None:
    data = phone_photo(fmt)
    found = images.sniff(data[: images.SNIFF_BYTES])
    assert found is not None
    assert (found.format, found.mime) == (fmt, mime)
    assert images.check_upload(io.BytesIO(data)).format == fmt


def test_an_avif_that_lists_mif1_first_is_still_an_avif_and_a_video_is_nothing() -> None:
    avif = b"\0\0\0\x1cftypmif1\0\0\0\0mif1avifmiaf" + bytes(20)
    video = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2" + bytes(20)
    assert images.format_of(avif) == "AVIF"
    assert images.sniff(video) is None
    assert images.sniff(b"\0\0\0\x08ftyp") is None  # an ftyp box too short to name a brand


def test_the_file_picker_offers_phone_photos_by_type_and_by_extension() -> None:
    accepted = images.ACCEPT.split(",")
    assert {"image/heic", "image/heif", "image/avif", ".heic", ".heif", ".avif"} <= set(accepted)


# --- Decoding: upright, colour profile, memory -----------------------------------------------


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_sideways_phone_photo_is_fitted_upright_as_jpeg_with_its_profile(fmt: str) -> None:
    fitted = images.fit(phone_photo(fmt), LIMITS, vendor_label="PicWish")
    assert fitted.image.media_type == "image/jpeg"
    image = open_image(fitted.image.data)
    assert is_upright(image)
    assert image.getexif().get(ORIENTATION, 1) == 1  # turned once, not tagged to turn again
    assert (fitted.width, fitted.height) == image.size == (48, 96)
    assert image.info["icc_profile"] == SRGB
    assert private_metadata(fitted.image.data) == set()
    label = "HEIC" if fmt == "HEIF" else "AVIF"
    assert f"Converted from {label} to JPEG." in fitted.notes


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_thumbnails_and_converted_copies_of_phone_photos_are_upright(fmt: str) -> None:
    thumb = images.thumbnail(phone_photo(fmt))
    assert is_upright(open_image(thumb.thumbnail))
    png = images.convert(phone_photo(fmt), "PNG", 90)
    assert is_upright(open_image(png))


def test_the_memory_budget_counts_the_phone_decoders_own_buffers(
    settings: SettingsWrapper,
) -> None:
    heic = Image.open(io.BytesIO(phone_photo("HEIF", size=(1000, 2000))))
    png = Image.open(io.BytesIO(encode(Image.new("RGB", (2000, 1000)), "PNG")))
    assert images.memory_needed(heic) >= images.memory_needed(png) + 2000 * 1000 * 8
    # 2 MP at 4 + 4 + 8 bytes a pixel: 32 MB, over a 20 MB budget, whose HEIC cap (1.25 MP)
    # refuses it from its header.
    settings.IMAGE_MEMORY_BUDGET_MB = 20
    assert images.pixel_cap("HEIF") == 20_000_000 // 16
    with pytest.raises(images.ImageRejected, match=r"the most a HEIC may have is 1\.2 megapixels"):
        images.fit(phone_photo("HEIF", size=(1000, 2000)), LIMITS, vendor_label="PicWish")


# --- What the studio keeps of an upload --------------------------------------------------------


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_an_upload_loses_gps_serial_camera_and_xmp_in_place_but_keeps_its_pixels(
    fmt: str,
) -> None:
    original = phone_photo(fmt)
    kept = metadata.clean_upload(original)
    assert images.format_of(kept) == fmt  # not re-encoded: same container, same length
    assert len(kept) == len(original)
    assert not has_gps(kept)
    assert b"PhoneCorp" not in kept
    assert b"SN-4417-0042" not in kept
    assert b"Secret place" not in kept
    image = open_image(kept)
    assert image.info["icc_profile"] == SRGB
    assert is_upright(ImageOps.exif_transpose(image) if fmt == "AVIF" else image)
    # The same coded picture: decoded, the pixels are those of the original.
    assert image.tobytes() == open_image(original).tobytes()


def test_the_details_kept_beside_a_photo_are_its_date_camera_and_settings_never_its_place() -> None:
    details = metadata.photo_details(phone_photo("HEIF"))
    exif = Image.Exif()
    exif.load(details)
    assert (exif[MAKE], exif[MODEL]) == ("PhoneCorp", "Phone 15")
    assert exif.get_ifd(EXIF_IFD)[DATE_TAKEN] == TAKEN_ON
    assert float(exif.get_ifd(EXIF_IFD)[F_NUMBER]) == 1.8
    assert not exif.get_ifd(0x8825)
    assert 0x8825 not in exif
    assert b"SN-4417-0042" not in details
    assert ORIENTATION not in exif
    camera_only = Image.Exif()
    camera_only.load(metadata.details_for(details, everything=False))
    assert camera_only[MODEL] == "Phone 15"
    assert F_NUMBER not in camera_only.get_ifd(EXIF_IFD)
    assert metadata.photo_details(make_image()) == b""


def test_a_damaged_heic_gets_a_field_error_naming_it(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    upload = SimpleUploadedFile("IMG_0042.HEIC", cut_heic(), content_type="image/heic")
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": upload},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file_image"] == [DAMAGED_HEIC]
    assert DAMAGED_HEIC in response.content.decode()
    assert not Job.objects.exists()


def test_a_heic_input_is_shown_to_the_browser_as_an_upright_jpeg(
    client: Client, alice: User, bob: User
) -> None:
    job = make_job(alice)
    name = default_storage.save(
        f"jobs/{alice.pk}/{job.pk}/input-image.heic",
        ContentFile(metadata.clean_upload(phone_photo("HEIF"))),
    )
    job.inputs = {"image": name}
    job.prepared = {}
    job.save()
    url = reverse("editor:job_input", args=[job.pk, "image"])
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert is_upright(open_image(response.content))
    client.force_login(bob)
    assert client.get(url).status_code == 404


# --- Downloads: the photo details they carry --------------------------------------------------


def _download(client: Client, result: Result, **query: str) -> Image.Image:
    url = reverse("editor:result_download", args=[result.job_id, result.pk])
    response = client.get(url, query)
    assert response.status_code == 200, response.content[:300]
    return open_image(response.content)


@pytest.mark.parametrize("fmt", ["original", "jpeg", "png", "webp"])
def test_a_download_keeps_the_capture_date_and_camera_by_default_never_the_place(
    client: Client, alice: User, fmt: str
) -> None:
    result = job_with_details(alice)
    client.force_login(alice)
    image = _download(client, result, format=fmt)
    exif = image.getexif()
    assert (exif[MAKE], exif[MODEL]) == ("PhoneCorp", "Phone 15")
    assert exif.get_ifd(EXIF_IFD)[DATE_TAKEN] == TAKEN_ON
    assert F_NUMBER not in exif.get_ifd(EXIF_IFD)  # settings only "as uploaded"
    assert not exif.get_ifd(0x8825)
    assert image.info["icc_profile"] == SRGB
    # Upright as before: the original keeps its own orientation tag, copies are turned.
    assert ImageOps.exif_transpose(image).size == (64, 96)


def test_drop_all_and_as_uploaded_downloads(client: Client, alice: User) -> None:
    result = job_with_details(alice)
    client.force_login(alice)
    bare = _download(client, result, format="jpeg", metadata="none")
    assert MAKE not in bare.getexif()
    assert not bare.getexif().get_ifd(EXIF_IFD)
    everything = _download(client, result, format="jpeg", metadata="uploaded")
    assert float(everything.getexif().get_ifd(EXIF_IFD)[F_NUMBER]) == 1.8
    assert not everything.getexif().get_ifd(0x8825)
    original = _download(client, result, metadata="none")
    assert dict(original.getexif()) == {ORIENTATION: 6}  # only what shows it upright
    # Each choice is its own kept copy: asking again gives the same answer.
    again = _download(client, result, format="jpeg", metadata="none")
    assert MAKE not in again.getexif()


def test_a_bad_details_choice_is_refused_on_the_page(client: Client, alice: User) -> None:
    result = job_with_details(alice)
    client.force_login(alice)
    url = reverse("editor:result_download", args=[result.job_id, result.pk])
    response = client.get(url, {"metadata": "gps"})
    assert response.status_code == 400
    assert "Choose camera" in response.content.decode()
