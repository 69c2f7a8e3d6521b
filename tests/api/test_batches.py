"""POST /api/v1/batches: many photos, one operation, one job each, all or none; the same
checks, field errors and quota messages as the operation page's batch."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image
from pytest_django import Settings as SettingsWrapper

from accounts.models import Quota, User
from api.models import Webhook
from editor import jobs
from editor.models import Batch, Job, Vendor
from tests.api.calls import BATCHES
from tests.api.conftest import ApiClient
from tests.broker import SentTasks
from tests.factories import make_key
from tests.images import make_image, photo, photos

pytestmark = pytest.mark.django_db


def colorize_batch(count: int = 3, **extra: object) -> dict[str, object]:
    return {"operation": "colorize", "format": "png", "image": photos(count), **extra}


def stored_job_files(settings: SettingsWrapper) -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("jobs/**/*") if path.is_file()]


def test_a_batch_is_one_job_per_photo_in_the_order_sent(
    alice: User,
    alice_api: ApiClient,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: object,
) -> None:
    key = make_key(alice, Vendor.PICWISH)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = alice_api.post(BATCHES, colorize_batch(3))
    assert response.status_code == 201, response.content
    body = response.json()
    batch = Batch.objects.get()
    assert (body["id"], body["operation"]) == (str(batch.pk), "colorize")
    made = list(Job.objects.filter(batch=batch))
    assert [item["id"] for item in body["jobs"]] == [
        str(job.pk) for job in sorted(made, key=lambda job: (job.created_at, job.pk))
    ]
    by_id = {str(job.pk): job for job in made}
    assert [by_id[item["id"]].photo_name for item in body["jobs"]] == [
        "holiday 0.jpg",
        "holiday 1.jpg",
        "holiday 2.jpg",
    ]
    for item in body["jobs"]:
        assert (item["status"], item["provider"], item["params"]) == (
            "queued",
            "picwish",
            {"format": "png"},
        )
    sizes = []
    for item in body["jobs"]:
        job = by_id[item["id"]]
        assert (job.owner, job.key) == (alice, key)
        with default_storage.open(job.inputs["image"], "rb") as handle:
            sizes.append(Image.open(handle).size)
    assert sizes == [(200, 150), (201, 150), (202, 150)]
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.active_jobs) == (3, 3)
    assert sorted(args[0] for args in sent_tasks.args[jobs.ADVANCE_TASK]) == sorted(by_id)


def test_one_photo_is_a_batch_of_one(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(BATCHES, colorize_batch(1))
    assert response.status_code == 201, response.content
    assert len(response.json()["jobs"]) == 1
    assert Job.objects.get().batch == Batch.objects.get()


def test_a_shared_style_photo_goes_with_every_job(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    response = alice_api.post(
        BATCHES, {"operation": "retouch", "image": photos(2), "style": photo(name="style.jpg")}
    )
    assert response.status_code == 201, response.content
    made = list(Job.objects.all())
    assert len(made) == 2
    assert all(set(job.inputs) == {"image", "style"} for job in made)
    # Each job keeps its own copy (deleting one job leaves the other's style photo).
    assert len({job.inputs["style"] for job in made}) == 2


def test_a_second_style_photo_is_refused(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    response = alice_api.post(
        BATCHES, {"operation": "retouch", "image": photos(2), "style": photos(2)}
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["style"]
    assert not Job.objects.exists()


def test_a_webhook_for_every_job(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(BATCHES, colorize_batch(2, webhook_url="https://hooks.example/x"))
    assert response.status_code == 201, response.content
    hooks = Webhook.objects.all()
    assert {hook.job_id for hook in hooks} == set(Job.objects.values_list("pk", flat=True))
    assert {hook.url for hook in hooks} == {"https://hooks.example/x"}


# --- Refused: the field errors of POST /jobs, nothing started ---------------------------------


def test_a_bad_photo_is_named_and_nothing_starts(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    make_key(alice, Vendor.PICWISH)
    bad = SimpleUploadedFile("notes.jpg", b"not a photo at all", content_type="image/jpeg")
    response = alice_api.post(BATCHES, colorize_batch(image=[*photos(2), bad]))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["image"]
    assert body["errors"]["image"][0].startswith("notes.jpg: ")
    assert body["message"] == f"image: {body['errors']['image'][0]}"
    assert not Job.objects.exists()
    assert not Batch.objects.exists()
    assert not stored_job_files(settings)


def test_a_bad_parameter_or_unknown_field_is_422(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(BATCHES, colorize_batch(format="gif"))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["format"]
    response = alice_api.post(BATCHES, colorize_batch(colour="red"))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["colour"]
    response = alice_api.post(BATCHES, {"operation": "colorize"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"image": ["Choose a photo."]}
    assert not Job.objects.exists()


def test_too_many_photos_at_once(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    settings.BATCH_MAX_PHOTOS = 2
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(BATCHES, colorize_batch(3))
    assert response.status_code == 422
    assert response.json()["errors"] == {"image": ["At most 2 photos at once: this batch has 3."]}
    assert not Job.objects.exists()


def test_a_mask_does_not_go_with_a_batch(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    mask = SimpleUploadedFile("mask.png", make_image((200, 150), "PNG"), content_type="image/png")
    response = alice_api.post(BATCHES, {"operation": "extend", "image": photos(2), "mask": mask})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["mask"]
    assert not Job.objects.exists()


def test_without_a_key_it_is_422_no_key(alice_api: ApiClient) -> None:
    response = alice_api.post(BATCHES, colorize_batch(2))
    assert response.status_code == 422
    assert response.json()["code"] == "no_key"
    assert not Job.objects.exists()


def test_a_batch_past_the_concurrency_limit_waits_its_turn(
    alice: User,
    alice_api: ApiClient,
    settings: SettingsWrapper,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: object,
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 2
    make_key(alice, Vendor.PICWISH)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = alice_api.post(BATCHES, colorize_batch(5))
    assert response.status_code == 201, response.content
    items = response.json()["jobs"]
    assert [item["status"] for item in items] == ["queued"] * 2 + ["pending"] * 3
    assert [item["queue_position"] for item in items] == [None, None, 0, 1, 2]
    # No job has finished yet: nothing to time an estimated start by.
    assert {item["estimated_start"] for item in items} == {None}
    # Only the two that started were sent to the workers; all five were charged.
    assert sorted(args[0] for args in sent_tasks.args[jobs.ADVANCE_TASK]) == sorted(
        item["id"] for item in items[:2]
    )
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.active_jobs, quota.waiting_jobs) == (5, 2, 3)
    # GET shows the same place.
    one = alice_api.get(f"/api/v1/jobs/{items[3]['id']}").json()
    assert (one["status"], one["queue_position"]) == ("pending", 1)


def test_past_the_waiting_limit_the_page_s_message_and_nothing_starts(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 2
    settings.QUOTA_WAITING_JOBS = 1
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(BATCHES, colorize_batch(4))
    assert response.status_code == 429
    body = response.json()
    assert (body["code"], body["limit"]) == ("quota_exceeded", "waiting_jobs")
    assert body["message"] == (
        "A batch of 4 photos is a job each, which would pass a limit: You already have 1 job "
        "waiting for a slot, your limit (2 of your jobs run at once). Send more when it has "
        "started, or cancel it."
    )
    assert not Job.objects.exists()
    assert not Batch.objects.exists()
    assert not Quota.objects.filter(user=alice, jobs_today__gt=0).exists()
    assert not Quota.objects.filter(user=alice, waiting_jobs__gt=0).exists()
    assert not stored_job_files(settings)
    # The operation page refuses the same batch with the same words.
    page = Client()
    page.force_login(alice)
    answer = page.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "png", "file_image": photos(4)},
    )
    assert body["message"] in html.unescape(answer.content.decode())
    # Three fit: two run, one waits.
    assert alice_api.post(BATCHES, colorize_batch(3)).status_code == 201


# --- Whose ----------------------------------------------------------------------------------


def test_another_persons_key_is_never_used(alice: User, bob: User, bob_api: ApiClient) -> None:
    alices = make_key(alice, Vendor.PICWISH)
    response = bob_api.post(BATCHES, colorize_batch(2, key=str(alices.pk)))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["key"]
    assert not Job.objects.exists()
    assert not Batch.objects.exists()


def test_the_batch_is_the_callers(alice: User, bob: User, bob_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    make_key(bob, Vendor.PICWISH)
    response = bob_api.post(BATCHES, colorize_batch(2))
    assert response.status_code == 201
    assert Batch.objects.get().owner == bob
    assert set(Job.objects.values_list("owner", flat=True)) == {bob.pk}
    assert not Quota.objects.filter(user=alice, jobs_today__gt=0).exists()
