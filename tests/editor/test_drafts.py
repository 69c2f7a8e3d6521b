"""A form sent back with an error loses nothing: the photos that passed their checks are kept
as drafts, shown again, and used by the next try without a new upload."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import metadata
from editor.models import Draft, Job, Vendor
from editor.tasks import sweep
from tests.factories import make_job, make_key
from tests.images import HTML_TAIL, camera_jpeg, phone_photo, photo, private_metadata

pytestmark = pytest.mark.django_db

COLORIZE = reverse("editor:operation", args=["colorize"])
EXTEND = reverse("editor:operation", args=["extend"])


def stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data


def draft_id(page: str, role: str = "image") -> str:
    match = re.search(rf'name="draft_{role}" value="([0-9a-f-]{{36}})"', page)
    assert match, f"no kept {role} on the page"
    return match.group(1)


def test_a_photo_sent_with_a_missing_key_is_kept_and_shown_again(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    upload = photo()
    sent = upload.read()
    upload.seek(0)
    response = client.post(COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": upload})
    assert response.status_code == 200
    page = response.content.decode()
    assert "You have no PicWish key yet" in page
    draft = Draft.objects.get(pk=draft_id(page))
    assert draft.owner == alice
    assert stored(draft.file.name) == sent
    # Our own name in storage, never the uploaded file's.
    assert "p.jpg" not in draft.file.name
    assert "kept from your last try" in page
    assert re.search(r'name="reuse_image" value="1"\s+checked', page)
    thumbnail = client.get(reverse("editor:draft_file", args=[draft.pk]))
    assert thumbnail.status_code == 200
    assert thumbnail["Content-Type"] == "image/jpeg"
    assert b"".join(thumbnail.streaming_content) == sent  # type: ignore[attr-defined]


def test_a_kept_photo_is_the_picture_alone_without_its_private_metadata(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    original = camera_jpeg()
    upload = SimpleUploadedFile("camera.jpg", original + HTML_TAIL)
    response = client.post(COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": upload})
    draft = Draft.objects.get(pk=draft_id(response.content.decode()))
    kept = stored(draft.file.name)
    assert kept == metadata.strip_metadata(original)
    assert private_metadata(kept) == set()
    assert draft.name == "camera.jpg"
    shown = client.get(reverse("editor:draft_file", args=[draft.pk]))
    assert b"".join(shown.streaming_content) == kept  # type: ignore[attr-defined]


def test_the_next_try_uses_the_kept_photo_and_the_draft_is_used_up(
    client: Client, alice: User, django_capture_on_commit_callbacks: object
) -> None:
    client.force_login(alice)
    upload = photo()
    sent = upload.read()
    upload.seek(0)
    page = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": upload}
    ).content.decode()
    kept = Draft.objects.get(pk=draft_id(page))
    make_key(alice, Vendor.PICWISH)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = client.post(
            COLORIZE,
            {
                "provider": "picwish",
                "format": "png",
                "draft_image": str(kept.pk),
                "reuse_image": "1",
            },
        )
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.params == {"format": "png"}
    assert stored(job.inputs["image"]) == sent
    # Not a re-run of an earlier job: nothing to compare against.
    assert job.source_job is None
    assert not Draft.objects.exists()
    assert not default_storage.exists(kept.file.name)


def test_a_field_error_keeps_the_photo_and_htmx_gets_the_form_with_it(
    client: Client, alice: User
) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    client.force_login(alice)
    response = client.post(
        EXTEND,
        {"provider": "ailabtools", "top": "7", "file_image": photo()},
        headers={"HX-Request": "true"},
    )
    page = response.content.decode()
    assert "<html" not in page
    assert "Ensure this value is less than or equal to 1" in page
    assert Draft.objects.filter(pk=draft_id(page), role="image").exists()


def test_the_quota_message_keeps_the_photo(
    client: Client, alice: User, settings: SettingsWrapper
) -> None:
    settings.QUOTA_JOBS_PER_DAY = 0
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    page = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photo()}
    ).content.decode()
    assert "your daily limit" in page
    assert Draft.objects.filter(pk=draft_id(page)).exists()
    assert not Job.objects.exists()


def test_a_rejected_file_is_not_kept(client: Client, alice: User) -> None:
    client.force_login(alice)
    text = SimpleUploadedFile("notes.jpg", b"just some text", content_type="image/jpeg")
    response = client.post(COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": text})
    page = response.content.decode()
    assert response.status_code == 200
    assert "field-error" in page
    assert not Draft.objects.exists()
    assert 'name="draft_image"' not in page


def test_unticking_the_kept_photo_asks_for_a_file(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    kept = Draft.keep(alice, "image", photo())
    page = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "draft_image": str(kept.pk)}
    ).content.decode()
    assert "Choose a photo." in page
    # Still offered, unticked as the person left it.
    assert draft_id(page) == str(kept.pk)
    assert not re.search(r'name="reuse_image" value="1"\s+checked', page)
    assert not Job.objects.exists()


def test_a_new_file_wins_over_the_kept_one(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    kept = Draft.keep(alice, "image", photo())
    fresh = photo(size=(300, 200))
    sent = fresh.read()
    fresh.seek(0)
    response = client.post(
        COLORIZE,
        {
            "provider": "picwish",
            "format": "jpg",
            "draft_image": str(kept.pk),
            "reuse_image": "1",
            "file_image": fresh,
        },
    )
    assert response.status_code == 302
    assert stored(Job.objects.get().inputs["image"]) == sent
    # The unused draft waits for the sweeper; it was not taken as this job's photo.
    assert Draft.objects.filter(pk=kept.pk).exists()


def test_someone_elses_draft_is_neither_shown_nor_used(
    client: Client, alice: User, bob: User
) -> None:
    bobs = Draft.keep(bob, "image", photo())
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    assert client.get(reverse("editor:draft_file", args=[bobs.pk])).status_code == 404
    page = client.post(
        COLORIZE,
        {"provider": "picwish", "format": "jpg", "draft_image": str(bobs.pk), "reuse_image": "1"},
    ).content.decode()
    assert "no longer stored. Choose the file again." in page
    assert str(bobs.pk) not in page
    assert not Job.objects.exists()


def test_a_draft_whose_file_is_gone_asks_for_the_file_again(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    kept = Draft.keep(alice, "image", photo())
    default_storage.delete(kept.file.name)
    page = client.post(
        COLORIZE,
        {"provider": "picwish", "format": "jpg", "draft_image": str(kept.pk), "reuse_image": "1"},
    ).content.decode()
    assert "no longer stored. Choose the file again." in page
    assert not Job.objects.exists()
    assert client.get(reverse("editor:draft_file", args=[kept.pk])).status_code == 404


@pytest.mark.parametrize("value", ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000"])
def test_a_malformed_draft_id_is_no_error_page(client: Client, alice: User, value: str) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "draft_image": value, "reuse_image": "1"}
    )
    assert response.status_code == 200
    assert "Choose a photo." in response.content.decode() or "no longer stored" in (
        response.content.decode()
    )


def test_the_draft_page_needs_login(client: Client, alice: User) -> None:
    kept = Draft.keep(alice, "image", photo())
    response = client.get(reverse("editor:draft_file", args=[kept.pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_run_again_form_sent_back_keeps_the_new_photo_beside_the_earlier_job(
    client: Client, alice: User
) -> None:
    """On "Run again", a new file chosen for a try that fails replaces the earlier job's photo
    on the form; the earlier job stays linked."""
    source = make_job(alice)
    client.force_login(alice)
    page = client.post(
        COLORIZE,
        {"from": str(source.pk), "provider": "picwish", "format": "jpg", "file_image": photo()},
    ).content.decode()
    assert "You have no PicWish key yet" in page
    assert draft_id(page)
    assert f'<input type="hidden" name="from" value="{source.pk}">' in page
    assert reverse("editor:job_input", args=[source.pk, "image"]) not in page


def test_a_mask_is_kept_and_the_extender_opens_on_the_painter(client: Client, alice: User) -> None:
    client.force_login(alice)
    mask = photo(size=(200, 150), fmt="PNG", name="mask.png")
    page = client.post(
        EXTEND,
        {"provider": "ailabtools", "extend_mode": "mask", "file_image": photo(), "file_mask": mask},
    ).content.decode()
    assert draft_id(page, "mask")
    assert draft_id(page, "image")
    assert re.search(r'id="extend-mode-mask" value="mask"\s+checked', page)


def test_the_sweeper_deletes_drafts_nobody_came_back_for(
    alice: User, settings: SettingsWrapper, django_capture_on_commit_callbacks: object
) -> None:
    settings.DRAFT_MAX_AGE_SECONDS = 3600
    old = Draft.keep(alice, "image", photo())
    Draft.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=2))
    recent = Draft.keep(alice, "image", photo())
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        sweep()
    assert list(Draft.objects.all()) == [recent]
    assert not default_storage.exists(old.file.name)
    assert default_storage.exists(recent.file.name)


def test_a_kept_phone_photo_keeps_its_date_and_camera_for_the_job_made_from_it(
    client: Client, alice: User
) -> None:
    """A HEIC sent back with the form (no key yet): the draft is stripped like any upload, but
    what was kept of its details reaches the job the next try makes, and a run again of that
    job, for their downloads."""
    client.force_login(alice)
    upload = SimpleUploadedFile("IMG_0003.HEIC", phone_photo("HEIF"))
    page = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": upload}
    ).content.decode()
    kept = Draft.objects.get(pk=draft_id(page))
    assert b"PhoneCorp" not in stored(kept.file.name)
    assert bytes(kept.photo_exif) == metadata.photo_details(phone_photo("HEIF"))
    make_key(alice, Vendor.PICWISH)
    form = {"provider": "picwish", "format": "png", "reuse_image": "1"}
    response = client.post(COLORIZE, {**form, "draft_image": str(kept.pk)})
    assert response.status_code == 302
    job = Job.objects.get()
    assert bytes(job.photo_exif) == bytes(kept.photo_exif)
    assert b"Phone 15" in bytes(job.photo_exif)
    again = client.post(COLORIZE, {**form, "from": str(job.pk)})
    assert again.status_code == 302
    rerun = Job.objects.exclude(pk=job.pk).get()
    assert bytes(rerun.photo_exif) == bytes(job.photo_exif)
