"""The jobs endpoints: submit through the page's form, list, read, download, cancel, retry,
delete; each for the owner, another user (404), no token and a revoked token (401)."""

from __future__ import annotations

import datetime as dt
import errno
import io
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts import quotas
from accounts.models import Quota, User
from api.models import ApiToken
from editor.models import Job, JobStatus, Vendor
from tests.api.calls import JOBS, colorize
from tests.api.conftest import ApiClient
from tests.factories import camera_job, make_job, make_job_row, make_key
from tests.images import (
    count_conversions,
    has_gps,
    huge_png,
    lying_jpeg,
    make_image,
    photo,
    png_with_bad_crc,
)

pytestmark = pytest.mark.django_db


def job_paths(job: Job) -> list[tuple[str, str]]:
    base = f"{JOBS}/{job.pk}"
    return [
        ("get", base),
        ("get", f"{base}/result"),
        ("post", f"{base}/cancel"),
        ("post", f"{base}/retry"),
        ("delete", base),
    ]


def call(client: ApiClient, method: str, path: str) -> Any:
    return getattr(client, method)(path)


# --- Who may call ----------------------------------------------------------------------------


def test_every_job_endpoint_is_404_for_another_user(alice: User, bob_api: ApiClient) -> None:
    job = make_job(alice)
    for method, path in job_paths(job):
        response = call(bob_api, method, path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert Job.objects.filter(pk=job.pk, status=JobStatus.SUCCEEDED).exists()


def test_every_job_endpoint_needs_a_token(alice: User, anonymous_api: ApiClient) -> None:
    job = make_job(alice)
    for method, path in [*job_paths(job), ("get", JOBS), ("post", JOBS)]:
        response = call(anonymous_api, method, path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthenticated"
    assert Job.objects.filter(pk=job.pk).exists()


def test_a_revoked_token_is_refused_everywhere(alice: User) -> None:
    made, token = ApiToken.create(alice, "old")
    made.revoke()
    client = ApiClient(token)
    job = make_job(alice)
    for method, path in [*job_paths(job), ("get", JOBS), ("post", JOBS)]:
        assert call(client, method, path).status_code == 401, path
    assert Job.objects.filter(pk=job.pk).exists()


def test_the_list_shows_only_the_callers_jobs(alice: User, bob_api: ApiClient) -> None:
    make_job(alice)
    response = bob_api.get(JOBS)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next": None}


# --- Submitting ------------------------------------------------------------------------------


def test_submitting_a_colorization(alice: User, alice_api: ApiClient) -> None:
    key = make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize())
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    body = response.json()
    assert body["id"] == str(job.pk)
    assert response["Location"] == f"http://testserver/api/v1/jobs/{job.pk}"
    assert (body["operation"], body["provider"], body["status"]) == (
        "colorize",
        "picwish",
        "queued",
    )
    assert body["params"] == {"format": "png"}
    assert (body["result"], body["results"], body["error"]) == (None, [], None)
    assert (job.owner, job.key, job.params) == (alice, key, {"format": "png"})
    assert set(job.inputs) == {"image"}


def test_a_submit_reads_the_persons_limits_once(
    alice: User, alice_api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_key(alice, Vendor.PICWISH)
    read: list[User] = []
    limits_for = quotas.limits_for

    def counted(user: User) -> quotas.Limits:
        read.append(user)
        return limits_for(user)

    monkeypatch.setattr(quotas, "limits_for", counted)
    assert alice_api.post(JOBS, colorize()).status_code == 202
    assert read == [alice]


def test_submitting_a_two_file_operation(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    response = alice_api.post(
        JOBS, {"operation": "retouch", "image": photo(), "style": photo(name="s.jpg")}
    )
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    assert (job.operation, job.provider, set(job.inputs)) == (
        "retouch",
        "ailabtools",
        {"image", "style"},
    )


def test_a_photo_sent_as_a_plain_field_is_named(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, {"operation": "colorize", "image": "not a file"})
    assert response.status_code == 422
    assert response.json()["message"] == (
        "image: Send the photo as a file (a multipart part with a file name)."
    )
    assert not Job.objects.exists()


def test_a_missing_second_file_names_it(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    response = alice_api.post(JOBS, {"operation": "retouch", "image": photo()})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert response.json()["message"].startswith("style: ")
    assert "style" in response.json()["errors"]
    assert not Job.objects.exists()


def test_palettes_as_commas_or_repeated_fields(alice: User, alice_api: ApiClient) -> None:
    for palette in ("DB0D0D,0e0cbb", ["DB0D0D", "0E0CBB"]):
        response = alice_api.post(
            JOBS,
            {
                "operation": "color_migration",
                "provider": "local",
                "mode": "TEMPLATE",
                "color_template": palette,
                "image": photo(),
            },
        )
        assert response.status_code == 202, response.content
        assert response.json()["params"]["color_template"] == ["DB0D0D", "0E0CBB"]


def test_a_bad_parameter_is_422_naming_it(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(format="gif"))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"].startswith("format: ")
    assert list(body["errors"]) == ["format"]
    assert not Job.objects.exists()


def test_an_unknown_operation_or_field_is_422(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(operation="nope"))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["operation"]
    response = alice_api.post(JOBS, colorize(reuse_image="1"))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["reuse_image"]
    assert not Job.objects.exists()


def test_a_file_that_is_no_image_is_422(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    text = SimpleUploadedFile("p.jpg", b"not an image at all", content_type="image/jpeg")
    response = alice_api.post(JOBS, colorize(image=text))
    assert response.status_code == 422
    assert response.json()["message"].startswith("image: ")
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("data", "name"),
    [(lying_jpeg(), "holiday.jpg"), (png_with_bad_crc(), "scan.png")],
    ids=["lying-header", "bad-crc"],
)
def test_a_damaged_photo_is_422_naming_the_file(
    alice: User, alice_api: ApiClient, data: bytes, name: str
) -> None:
    make_key(alice, Vendor.PICWISH)
    upload = SimpleUploadedFile(name, data, content_type="image/jpeg")
    response = alice_api.post(JOBS, colorize(image=upload))
    assert response.status_code == 422
    answer = response.json()
    assert answer["errors"] == {"image": [answer["message"].removeprefix("image: ")]}
    assert answer["message"].startswith(f"image: {name}: This image is damaged or incomplete: ")
    assert not Job.objects.exists()


def test_a_png_over_its_pixel_cap_from_the_memory_budget_is_422(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    make_key(alice, Vendor.PICWISH)
    upload = SimpleUploadedFile("scan.png", huge_png((2000, 1000)), content_type="image/png")
    response = alice_api.post(JOBS, colorize(image=upload))
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "image": [
            "This image has too many pixels: at 2,000 × 1,000 it has 2 megapixels, and the most a "
            "PNG may have is 0.8 megapixels. Saved as an ordinary (baseline) JPEG it may have up "
            "to 500 megapixels: it is then scaled down to fit."
        ]
    }
    assert not Job.objects.exists()


def test_a_file_over_the_limit_is_413(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    make_key(alice, Vendor.PICWISH)
    settings.UPLOAD_MAX_MB = 1
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    big = SimpleUploadedFile("big.jpg", make_image() + b"\0" * (2 * 1024 * 1024), "image/jpeg")
    response = alice_api.post(JOBS, colorize(image=big))
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["message"] == "image: the file is larger than 1 MB."
    assert not Job.objects.exists()


def test_several_photos_are_refused(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(image=[photo(), photo(name="q.jpg")]))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["image"]


def test_without_a_key_it_is_422_no_key(alice_api: ApiClient) -> None:
    response = alice_api.post(JOBS, colorize())
    assert response.status_code == 422
    assert response.json()["code"] == "no_key"
    assert "PicWish" in response.json()["message"]
    assert not Job.objects.exists()


def test_another_users_key_is_never_used(alice: User, bob: User, alice_api: ApiClient) -> None:
    bobs = make_key(bob, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(key=str(bobs.pk)))
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["key"]
    assert not Job.objects.exists()


def test_the_quota_is_429_with_limit_and_reset(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    settings.QUOTA_JOBS_PER_DAY = 1
    make_key(alice, Vendor.PICWISH)
    assert alice_api.post(JOBS, colorize()).status_code == 202
    response = alice_api.post(JOBS, colorize())
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "quota_exceeded"
    assert body["limit"]
    assert "resets_at" in body
    assert Job.objects.count() == 1


# --- Listing ---------------------------------------------------------------------------------


def test_the_list_is_paginated_newest_first(alice: User, alice_api: ApiClient) -> None:
    made = []
    for minutes in range(5):
        job = make_job(alice)
        job.created_at = timezone.now() - dt.timedelta(minutes=10 - minutes)
        job.save()
        made.append(str(job.pk))
    newest_first = list(reversed(made))
    first = alice_api.get(JOBS, {"limit": 2}).json()
    assert [item["id"] for item in first["items"]] == newest_first[:2]
    second = alice_api.get(first["next"]).json()
    assert [item["id"] for item in second["items"]] == newest_first[2:4]
    third = alice_api.get(second["next"]).json()
    assert [item["id"] for item in third["items"]] == newest_first[4:]
    assert third["next"] is None
    assert alice_api.get(JOBS, {"limit": 0}).status_code == 422
    assert alice_api.get(JOBS, {"limit": 101}).status_code == 422


def test_the_list_filters(alice: User, alice_api: ApiClient) -> None:
    old = make_job(alice, JobStatus.FAILED)
    old.created_at = timezone.now() - dt.timedelta(days=2)
    old.save()
    done = make_job(alice)
    migrated = make_job(alice)
    migrated.operation = "color_migration"
    migrated.save()

    def ids(**query: Any) -> set[str]:
        response = alice_api.get(JOBS, query)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    assert ids(status="failed") == {str(old.pk)}
    assert ids(operation="color_migration") == {str(migrated.pk)}
    yesterday = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert ids(created_after=yesterday) == {str(done.pk), str(migrated.pk)}
    assert ids(created_before=yesterday) == {str(old.pk)}
    assert alice_api.get(JOBS, {"status": "bogus"}).status_code == 422
    # PostgreSQL text cannot hold a NUL byte: refused as input, never a failed query.
    assert alice_api.get(JOBS, {"operation": "colorize\x00"}).status_code == 422
    assert alice_api.get(JOBS, {"operation": "x" * 41}).status_code == 422


def test_the_list_takes_a_fixed_number_of_queries(alice: User, alice_api: ApiClient) -> None:
    make_job(alice)
    alice_api.get(JOBS)  # the token's last use is recorded once a minute: not counted below
    with CaptureQueriesContext(connection) as one:
        assert len(alice_api.get(JOBS).json()["items"]) == 1
    for _ in range(4):
        make_job(alice)
    with CaptureQueriesContext(connection) as five:
        assert len(alice_api.get(JOBS).json()["items"]) == 5
    assert len(five) == len(one)


# --- Reading and downloading ---------------------------------------------------------------


def test_a_succeeded_job_shows_its_result(alice: User, alice_api: ApiClient) -> None:
    job = make_job(alice)
    body = alice_api.get(f"{JOBS}/{job.pk}").json()
    result = job.results.get()
    assert body["status"] == "succeeded"
    assert body["result"] == {
        "width": result.width,
        "height": result.height,
        "bytes": result.bytes,
        "format": "png",
        "url": f"http://testserver/api/v1/jobs/{job.pk}/result",
    }
    assert body["results"] == [body["result"]]


def test_a_failed_job_shows_its_error(alice: User, alice_api: ApiClient) -> None:
    job = make_job(alice, JobStatus.FAILED)
    body = alice_api.get(f"{JOBS}/{job.pk}").json()
    assert body["error"] == {"code": "failed", "message": "PicWish could not read this image."}
    assert body["result"] is None


def test_a_job_at_the_vendor_says_when_it_should_be_done(alice: User, alice_api: ApiClient) -> None:
    job = make_job(alice, JobStatus.WAITING)
    submitted = timezone.now() - dt.timedelta(seconds=2)
    Job.objects.filter(pk=job.pk).update(
        provider="picwish", operation="colorize", submitted_at=submitted, vendor_seconds=30.0
    )
    body = alice_api.get(f"{JOBS}/{job.pk}").json()
    expected = submitted + dt.timedelta(seconds=30)
    shown = dt.datetime.fromisoformat(body["estimated_finish"])
    assert abs(shown - expected) < dt.timedelta(milliseconds=1)  # JSON keeps milliseconds
    ended = make_job(alice, JobStatus.SUCCEEDED)
    assert alice_api.get(f"{JOBS}/{ended.pk}").json()["estimated_finish"] is None


def test_the_result_comes_without_gps(alice: User, alice_api: ApiClient) -> None:
    job, result = camera_job(alice)
    response = alice_api.get(f"{JOBS}/{job.pk}/result")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert (
        response["Content-Disposition"] == f'attachment; filename="{result.download_name("jpg")}"'
    )
    assert not has_gps(response.content)


@pytest.mark.parametrize(("choice", "fmt"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_the_result_converted(alice: User, alice_api: ApiClient, choice: str, fmt: str) -> None:
    job, _result = camera_job(alice)
    response = alice_api.get(f"{JOBS}/{job.pk}/result", {"format": choice, "quality": 70})
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).format == fmt
    assert not has_gps(response.content)


def test_a_converted_result_is_made_once_then_sent_as_kept(
    alice: User,
    alice_api: ApiClient,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job, _result = camera_job(alice)
    made = count_conversions(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        first = alice_api.get(f"{JOBS}/{job.pk}/result", {"format": "webp", "quality": 70})
    second = alice_api.get(f"{JOBS}/{job.pk}/result", {"format": "webp", "quality": 70})
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert made == ["WEBP"]


def test_a_stored_result_too_big_to_convert_is_422(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    job, result = camera_job(alice)
    default_storage.delete(result.file.name)
    # A JPEG: its pixel cap is not the budget's, so converting it meets the budget itself.
    default_storage.save(result.file.name, ContentFile(make_image((2000, 1000))))
    response = alice_api.get(f"{JOBS}/{job.pk}/result", {"format": "png"})
    assert response.status_code == 422
    assert response.json()["message"] == (
        "This result cannot be downloaded: This image needs too much memory to process: 16 MB; "
        "the limit is 10 MB. Save it smaller or as JPEG."
    )


def test_a_bad_format_or_quality_is_422(alice: User, alice_api: ApiClient) -> None:
    job, _result = camera_job(alice)
    assert alice_api.get(f"{JOBS}/{job.pk}/result", {"format": "gif"}).status_code == 422
    bad = alice_api.get(f"{JOBS}/{job.pk}/result", {"format": "jpeg", "quality": 0})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid"


def test_no_result_until_succeeded(alice: User, alice_api: ApiClient) -> None:
    job = make_job(alice, JobStatus.RUNNING)
    response = alice_api.get(f"{JOBS}/{job.pk}/result")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Cancel, retry, delete -------------------------------------------------------------------


def test_cancel(alice: User, alice_api: ApiClient) -> None:
    job = make_job(alice, JobStatus.RUNNING)
    response = alice_api.post(f"{JOBS}/{job.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    again = alice_api.post(f"{JOBS}/{job.pk}/cancel")
    assert again.status_code == 409
    assert again.json()["code"] == "not_active"


def test_retry(alice: User, alice_api: ApiClient) -> None:
    job = make_job(alice, JobStatus.FAILED)
    response = alice_api.post(f"{JOBS}/{job.pk}/retry")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "queued"
    assert response.json()["error"] is None
    again = alice_api.post(f"{JOBS}/{job.pk}/retry")
    assert again.status_code == 409
    assert again.json()["code"] == "not_retryable"


def test_retry_past_the_quota_is_429(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    job = make_job(alice, JobStatus.FAILED)
    settings.QUOTA_JOBS_PER_DAY = 0
    response = alice_api.post(f"{JOBS}/{job.pk}/retry")
    assert response.status_code == 429
    assert response.json()["code"] == "quota_exceeded"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


def test_delete(alice: User, alice_api: ApiClient) -> None:
    job = make_job(alice)
    response = alice_api.delete(f"{JOBS}/{job.pk}")
    assert response.status_code == 204
    assert not Job.objects.filter(pk=job.pk).exists()
    assert alice_api.get(f"{JOBS}/{job.pk}").status_code == 404


def test_the_openapi_document_lists_every_jobs_endpoint(alice_api: ApiClient) -> None:
    paths = alice_api.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths[JOBS]) == {"get", "post"}
    assert set(paths["/api/v1/jobs/{job_id}"]) == {"get", "delete"}
    for path in ("result", "cancel", "retry"):
        assert f"/api/v1/jobs/{{job_id}}/{path}" in paths


@pytest.mark.parametrize(
    ("moment", "status"),
    [
        ("0413-04-04T22:54:40.5127-22:02", 200),  # an offset PostgreSQL refuses (Schemathesis)
        ("2026-03-01T10:00:00+15:59", 200),
        ("2026-03-01T10:00:00", 200),  # no offset: the studio's time zone
        ("0001-01-01T00:00:00+01:00", 422),  # before the year 1 in UTC
    ],
)
def test_date_filters_take_any_iso_moment(
    alice: User, alice_api: ApiClient, moment: str, status: int
) -> None:
    job = make_job(alice)
    for name in ("created_after", "created_before"):
        response = alice_api.get(JOBS, {name: moment})
        assert response.status_code == status, response.content
        if status == 422:
            assert response.json()["code"] == "invalid"
            assert name in response.json()["message"]
    listed = alice_api.get(JOBS, {"created_before": "2999-01-01T00:00:00-20:00"}).json()["items"]
    assert [item["id"] for item in listed] == [str(job.pk)]


def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str, content: Any, max_length: int | None = None) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(default_storage, "save", refuse)


def test_a_full_storage_is_a_503_to_try_again_with_nothing_charged(
    alice: User, alice_api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_key(alice, Vendor.PICWISH)
    full_disk(monkeypatch)
    response = alice_api.post(JOBS, colorize())
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "60"
    body = response.json()
    assert body["code"] == "storage_unavailable"
    assert "try again in a few minutes" in body["message"]
    assert "No space" not in body["message"]
    assert not Job.objects.exists()
    quota = Quota.objects.filter(user=alice).first()  # none: the charge was rolled back
    assert quota is None or (quota.jobs_today, quota.credits_this_month, quota.stored_bytes) == (
        0,
        0,
        0,
    )


def test_a_job_retrying_shows_what_its_last_try_met(alice: User, alice_api: ApiClient) -> None:
    job = make_job_row(alice, JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(
        error_code="internal",
        error_message="Something went wrong on our side (reference 0a1b2c3d). The job will try "
        "again shortly.",
        attempts=2,
    )
    job.refresh_from_db()
    body = alice_api.get(f"{JOBS}/{job.pk}").json()
    assert body["status"] == "running"
    assert body["error"] is None
    assert body["retrying"] == {
        "code": "internal",
        "message": "Something went wrong on our side (reference 0a1b2c3d). The job will try "
        "again shortly.",
        "attempts": 2,
        "next_try_at": None,  # no wait scheduled: the try is being made
        "gives_up_at": body["retrying"]["gives_up_at"],
    }
    # The API writes milliseconds.
    ms = dt.timedelta(milliseconds=1)
    assert abs(dt.datetime.fromisoformat(body["retrying"]["gives_up_at"]) - job.deadline) < ms
    due = timezone.now() + dt.timedelta(seconds=40)
    Job.objects.filter(pk=job.pk).update(due_at=due)
    body = alice_api.get(f"{JOBS}/{job.pk}").json()
    assert abs(dt.datetime.fromisoformat(body["retrying"]["next_try_at"]) - due) < ms
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
    body = alice_api.get(f"{JOBS}/{job.pk}").json()
    assert body["retrying"] is None
    assert body["error"]["code"] == "internal"


@pytest.mark.parametrize("path", [JOBS, "/api/v1/batches"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "multipart/form-data; boundary=",
            b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb',
        ),
        ("multipart/form-data", b"no boundary at all"),
    ],
)
def test_an_unreadable_multipart_body_is_a_json_400(
    alice_api: ApiClient, path: str, content_type: str, body: bytes
) -> None:
    """Django's own answer to a body it cannot parse is an HTML page; the API's is its JSON."""
    response = alice_api.client.generic(
        "POST", path, body, content_type=content_type, headers=alice_api._headers(None)
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "unreadable_body"
