"""Every file of the abuse corpus (tests/abuse/corpus.py) through the colorize form, the API and
the worker's image steps: a clear error or a job, never a 500, never an unexpected exception.

Uploads are encoded by hand, so the file name reaches the server exactly as the corpus gives it
(Django's test client would keep only its last path part)."""

from __future__ import annotations

import collections
import html
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from editor import images, recipes
from editor.models import Job, RecipeRun, Vendor
from editor.vendors.picwish import LABEL, PicWishAdapter
from tests.abuse.corpus import CASES, Case
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_key

# What a person may be told about a file refused at upload: each is a plain sentence.
HUMAN_MESSAGES = (
    "The submitted file is empty.",
    "Choose a photo.",
    "Choose at least one photo.",  # a batch form, when the upload carried no file at all
    "Send the photo as a file",
    "This file is not an image we can read.",
    "This image has too many pixels",
    " images are not supported; use JPEG, PNG, WebP, HEIC or AVIF.",
    "This image is damaged or incomplete",
)
pytestmark = pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
BY_NAME = pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)


def multipart(fields: dict[str, str], file_field: str, case: Case) -> tuple[bytes, str]:
    """A multipart/form-data body carrying ``case``'s bytes under its raw file name."""
    boundary = f"corpus-{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    filename = case.filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        + case.data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def assert_stored_safely(job: Job) -> None:
    """Inputs live under the studio's own names, whatever the upload claimed to be called."""
    for name in job.inputs.values():
        assert name.startswith(f"jobs/{job.owner_id}/"), name
        assert ".." not in name, name
        assert "\\" not in name, name
        assert "passwd" not in name, name
    assert all(char.isprintable() for char in job.photo_name), repr(job.photo_name)
    assert "/" not in job.photo_name
    assert "\\" not in job.photo_name


def test_the_corpus_is_large_and_varied() -> None:
    kinds = collections.Counter(case.kind for case in CASES)
    assert len(CASES) >= 100
    assert len(kinds) >= 10
    assert {case.expected for case in CASES} == {"rejected", "damaged", "accepted"}


@BY_NAME
@pytest.mark.django_db
def test_the_operation_form(client: Client, alice: User, case: Case) -> None:
    make_key(alice, Vendor.PICWISH, "sandbox-corpus-0001")
    client.force_login(alice)
    body, content_type = multipart({"provider": "picwish", "format": "jpg"}, "file_image", case)
    response = client.post(
        reverse("editor:operation", args=["colorize"]), body, content_type=content_type
    )
    assert response.status_code != 500
    if case.expected in {"rejected", "damaged"}:
        assert response.status_code == 200
        errors = response.context["form"].errors
        messages = errors.get("file_image")
        assert messages, f"no error on the photo field: {dict(errors)}"
        page = response.content.decode()
        for message in messages:
            assert any(human in message for human in HUMAN_MESSAGES), message
            if case.expected == "damaged":
                assert message.startswith(f"{case.filename}: This image is damaged"), message
            assert html.escape(message) in page or message in page
        assert "Traceback" not in page
        assert ">None<" not in page
        assert not Job.objects.exists()
    else:
        assert response.status_code == 302, getattr(response, "context", None) and dict(
            response.context["form"].errors
        )
        job = Job.objects.get()
        assert response["Location"] == reverse("editor:job", args=[job.pk])
        assert_stored_safely(job)
        assert client.get(response["Location"]).status_code == 200


@BY_NAME
@pytest.mark.django_db
def test_the_recipe_batch_form(client: Client, alice: User, case: Case) -> None:
    make_key(alice, Vendor.PICWISH, "sandbox-corpus-0001")
    recipe = recipes.save(owner=alice, name="Corpus", steps=[{"operation": "colorize"}])
    client.force_login(alice)
    body, content_type = multipart({}, "photos", case)
    url = reverse("editor:recipe_batch_new", args=[recipe.pk])
    response = client.post(url, body, content_type=content_type)
    assert response.status_code != 500
    if case.expected in {"rejected", "damaged"}:
        assert response.status_code == 422
        messages = response.context["errors"].get("photos")
        assert messages, f"no error on the photos field: {response.context['errors']}"
        page = response.content.decode()
        for message in messages:
            assert any(human in message for human in HUMAN_MESSAGES), message
            assert html.escape(message) in page or message in page
        assert "Traceback" not in page
        assert not Job.objects.exists()
        assert not RecipeRun.objects.exists()
    else:
        assert response.status_code == 302, response.context and response.context["errors"]
        run = RecipeRun.objects.get()
        assert run.batch is not None
        assert response["Location"] == reverse("editor:recipe_batch", args=[run.batch.pk])
        assert_stored_safely(Job.objects.get())
        assert client.get(response["Location"]).status_code == 200


@BY_NAME
@pytest.mark.django_db
def test_the_api(alice: User, case: Case) -> None:
    make_key(alice, Vendor.PICWISH, "sandbox-corpus-0001")
    api = ApiClient(token_for(alice))
    body, content_type = multipart({"operation": "colorize", "format": "jpg"}, "image", case)
    response: Any = api.client.post(
        "/api/v1/jobs",
        body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code != 500
    if case.expected in {"rejected", "damaged"}:
        too_large = len(case.data) > 64 * 1024 * 1024
        assert response.status_code == (413 if too_large else 422), response.content
        answer = response.json()
        assert set(answer) >= {"code", "message"}
        assert answer["message"].startswith("image: "), answer
        assert any(human in answer["message"] for human in HUMAN_MESSAGES), answer
        if case.expected == "damaged":
            assert answer["message"].startswith(f"image: {case.filename}: "), answer
        assert not Job.objects.exists()
    else:
        assert response.status_code == 202, response.content
        job = Job.objects.get()
        assert response.json()["id"] == str(job.pk)
        assert_stored_safely(job)


PAST_THE_HEADER = [case for case in CASES if case.expected != "rejected"]


@pytest.mark.parametrize("case", PAST_THE_HEADER, ids=lambda case: case.name)
def test_the_worker_image_steps(case: Case) -> None:
    """What editor.pipeline._prepare and _finish do with the photo: fit it to PicWish's colorize
    limits, then thumbnail a JPEG/PNG made from it (and the file itself, as a vendor could
    answer with anything). Each returns or says why not."""
    limits = PicWishAdapter.limits("colorize", "image")
    refusal = ""
    try:
        images.thumbnail(case.data)
    except images.ImageRejected as rejected:
        refusal = str(rejected)
    assert refusal in {"", "This image is damaged or incomplete."}
    try:
        fitted = images.fit(case.data, limits, vendor_label=LABEL)
    except images.ImageRejected as rejected:
        refusal = str(rejected)
    else:
        refusal = ""
    assert refusal in {"", "This image is damaged or incomplete."}
    if refusal:
        return
    assert fitted.image.media_type in {"image/jpeg", "image/png", "image/webp"}
    assert 1 <= fitted.width <= limits.max_width
    assert 1 <= fitted.height <= limits.max_height
    # The vendor answers with a JPEG or PNG of the photo; the studio thumbnails that answer.
    for fmt in ("JPEG", "PNG"):
        produced = images.convert(fitted.image.data, fmt, 90)
        made = images.thumbnail(produced)
        assert made.thumbnail.startswith(b"\xff\xd8")
        assert (made.width, made.height) == (fitted.width, fitted.height)
