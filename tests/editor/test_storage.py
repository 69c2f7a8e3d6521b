"""Stored bytes through the pages: drafts count until they are used up or swept, a job that
would pass the storage limit is refused with a message that says how to free space (a batch
as a whole), and deleting a job in the gallery gives back exactly what it took."""

from __future__ import annotations

import datetime as dt
import errno
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts import quotas
from accounts.models import Quota, StoredFile, User
from editor.models import Batch, Draft, Job, Vendor
from tests.factories import disk_bytes, make_key
from tests.images import camera_jpeg, photo, photos, zip_tail

pytestmark = pytest.mark.django_db

COLORIZE = reverse("editor:operation", args=["colorize"])
MB = 1024 * 1024


def stored(user: User) -> int:
    quota = Quota.objects.filter(user=user).first()
    return quota.stored_bytes if quota else 0


def draft_id(page: str) -> str:
    match = re.search(r'name="draft_image" value="([0-9a-f-]{36})"', page)
    assert match, "no kept photo on the page"
    return match.group(1)


def test_a_draft_counts_until_its_job_takes_the_photo_over(
    client: Client,
    alice: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    client.force_login(alice)
    upload = photo()
    size = upload.size or 0
    page = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": upload}
    ).content.decode()
    assert "You have no PicWish key yet" in page
    assert stored(alice) == disk_bytes(alice) == size

    make_key(alice, Vendor.PICWISH)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            COLORIZE,
            {
                "provider": "picwish",
                "format": "jpg",
                "draft_image": draft_id(page),
                "reuse_image": "1",
            },
        )
    assert response.status_code == 302
    assert not Draft.objects.exists()
    # The draft's bytes went, the job's copy came: the same photo counted once.
    assert stored(alice) == disk_bytes(alice) == size
    assert default_storage.size(Job.objects.get().inputs["image"]) == size


def test_swept_and_discarded_drafts_give_their_bytes_back(
    alice: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    quotas.add_storage(alice.pk, 1000)  # something else of alice's
    old = Draft.keep(alice, "image", photo())
    other = Draft.keep(alice, "image", photo((300, 200)))
    assert stored(alice) == 1000 + old.file.size + other.file.size
    Draft.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert Draft.purge(timezone.now() - dt.timedelta(days=1)) == 1
    assert stored(alice) == 1000 + other.file.size
    with django_capture_on_commit_callbacks(execute=True):
        other.discard()
        other.discard()  # a second discard (another tab) gives nothing back twice
    assert stored(alice) == 1000
    assert disk_bytes(alice) == 0


def test_a_job_that_would_pass_the_storage_limit_is_refused_with_how_to_free_space(
    client: Client, alice: User, settings: SettingsWrapper
) -> None:
    make_key(alice, Vendor.PICWISH)
    settings.QUOTA_STORAGE_BYTES = 10 * MB
    quotas.add_storage(alice.pk, 10 * MB - 100)
    client.force_login(alice)
    response = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photo()}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Your stored photos and results take 10.0 MB of your 10.0 MB" in page
    assert "deleting jobs you no longer need in your gallery" in page
    assert not Job.objects.exists()
    quota = Quota.objects.get(user=alice)
    # Nothing charged; only the photo kept for the next try was added.
    assert (quota.jobs_today, quota.credits_this_month, quota.active_jobs) == (0, 0, 0)
    assert quota.stored_bytes == 10 * MB - 100 + Draft.objects.get().file.size


def test_a_batch_is_charged_as_a_whole(
    client: Client, alice: User, settings: SettingsWrapper
) -> None:
    make_key(alice, Vendor.PICWISH)
    sent = photos(3)
    sizes = [len(upload.read()) for upload in sent]
    for upload in sent:
        upload.seek(0)
    # Room for the first two photos, not the third.
    settings.QUOTA_STORAGE_BYTES = sum(sizes[:2]) + sizes[2] // 2
    client.force_login(alice)
    page = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": sent}
    ).content.decode()
    assert "A batch of 3 photos is a job each, which would pass a limit" in page
    assert "Free some space" in page
    assert not Job.objects.exists()
    assert not Batch.objects.exists()
    # Only the three kept drafts count.
    assert stored(alice) == disk_bytes(alice) == sum(sizes)


def test_a_batch_within_the_limit_counts_every_copy(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    sent = photos(3)
    sizes = sum(upload.size or 0 for upload in sent)
    response = client.post(COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": sent})
    assert response.status_code == 302
    assert Job.objects.count() == 3
    assert stored(alice) == disk_bytes(alice) == sizes


def test_deleting_in_the_gallery_gives_back_exactly_what_the_job_took(
    client: Client,
    alice: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    quotas.add_storage(alice.pk, 4321)
    before = stored(alice)
    client.post(COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photo()})
    job = Job.objects.get()
    assert stored(alice) > before
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("editor:job_delete", args=[job.pk]), {"confirmed": "1"})
    assert response.status_code == 302
    assert stored(alice) == before


def test_a_photo_cut_and_stripped_at_submit_is_counted_at_the_bytes_kept(
    client: Client, alice: User
) -> None:
    """The upload check keeps less than was sent (a tail cut off, GPS stripped): the ledger and
    the count hold what is stored, not what came in."""
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    sent = camera_jpeg() + zip_tail()
    upload = SimpleUploadedFile("holiday.jpg", sent, content_type="image/jpeg")
    response = client.post(COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": upload})
    assert response.status_code == 302
    name = Job.objects.get().inputs["image"]
    kept = default_storage.size(name)
    assert kept < len(sent)
    assert dict(StoredFile.objects.filter(user=alice).values_list("name", "bytes")) == {name: kept}
    assert stored(alice) == disk_bytes(alice) == kept


def test_a_full_storage_is_said_on_the_form_with_nothing_charged(
    client: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_key(alice, Vendor.PICWISH)

    def refuse(name: str, content: object, max_length: int | None = None) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(default_storage, "save", refuse)
    client.force_login(alice)
    fields = {"provider": "picwish", "format": "jpg", "file_image": photo()}
    response = client.post(COLORIZE, fields)
    assert response.status_code == 200
    page = response.content.decode()
    assert "The studio cannot store photos right now" in page
    assert page.count("The studio cannot store photos right now") == 1
    assert not Job.objects.exists()
    assert not Draft.objects.exists()
    quota = Quota.objects.filter(user=alice).first()  # none: the charge was rolled back
    assert quota is None or (quota.jobs_today, quota.credits_this_month, quota.stored_bytes) == (
        0,
        0,
        0,
    )
