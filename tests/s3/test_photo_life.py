"""The whole life of a photo with its media on a real S3 server (moto, on the loopback
interface): uploaded through the page form and the API, the vendor's result copied in, its
thumbnail and gallery, every download format, a share link opened by a stranger, a batch ZIP,
delete, the retention sweep and the reconcile. Private media is never public in the bucket."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper
from storages.backends.s3 import S3Storage

from accounts.models import Quota, StoredFile, User
from api.models import ApiToken
from editor import jobs, pipeline, reconcile
from editor.models import Batch, Job, JobStatus, ShareLink, VendorKey
from editor.vendors.base import Done, ResultImage
from tests.api.calls import JOBS
from tests.factories import stored
from tests.images import make_image, photo, photos
from tests.s3.bucket import Bucket
from tests.scripted import Script, Sent

pytestmark = [pytest.mark.django_db, pytest.mark.s3]

COLORIZE = reverse("editor:operation", args=["colorize"])
RESULT = make_image((64, 48), color=(10, 200, 30))


def done() -> Done:
    return Done((ResultImage(RESULT, "image/jpeg"),))


def finish(script: Script, step: Callable[[], Job]) -> Job:
    """Run the newest job's steps against the scripted vendor until it has ended."""
    script.outcomes = [done()]
    job = step()
    while job.status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        job = step()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return job


def content(response: Any) -> bytes:
    """A response's body, streamed or not."""
    return b"".join(response.streaming_content) if response.streaming else bytes(response.content)


def presigned(response: Any, bucket: Bucket) -> bytes:
    """Follow the studio's redirect to a presigned address on the S3 server; the bytes."""
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    assert location.startswith(f"{bucket.endpoint}/{bucket.name}/")
    assert "X-Amz-Signature=" in location
    assert "X-Amz-Expires=120" in location
    fetched = httpx.get(location)
    assert fetched.status_code == 200
    return fetched.content


def assert_private(bucket: Bucket, key: str) -> None:
    """No grant to everybody, and an unsigned GET refused."""
    for grant in bucket.grants(key):
        assert "URI" not in grant["Grantee"], grant  # AllUsers / AuthenticatedUsers
    assert httpx.get(bucket.url(key)).status_code == 403


def test_a_photo_from_the_form_lives_and_dies_in_the_bucket(
    bucket: Bucket,
    client: Client,
    alice: User,
    picwish_key: VendorKey,
    script: Script,
    sent: Sent,
    step: Callable[[], Job],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    client.force_login(alice)
    upload = photo(size=(120, 90))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": upload}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    assert set(job.inputs) == {"image"}
    assert bucket.objects() == set(job.inputs.values())

    job = finish(script, step)
    result = job.results.get()
    assert bucket.body(result.file.name) == RESULT  # the vendor's bytes, copied in
    assert result.thumbnail
    keys = bucket.objects(f"jobs/{alice.pk}/{job.pk}/")
    assert {result.file.name, result.thumbnail.name} <= keys
    for key in keys:
        assert_private(bucket, key)
    # Every file in the bucket is counted at the size the bucket has.
    assert stored(alice) == sum(
        bucket.client.head_object(Bucket=bucket.name, Key=key)["ContentLength"]
        for key in bucket.objects()
    )

    # The gallery shows it, through the studio's own addresses only.
    gallery = client.get(reverse("editor:gallery")).content.decode()
    thumbnail_url = reverse("editor:result_thumbnail", args=[job.pk, result.pk])
    assert thumbnail_url in gallery
    assert bucket.endpoint not in gallery
    thumbnail = presigned(client.get(thumbnail_url), bucket)
    assert Image.open(io.BytesIO(thumbnail)).size[0] <= 64
    assert presigned(client.get(reverse("editor:result_file", args=[job.pk, result.pk])), bucket)
    assert presigned(client.get(reverse("editor:job_input", args=[job.pk, "image"])), bucket)

    # Every download format, the converted copies kept in the bucket once.
    download = reverse("editor:result_download", args=[job.pk, result.pk])
    expected = {"original": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
    for fmt, pillow in expected.items():
        got = client.get(download, {"format": fmt, "quality": "70"})
        assert got.status_code == 200, (fmt, got.content[:200])
        body = content(got)
        assert Image.open(io.BytesIO(body)).format == pillow
        assert got["Content-Disposition"].startswith("attachment;")
    conversions = {key for key in bucket.objects() if "jpeg-q70" in key or "webp-q70" in key}
    assert len(conversions) == 2
    again = client.get(download, {"format": "webp", "quality": "70"})
    assert again.status_code == 200
    assert {key for key in bucket.objects() if "webp-q70" in key} <= conversions  # not stored twice

    # A stranger opens a share link: the studio reads the result from the bucket and sends it
    # without its metadata (a presigned address could not strip it), never the bucket's address.
    _link, token = ShareLink.create(result, lifetime=None)
    stranger = Client()
    page = stranger.get(reverse("editor:shared", args=[token])).content.decode()
    assert bucket.endpoint not in page
    shared = stranger.get(reverse("editor:shared_file", args=[token, "result"]))
    assert shared.status_code == 200
    assert (
        Image.open(io.BytesIO(shared.content)).tobytes() == Image.open(io.BytesIO(RESULT)).tobytes()
    )

    # Deleted: every file of the job leaves the bucket and the count is back to 0.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("editor:job_delete", args=[job.pk]), {"confirmed": "1"})
    assert response.status_code in (200, 204, 302), response.status_code
    assert not Job.objects.exists()
    assert bucket.objects() == set()
    assert stored(alice) == 0
    assert not StoredFile.objects.filter(user=alice).exists()


def test_a_photo_from_the_api_is_stored_and_downloaded(
    bucket: Bucket,
    alice: User,
    picwish_key: VendorKey,
    script: Script,
    sent: Sent,
    step: Callable[[], Job],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    headers = {"Authorization": f"Bearer {ApiToken.create(alice, 'script')[1]}"}
    api = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            JOBS, {"operation": "colorize", "format": "jpg", "image": photo()}, headers=headers
        )
    assert response.status_code == 202, response.content[:500]
    job = finish(script, step)
    assert job.results.get().file.name in bucket.objects()
    for fmt in ("original", "png", "jpeg", "webp"):
        got = api.get(f"{JOBS}/{job.pk}/result", {"format": fmt}, headers=headers)
        assert got.status_code == 200, (fmt, got.content[:200])
        body = content(got)
        assert Image.open(io.BytesIO(body)).size == (64, 48)


def test_a_batch_zip_is_built_from_the_bucket(
    bucket: Bucket,
    client: Client,
    alice: User,
    picwish_key: VendorKey,
    script: Script,
    sent: Sent,
    step: Callable[[], Job],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photos(2)}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    batch = Batch.objects.get()
    # Deliver each job's messages as a worker would, until both have ended (a bounded number).
    for _ in range(20):
        if not sent.messages:
            break
        job_id, number, _queue, _countdown = sent.messages.pop(0)
        script.outcomes = [done()]
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.advance(job_id, number)
    assert [job.status for job in Job.objects.all()] == [JobStatus.SUCCEEDED] * 2
    response = client.get(reverse("editor:batch_zip", args=[batch.pk]))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(content(response)))
    names = archive.namelist()
    assert len(names) == 2
    for name in names:
        assert Image.open(io.BytesIO(archive.read(name))).size == (64, 48)


def test_the_retention_sweep_empties_the_bucket(
    bucket: Bucket,
    alice: User,
    settings: SettingsWrapper,
    script: Script,
    submit: Callable[..., Job],
    step: Callable[[], Job],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.RETENTION_DAYS = 7
    submit()
    job = finish(script, step)
    assert bucket.objects(f"jobs/{alice.pk}/{job.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.delete_expired(timezone.now() + dt.timedelta(days=8)) == 1
    assert bucket.objects() == set()
    assert stored(alice) == 0


def test_the_reconcile_finds_orphans_and_missing_files_in_the_bucket(
    bucket: Bucket,
    alice: User,
    script: Script,
    submit: Callable[..., Job],
    step: Callable[[], Job],
) -> None:
    submit()
    job = finish(script, step)
    result = job.results.get()
    orphan = f"jobs/{alice.pk}/{job.pk}/left-by-a-dead-step.jpg"
    bucket.put(orphan, b"not counted")
    bucket.client.delete_object(Bucket=bucket.name, Key=result.thumbnail.name)
    before = stored(alice)
    thumbnail_bytes = StoredFile.objects.get(name=result.thumbnail.name).bytes

    # Within the grace the orphan may still be on its way to its row: left alone.
    report = reconcile.reconcile(grace_seconds=3600)
    assert orphan in bucket.objects()
    assert report.orphans == 0
    assert report.vanished == 1

    report = reconcile.reconcile(grace_seconds=-60)
    assert report.orphans == 1
    assert report.orphan_bytes == len(b"not counted")
    assert orphan not in bucket.objects()
    assert not StoredFile.objects.filter(name=result.thumbnail.name).exists()
    assert stored(alice) == before - thumbnail_bytes
    assert report.files == len(bucket.objects()) + 1  # the orphan was there when it looked
    assert default_storage.exists(result.file.name)


def test_a_bucket_that_is_gone_refuses_the_upload_clearly_and_charges_nothing(
    bucket: Bucket, alice: User, picwish_key: VendorKey, settings: SettingsWrapper
) -> None:
    options = settings.STORAGES["default"]["OPTIONS"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {**options, "bucket_name": "gone"}},
    }
    headers = {"Authorization": f"Bearer {ApiToken.create(alice, 'script')[1]}"}
    response = Client().post(
        JOBS, {"operation": "colorize", "format": "jpg", "image": photo()}, headers=headers
    )
    assert response.status_code == 503, response.content[:500]
    assert "cannot store photos right now" in response.content.decode()
    assert not Job.objects.exists()
    assert not Quota.objects.filter(user=alice).exclude(stored_bytes=0).exists()
    assert not StoredFile.objects.exists()


def test_an_input_is_typed_from_a_ranged_read_of_the_bucket(
    bucket: Bucket, client: Client, alice: User, submit: Callable[..., Job], monkeypatch: Any
) -> None:
    job = submit()
    opened: list[str] = []
    real_open = S3Storage._open

    def watched(self: S3Storage, name: str, mode: str = "rb") -> Any:
        opened.append(name)
        return real_open(self, name, mode)

    monkeypatch.setattr(S3Storage, "_open", watched)
    client.force_login(alice)
    response = client.get(reverse("editor:job_input", args=[job.pk, "image"]))
    assert "response-content-type=image%2Fjpeg" in response["Location"]
    assert presigned(response, bucket)
    assert opened == []  # never downloaded whole to read its first bytes
