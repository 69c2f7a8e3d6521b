"""Downloading a result: the original without its metadata, or a copy as PNG, JPEG or WebP,
with a file name that says what it is."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse
from PIL import Image
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts.models import StoredFile, User
from editor import downloads, jobs
from editor.models import Result
from tests.factories import camera_job, make_job, stored
from tests.images import (
    GPS_IFD,
    SRGB,
    camera_jpeg,
    count_conversions,
    encode,
    has_gps,
    make_image,
    open_image,
    picture,
)

pytestmark = pytest.mark.django_db

STARTED = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)


def download_url(result: Result) -> str:
    return reverse("editor:result_download", args=[result.job_id, result.pk])


def file_name(response: HttpResponseBase) -> str:
    disposition = response["Content-Disposition"]
    match = re.fullmatch(r'attachment; filename="([^"]+)"', disposition)
    assert match, disposition
    return match.group(1)


def test_the_original_comes_without_gps_and_keeps_its_pixels_and_profile(
    client: Client, alice: User
) -> None:
    job, result = camera_job(alice)
    client.force_login(alice)
    response = client.get(download_url(result))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private"
    assert file_name(response) == f"colorize-2026-11-22-{job.pk.hex[:8]}.jpg"
    data = response.content
    stored = result.file.open("rb").read()
    assert has_gps(stored)
    assert not has_gps(data)
    image = open_image(data)
    assert image.info["icc_profile"] == SRGB
    assert dict(image.getexif()) == {0x0112: 6}  # still shown upright
    assert image.tobytes() == open_image(stored).tobytes()


@pytest.mark.parametrize(
    ("choice", "fmt", "media_type", "extension"),
    [
        ("png", "PNG", "image/png", "png"),
        ("jpeg", "JPEG", "image/jpeg", "jpg"),
        ("webp", "WEBP", "image/webp", "webp"),
    ],
)
def test_a_converted_copy(
    client: Client, alice: User, choice: str, fmt: str, media_type: str, extension: str
) -> None:
    job, result = camera_job(alice)
    client.force_login(alice)
    response = client.get(download_url(result), {"format": choice, "quality": "80"})
    assert response.status_code == 200
    assert response["Content-Type"] == media_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private"
    assert file_name(response) == f"colorize-2026-11-22-{job.pk.hex[:8]}.{extension}"
    image = open_image(response.content)
    assert image.format == fmt
    assert image.size == (64, 96)  # the orientation tag was applied to the pixels
    assert not image.getexif()
    assert not image.getexif().get_ifd(GPS_IFD)
    assert image.info.get("icc_profile") == SRGB


@pytest.mark.parametrize("choice", ["jpeg", "webp"])
def test_quality_changes_the_size(client: Client, alice: User, choice: str) -> None:
    _job, result = camera_job(alice)
    big = encode(picture((400, 300)), "PNG")
    default_storage.delete(result.file.name)
    default_storage.save(result.file.name, ContentFile(big))
    client.force_login(alice)
    sizes = [
        len(client.get(download_url(result), {"format": choice, "quality": q}).content)
        for q in ("10", "95")
    ]
    assert sizes[0] < sizes[1]
    default_quality = client.get(download_url(result), {"format": choice}).content
    assert sizes[0] < len(default_quality) < sizes[1]  # 90 when not given


def test_a_later_result_of_the_job_is_numbered(client: Client, alice: User) -> None:
    job, first = camera_job(alice)
    second = Result.objects.create(
        job=job,
        position=1,
        file=default_storage.save(
            f"jobs/{alice.pk}/{job.pk}/result-1.png", ContentFile(encode(picture(), "PNG"))
        ),
        media_type="image/png",
    )
    client.force_login(alice)
    response = client.get(download_url(second))
    assert response["Content-Type"] == "image/png"
    assert file_name(response) == f"colorize-2026-11-22-{job.pk.hex[:8]}-2.png"
    response = client.get(download_url(second), {"format": "jpeg"})
    assert file_name(response) == f"colorize-2026-11-22-{job.pk.hex[:8]}-2.jpg"
    assert first.download_name("webp") == f"colorize-2026-11-22-{job.pk.hex[:8]}.webp"


def test_an_operation_slug_becomes_a_file_name(alice: User) -> None:
    job, result = camera_job(alice)
    job.operation = "color_migration"
    assert result.download_name("png") == f"color-migration-2026-11-22-{job.pk.hex[:8]}.png"


def test_download_needs_login(client: Client, alice: User) -> None:
    _job, result = camera_job(alice)
    response = client.get(download_url(result), {"format": "png"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_another_user_gets_404(client: Client, alice: User, bob: User) -> None:
    _job, result = camera_job(alice)
    client.force_login(bob)
    for choice in ("original", "png"):
        assert client.get(download_url(result), {"format": choice}).status_code == 404
    # Nor through a job of his own.
    own = make_job(bob)
    url = reverse("editor:result_download", args=[own.pk, result.pk])
    assert client.get(url).status_code == 404


def test_download_is_get_only(client: Client, alice: User) -> None:
    _job, result = camera_job(alice)
    client.force_login(alice)
    assert client.post(download_url(result)).status_code == 405


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"format": "gif"}, "Choose the original, PNG, JPEG or WebP."),
        ({"format": "../../etc/passwd"}, "Choose the original, PNG, JPEG or WebP."),
        ({"format": "jpeg", "quality": "0"}, "Quality is a whole number from 1 to 100."),
        ({"format": "jpeg", "quality": "101"}, "Quality is a whole number from 1 to 100."),
        ({"format": "webp", "quality": "high"}, "Quality is a whole number from 1 to 100."),
        ({"format": "webp", "quality": "9" * 40}, "Quality is a whole number from 1 to 100."),
        ({"format": "jpeg", "quality": "50.5"}, "Quality is a whole number from 1 to 100."),
    ],
)
def test_a_bad_choice_gets_a_page_saying_why(
    client: Client, alice: User, query: dict[str, str], message: str
) -> None:
    job, result = camera_job(alice)
    client.force_login(alice)
    response = client.get(download_url(result), query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in response
    page = response.content.decode()
    assert message in page
    assert "<html" in page
    # The form again, to choose otherwise, and the way back.
    assert f'action="{download_url(result)}"' in page
    assert f'href="{reverse("editor:job", args=[job.pk])}"' in page


def test_quality_is_ignored_where_it_means_nothing(client: Client, alice: User) -> None:
    # The form always sends the (hidden) quality field, whatever is in it.
    _job, result = camera_job(alice)
    client.force_login(alice)
    for choice in ("original", "png"):
        response = client.get(download_url(result), {"format": choice, "quality": "oops"})
        assert response.status_code == 200, choice
    assert client.get(download_url(result), {"format": "", "quality": ""}).status_code == 200


def test_a_damaged_stored_result_gets_a_message_not_an_error(client: Client, alice: User) -> None:
    _job, result = camera_job(alice)
    default_storage.delete(result.file.name)
    default_storage.save(result.file.name, ContentFile(camera_jpeg()[:1500]))
    client.force_login(alice)
    for choice in ("original", "png", "jpeg", "webp"):
        response = client.get(download_url(result), {"format": choice})
        assert response.status_code == 422, choice
        assert "This result cannot be downloaded" in response.content.decode()


def test_a_missing_file_is_404(client: Client, alice: User) -> None:
    _job, result = camera_job(alice)
    default_storage.delete(result.file.name)
    client.force_login(alice)
    assert client.get(download_url(result)).status_code == 404


def test_the_job_page_offers_a_download_form_for_each_result(client: Client, alice: User) -> None:
    job, result = camera_job(alice)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert f'action="{download_url(result)}"' in page
    assert f'<label for="download-format-{result.pk}">Format</label>' in page
    assert f'<label for="download-quality-{result.pk}">Quality</label>' in page
    assert re.search(r'<option value="original"\s+selected>', page)
    # The status fragment the page polls carries it too (results appear by that swap).
    fragment = client.get(reverse("editor:job", args=[job.pk]), headers={"HX-Request": "true"})
    content = fragment.content.decode()
    assert "<html" not in content
    assert f'action="{download_url(result)}"' in content


def test_the_browser_gets_what_the_form_sends(client: Client, alice: User) -> None:
    """The form's field names and values are the ones the view reads."""
    _job, result = camera_job(alice)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[result.job_id])).content.decode()
    form = page[page.index(f'action="{download_url(result)}"') :]
    form = form[: form.index("</form>")]
    assert 'name="format"' in form
    assert 'name="quality"' in form
    assert 'name="metadata"' in form
    formats = form[form.index('name="format"') : form.index("</select>")]
    details = form[form.index('name="metadata"') :]
    details = details[: details.index("</select>")]
    for value in re.findall(r'<option value="([a-z]+)"', formats):
        response = client.get(download_url(result), {"format": value, "quality": "90"})
        assert response.status_code == 200, value
        assert Image.open(io.BytesIO(response.content)).format
    assert re.findall(r'<option value="([a-z]+)"', details) == ["camera", "none", "uploaded"]
    for value in ("camera", "none", "uploaded"):
        response = client.get(download_url(result), {"metadata": value})
        assert response.status_code == 200, value


def test_a_converted_copy_is_made_once_then_sent_as_kept(
    client: Client,
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _job, result = camera_job(alice)
    made = count_conversions(monkeypatch)
    client.force_login(alice)
    choice = {"format": "jpeg", "quality": "80"}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.get(download_url(result), choice)
    second = client.get(download_url(result), choice)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second["Content-Type"] == "image/jpeg"
    assert file_name(second) == file_name(first)
    assert made == ["JPEG"]
    # Another quality or format is another copy.
    client.get(download_url(result), {"format": "jpeg", "quality": "70"})
    client.get(download_url(result), {"format": "png"})
    assert made == ["JPEG", "JPEG", "PNG"]


def test_a_kept_copy_is_counted_and_goes_with_its_job(
    client: Client,
    alice: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job, result = camera_job(alice)
    before = stored(alice)
    client.force_login(alice)
    body = client.get(download_url(result), {"format": "webp", "quality": "75"}).content
    name = downloads.conversion_name(result, {"format": "webp", "quality": 75})
    assert name.startswith(jobs.folder_of(job) + "download-0-")
    assert default_storage.open(name, "rb").read() == body
    assert StoredFile.objects.get(name=name).bytes == len(body)
    assert stored(alice) == before + len(body)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.delete(job)
    assert not default_storage.exists(name)
    assert not StoredFile.objects.filter(name=name).exists()
    assert stored(alice) == 0


def test_a_copy_being_written_by_another_request_is_not_sent(
    client: Client,
    alice: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # The file is there but has no ledger row yet: another request is still writing it.
    _job, result = camera_job(alice)
    name = downloads.conversion_name(result, {"format": "png", "quality": 90})
    default_storage.save(name, ContentFile(b"\x89PNG\r\n\x1a\n half"))
    before = stored(alice)
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(download_url(result), {"format": "png"})
    assert response.status_code == 200
    assert open_image(response.content).size == (64, 96)  # the whole picture, upright
    # This request's own copy, under another name, was given back rather than kept twice.
    assert stored(alice) == before
    assert (
        not StoredFile.objects.filter(user=alice)
        .exclude(name=name)
        .filter(name__contains="download-")
        .exists()
    )


def test_the_original_is_never_decoded(
    client: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    _job, result = camera_job(alice)

    def refuse(self: Image.Image) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr(Image.Image, "load", refuse)
    client.force_login(alice)
    response = client.get(download_url(result))
    assert response.status_code == 200
    assert not has_gps(response.content)


def test_a_stored_result_too_big_to_convert_gets_the_memory_message(
    client: Client, alice: User, settings: SettingsWrapper
) -> None:
    settings.IMAGE_MEMORY_BUDGET_MB = 10
    _job, result = camera_job(alice)
    default_storage.delete(result.file.name)
    # A JPEG: its pixel cap is not the budget's, so converting it meets the budget itself.
    default_storage.save(result.file.name, ContentFile(make_image((2000, 1000))))
    client.force_login(alice)
    response = client.get(download_url(result), {"format": "jpeg"})
    assert response.status_code == 422
    assert response.context["errors"] == [
        "This result cannot be downloaded: This image needs too much memory to process: 16 MB; "
        "the limit is 10 MB. Save it smaller or as JPEG."
    ]
    # The original needs no decode: still there for the taking.
    assert client.get(download_url(result)).status_code == 200
