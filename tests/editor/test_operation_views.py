from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django import Settings as SettingsWrapper

from accounts.models import Quota, User
from editor import metadata, operations, uploads
from editor.models import Draft, Job, JobStatus, Vendor
from tests.factories import make_key
from tests.images import (
    HTML_TAIL,
    ORIENTATION,
    SRGB,
    camera_jpeg,
    cut_jpeg,
    huge_png,
    lying_jpeg,
    make_image,
    open_image,
    photo,
    png_with_bad_crc,
    private_metadata,
    zip_tail,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("operation", operations.OPERATIONS, ids=lambda o: o.slug)
def test_every_operation_page_renders_every_documented_parameter(
    client: Client, alice: User, operation: operations.Operation
) -> None:
    client.force_login(alice)
    response = client.get(reverse("editor:operation", args=[operation.slug]))
    assert response.status_code == 200
    content = response.content.decode()
    for param in operation.params:
        assert f'name="{param.name}"' in content
    for spec in operation.files:
        assert f'name="file_{spec.role}"' in content


def test_operation_pages_need_login(client: Client) -> None:
    response = client.get(reverse("editor:operation", args=["colorize"]))
    assert response.status_code == 302


def test_unknown_operation_is_404(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert client.get(reverse("editor:operation", args=["nope"])).status_code == 404


def test_without_a_key_the_form_links_to_the_vault(client: Client, alice: User) -> None:
    client.force_login(alice)
    page = client.get(reverse("editor:operation", args=["colorize"])).content.decode()
    assert "You have no PicWish key yet" in page
    assert reverse("editor:vault") in page
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": photo()},
    )
    assert response.status_code == 200
    assert "Add one in your vault first" in response.content.decode()
    assert not Job.objects.exists()


def test_submitting_creates_a_job_and_redirects_to_it(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "png", "file_image": photo()},
    )
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("editor:job", args=[job.pk])
    assert (job.owner, job.operation, job.provider, job.status) == (
        alice,
        "colorize",
        "picwish",
        JobStatus.QUEUED,
    )
    assert job.params == {"format": "png"}
    assert job.credits == 1
    assert "p.jpg" not in str(job.inputs)  # never the user's file name in storage


def test_htmx_submit_answers_with_a_client_redirect(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": photo()},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("editor:job", args=[Job.objects.get().pk])


def test_htmx_validation_errors_return_only_the_form(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["extend"]),
        {"provider": "ailabtools", "top": "3"},
        headers={"HX-Request": "true"},
    )
    content = response.content.decode()
    assert "<html" not in content
    assert 'id="operation-form"' in content
    assert "Choose a photo." in content
    assert "less than or equal to 1" in content


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The submitted file is empty"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>x</script></svg>", "not an image"),
        (make_image((30, 30), "GIF", "P", 1), "GIF images are not supported"),
    ],
)
def test_bad_uploads_get_field_errors(
    client: Client, alice: User, data: bytes, message: str
) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": SimpleUploadedFile("x.jpg", data)},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_a_too_large_photo_is_accepted_with_a_note(client: Client, alice: User) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["retouch"]),
        {
            "provider": "ailabtools",
            "file_image": photo((3200, 1000)),
            "file_style": photo((300, 300)),
        },
        follow=True,
    )
    assert Job.objects.count() == 1
    assert "it will be scaled down to fit" in response.content.decode()


def test_color_migration_modes_take_their_own_fields(client: Client, alice: User) -> None:
    client.force_login(alice)
    url = reverse("editor:operation", args=["color_migration"])
    response = client.post(
        url,
        {"provider": "local", "mode": "TEMPLATE", "degree": "0.5", "color_template": "#ff0000, zz"},
    )
    assert "zz is not a hex color" in response.content.decode()
    response = client.post(
        url,
        {
            "provider": "local",
            "mode": "TEMPLATE",
            "degree": "0.5",
            "color_count": "3",
            "color_template": "#ff0000, 00ff00",
            "file_image": photo(),
        },
    )
    job = Job.objects.get()
    assert response.status_code == 302
    assert job.params == {"mode": "TEMPLATE", "degree": 0.5, "color_template": ["FF0000", "00FF00"]}
    assert job.credits == 0
    response = client.post(
        url, {"provider": "local", "mode": "REF_PIC", "degree": "0.5", "file_image": photo()}
    )
    assert "Choose a photo." in response.content.decode()


def test_the_quota_message_names_the_limit(
    client: Client, alice: User, settings: SettingsWrapper
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 1
    settings.QUOTA_WAITING_JOBS = 0
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    url = reverse("editor:operation", args=["colorize"])
    for expected in (302, 200):
        response = client.post(url, {"provider": "picwish", "format": "jpg", "file_image": photo()})
        assert response.status_code == expected
    assert "lets none wait for a slot" in response.content.decode()
    assert Job.objects.count() == 1


def test_keys_of_another_user_are_never_used(client: Client, alice: User, bob: User) -> None:
    bobs = make_key(bob, Vendor.PICWISH)
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "key": str(bobs.pk), "file_image": photo()},
    )
    assert "Select a valid choice" in response.content.decode()
    assert not Job.objects.exists()


def test_the_secret_never_reaches_the_page(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH, secret="sandbox-very-secret-value-9876")
    client.force_login(alice)
    page = client.get(reverse("editor:operation", args=["colorize"])).content.decode()
    assert "very-secret" not in page
    assert "••••9876" in page


def test_stored_inputs_are_the_uploaded_bytes(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    upload = photo()
    data = upload.read()
    upload.seek(0)
    client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": upload},
    )
    job = Job.objects.get()
    with default_storage.open(job.inputs["image"], "rb") as handle:
        assert handle.read() == data


def test_fields_say_when_they_apply_so_the_page_can_hide_the_rest(
    client: Client, alice: User
) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    client.force_login(alice)
    page = client.get(reverse("editor:operation", args=["color_migration"])).content.decode()
    assert 'data-when="mode=AUTO"' in page
    assert 'data-when="mode=TEMPLATE"' in page
    assert 'data-when="mode=REF_PIC"' in page
    assert 'data-vendor-block="ailabtools"' in page
    # The default provider is the built-in engine: the AILabTools key starts out disabled.
    assert 'id="id_key_ailabtools" disabled' in page
    page = client.get(reverse("editor:operation", args=["expression"])).content.decode()
    assert 'data-providers="ailabtools_advanced"' in page


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (lying_jpeg(), "holiday.jpg", "its data ends before the picture does"),
        (
            lying_jpeg((6000, 4000), progressive=True),
            "holiday.jpg",
            "its data ends before the picture does",
        ),
        (cut_jpeg(), "cut.jpg", "its data ends before the picture does"),
        (png_with_bad_crc(), "scan.png", "a checksum in the file does not match its data"),
    ],
    ids=["lying-header", "lying-progressive", "cut-short", "bad-crc"],
)
def test_a_damaged_photo_is_refused_on_its_field_by_name(
    client: Client, alice: User, data: bytes, name: str, reason: str
) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": SimpleUploadedFile(name, data)},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file_image"] == [
        f"{name}: This image is damaged or incomplete: {reason}."
    ]
    assert f"{name}: This image is damaged or incomplete" in response.content.decode()
    assert not Job.objects.exists()


def test_a_png_over_its_pixel_cap_from_the_memory_budget_is_refused(
    client: Client, alice: User, settings: SettingsWrapper
) -> None:
    # 2000×1000 16-bit RGBA, a few kB of file: 16 MB to fit, over a 10 MB budget, whose PNG
    # cap (12 bytes a pixel at worst: 0.83 MP) refuses it from its header.
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    upload = SimpleUploadedFile("scan.png", huge_png((2000, 1000)), content_type="image/png")
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": upload},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["file_image"] == [
        "This image has too many pixels: at 2,000 × 1,000 it has 2 megapixels, and the most a "
        "PNG may have is 0.8 megapixels. Saved as an ordinary (baseline) JPEG it may have up "
        "to 500 megapixels: it is then scaled down to fit."
    ]
    assert not Job.objects.exists()


def test_the_stored_photo_is_the_picture_alone_without_its_private_metadata(
    client: Client, alice: User
) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    original = camera_jpeg(orientation=6)
    upload = SimpleUploadedFile("camera.jpg", original + zip_tail())
    client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": upload},
    )
    job = Job.objects.get()
    with default_storage.open(job.inputs["image"], "rb") as handle:
        stored = handle.read()
    assert stored == metadata.strip_metadata(original)
    assert private_metadata(stored) == set()
    image = open_image(stored)
    assert image.info["icc_profile"] == SRGB
    assert image.getexif()[ORIENTATION] == 6
    assert job.photo_name == "camera.jpg"
    # The owner's view of the photo serves the same bytes.
    response = client.get(reverse("editor:job_input", args=[job.pk, "image"]))
    assert b"".join(response.streaming_content) == stored  # type: ignore[attr-defined]


def test_a_polyglot_is_stored_without_what_follows_the_picture(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    png = make_image((120, 90), "PNG")
    upload = SimpleUploadedFile("poly.png", png + HTML_TAIL)
    client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": upload},
    )
    job = Job.objects.get()
    with default_storage.open(job.inputs["image"], "rb") as handle:
        assert handle.read() == png


def test_a_file_over_the_upload_limit_is_cut_off_while_it_streams_in(
    client: Client, alice: User, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page form takes no file past UPLOAD_MAX_BYTES: its temporary file stops growing at
    the limit, and the form names the file."""
    make_key(alice, Vendor.PICWISH)
    settings.UPLOAD_MAX_MB = 1
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    largest: list[int] = [0]
    receive = uploads.LimitedUploadHandler.receive_data_chunk

    def watched(handler: uploads.LimitedUploadHandler, raw: bytes, start: int) -> bytes | None:
        kept = receive(handler, raw, start)
        if not handler.file.closed:
            largest[0] = max(largest[0], handler.file.tell())
        return kept

    monkeypatch.setattr(uploads.LimitedUploadHandler, "receive_data_chunk", watched)
    # A JPEG followed by 3 MB of zeros, as the outside review sent (at 315 MB).
    big = SimpleUploadedFile("padded.jpg", make_image() + b"\0" * (3 * 1024 * 1024), "image/jpeg")
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": big},
    )
    assert response.status_code == 200
    assert "padded.jpg: This file is larger than 1 MB" in response.content.decode()
    assert 0 < largest[0] <= settings.UPLOAD_MAX_BYTES
    assert not Job.objects.exists()
    assert not Draft.objects.exists()
    assert Quota.objects.filter(user=alice, stored_bytes__gt=0).count() == 0


@pytest.mark.parametrize("name", ["photo." + "é" * 200, "photo." + "x" * 240])
def test_a_photo_named_with_a_very_long_extension_is_taken(
    client: Client, alice: User, name: str
) -> None:
    """Its temporary file is named without the extension (found by tests/fuzz: the file
    system refused the name, a server error); the job keeps the name for display."""
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    upload = SimpleUploadedFile(name, camera_jpeg(), content_type="image/jpeg")
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "png", "file_image": upload},
    )
    assert response.status_code == 302
    assert Job.objects.get().photo_name == name[:120]
