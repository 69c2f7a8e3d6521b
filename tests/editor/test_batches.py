"""Batches: several photos with the same settings, one job each, all or none; a page with the
overall progress; a ZIP of the finished results without their metadata."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image
from pytest_django import Settings as SettingsWrapper

from accounts.models import Quota, User
from editor.models import Batch, Draft, Job, JobStatus, Result, Vendor
from tests.factories import make_key
from tests.images import make_image, photos

pytestmark = pytest.mark.django_db

COLORIZE = reverse("editor:operation", args=["colorize"])


def send_batch(client: Client, count: int = 3, **extra: object) -> Batch:
    response = client.post(
        COLORIZE, {"provider": "picwish", "format": "png", "file_image": photos(count), **extra}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    batch = Batch.objects.get()
    assert response["Location"] == reverse("editor:batch", args=[batch.pk])
    return batch


def finish(job: Job, *, exif_gps: bool = True) -> Result:
    """The job ended with one JPEG result that carries GPS in its EXIF, like a camera's."""
    image = Image.new("RGB", (64, 48), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    if exif_gps:
        exif.get_ifd(0x8825)[2] = (48.0, 51.0, 29.0)  # GPSLatitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    name = default_storage.save(
        f"jobs/{job.owner_id}/{job.pk}/result-0.jpg", ContentFile(buffer.getvalue())
    )
    job.status = JobStatus.SUCCEEDED
    job.save()
    return Result.objects.create(
        job=job,
        file=name,
        media_type="image/jpeg",
        width=64,
        height=48,
        bytes=len(buffer.getvalue()),
    )


def test_several_photos_make_one_job_each_with_the_same_settings(
    client: Client, alice: User
) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    batch = send_batch(client, 3)
    jobs = list(batch.jobs.order_by("photo_name"))
    assert [job.photo_name for job in jobs] == ["holiday 0.jpg", "holiday 1.jpg", "holiday 2.jpg"]
    assert {job.operation for job in jobs} == {"colorize"}
    assert all(job.params == {"format": "png"} for job in jobs)
    assert all(job.owner == alice for job in jobs)
    sizes = set()
    for job in jobs:
        with default_storage.open(job.inputs["image"], "rb") as handle:
            sizes.add(Image.open(handle).size)
        # Storage names are ours: the person's file name is only displayed.
        assert "holiday" not in job.inputs["image"]
    assert sizes == {(200, 150), (201, 150), (202, 150)}
    assert Quota.objects.get(user=alice).jobs_today == 3


def test_a_single_photo_is_still_a_plain_job(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photos(1)}
    )
    job = Job.objects.get()
    assert response["Location"] == reverse("editor:job", args=[job.pk])
    assert job.batch is None
    assert job.photo_name == "holiday 0.jpg"


def test_a_batch_past_a_limit_starts_nothing_and_keeps_the_photos(
    client: Client, alice: User, settings: SettingsWrapper
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 2
    settings.QUOTA_WAITING_JOBS = 0
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photos(3)}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "A batch of 3 photos is a job each, which would pass a limit" in page
    assert "lets none wait for a slot" in page
    assert not Job.objects.exists()
    assert not Batch.objects.exists()
    # Nothing was charged (the rolled-back charges took the quota row with them).
    assert not Quota.objects.filter(user=alice, jobs_today__gt=0).exists()
    assert not Quota.objects.filter(user=alice, active_jobs__gt=0).exists()
    # No input of the rolled-back jobs stays in storage; the photos wait as drafts instead.
    assert not [path for path in Path(settings.MEDIA_ROOT).rglob("jobs/**/*") if path.is_file()]
    assert Draft.objects.filter(owner=alice, role="image").count() == 3
    assert page.count('name="draft_image"') == 3
    assert "the 3 photos of your last try are kept" in page


def test_the_kept_batch_is_sent_again_without_new_uploads(
    client: Client,
    alice: User,
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: object,
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 2
    settings.QUOTA_WAITING_JOBS = 0
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    page = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photos(3)}
    ).content.decode()
    drafts = re.findall(r'name="draft_image" value="([0-9a-f-]{36})"', page)
    settings.QUOTA_WAITING_JOBS = 5
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = client.post(
            COLORIZE,
            {"provider": "picwish", "format": "jpg", "draft_image": drafts, "reuse_image": "1"},
        )
    assert response.status_code == 302
    batch = Batch.objects.get()
    assert sorted(batch.jobs.values_list("photo_name", flat=True)) == [
        "holiday 0.jpg",
        "holiday 1.jpg",
        "holiday 2.jpg",
    ]
    assert not Draft.objects.exists()


def test_one_bad_photo_names_itself_and_nothing_starts(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    bad = SimpleUploadedFile("notes.jpg", b"not a photo at all", content_type="image/jpeg")
    response = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": [*photos(2), bad]}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "notes.jpg: " in page
    assert not Job.objects.exists()
    # The two good photos wait for the next try.
    assert Draft.objects.count() == 2


def test_too_many_photos_at_once(client: Client, alice: User, settings: SettingsWrapper) -> None:
    settings.BATCH_MAX_PHOTOS = 2
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    page = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photos(3)}
    ).content.decode()
    assert "At most 2 photos at once: this batch has 3." in page
    assert not Job.objects.exists()


def test_a_mask_does_not_go_with_a_batch(client: Client, alice: User) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    client.force_login(alice)
    mask = SimpleUploadedFile("mask.png", make_image((200, 150), "PNG"), content_type="image/png")
    page = client.post(
        reverse("editor:operation", args=["extend"]),
        {"provider": "ailabtools", "file_image": photos(2), "file_mask": mask},
    ).content.decode()
    assert "A mask fits one photo" in page
    assert not Job.objects.exists()


def test_the_batch_page_shows_overall_progress(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    batch = send_batch(client, 3)
    first, second, _third = batch.jobs.order_by("photo_name")
    finish(first)
    second.status, second.error_message = JobStatus.FAILED, "The vendor refused this photo."
    second.save()
    url = reverse("editor:batch", args=[batch.pk])
    page = client.get(url).content.decode()
    assert "a batch of 3 photos" in page
    assert "2 of 3 finished" in page
    assert "1 succeeded" in page
    assert "1 failed or canceled" in page
    assert "1 running" in page
    assert "The vendor refused this photo." in page
    assert 'hx-trigger="every 2s"' in page
    assert reverse("editor:batch_zip", args=[batch.pk]) in page
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment
    assert 'id="batch-progress"' in fragment


def test_a_finished_batch_stops_polling(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    batch = send_batch(client, 2)
    for job in batch.jobs.all():
        finish(job)
    page = client.get(reverse("editor:batch", args=[batch.pk])).content.decode()
    assert "2 of 2 finished" in page
    assert "hx-trigger" not in page


def test_the_zip_holds_every_finished_result_without_gps(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    batch = send_batch(client, 3)
    jobs = list(batch.jobs.order_by("created_at", "pk"))
    for job in jobs[:2]:
        finish(job)
    response = client.get(reverse("editor:batch_zip", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert "colorize-batch-" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names == [f"01-{jobs[0].photo_name[:-4]}.jpg", f"02-{jobs[1].photo_name[:-4]}.jpg"]
        for name in names:
            image = Image.open(io.BytesIO(archive.read(name)))
            assert image.size == (64, 48)
            assert 0x8825 not in image.getexif()


def test_a_damaged_result_is_left_out_of_the_zip_not_a_server_error(
    client: Client, alice: User
) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    batch = send_batch(client, 2)
    first, second = batch.jobs.order_by("created_at", "pk")
    finish(first)
    damaged = finish(second)
    with default_storage.open(damaged.file.name, "wb") as handle:
        handle.write(b"\xff\xd8 not a picture any more")
    response = client.get(reverse("editor:batch_zip", args=[batch.pk]))
    assert response.status_code == 200
    data = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == [f"01-{first.photo_name[:-4]}.jpg"]


@pytest.mark.parametrize("name", ["batch", "batch_zip"])
def test_batch_urls_are_private(client: Client, alice: User, bob: User, name: str) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    batch = send_batch(client, 2)
    url = reverse(f"editor:{name}", args=[batch.pk])
    client.force_login(bob)
    assert client.get(url).status_code == 404
    client.logout()
    response = client.get(url)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    client.force_login(alice)
    assert client.post(url).status_code == 405


def test_the_job_page_links_back_to_its_batch(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    batch = send_batch(client, 2)
    job = batch.jobs.first()
    assert job is not None
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert reverse("editor:batch", args=[batch.pk]) in page


def test_a_card_asks_for_a_thumbnail_only_once_it_exists(client: Client, alice: User) -> None:
    """A result is stored (the job "storing") before its thumbnail is made: the card shows a
    placeholder until then, never the address of a thumbnail that is not there yet (a broken
    image until the page was reloaded); the next poll of the section swaps the thumbnail in."""
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    batch = send_batch(client, 2)
    first, _second = batch.jobs.order_by("photo_name")
    result = finish(first)
    first.status = JobStatus.STORING
    first.save()
    thumbnail_url = reverse("editor:result_thumbnail", args=[first.pk, result.pk])
    url = reverse("editor:batch", args=[batch.pk])
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert thumbnail_url not in fragment
    assert fragment.count("batch-job__thumb--empty") == 2
    assert 'hx-trigger="every 2s"' in fragment  # still polling: the swap will come
    assert client.get(thumbnail_url).status_code == 404  # what the card would have shown

    result.thumbnail.name = default_storage.save(
        f"jobs/{alice.pk}/{first.pk}/thumb-0.jpg", ContentFile(make_image())
    )
    result.save()
    first.status = JobStatus.SUCCEEDED
    first.save()
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert f'src="{thumbnail_url}"' in fragment
    assert fragment.count("batch-job__thumb--empty") == 1
    assert client.get(thumbnail_url).status_code == 200
