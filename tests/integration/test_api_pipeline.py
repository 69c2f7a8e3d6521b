"""A colorization through the API end to end: POST /jobs with a sandbox key -> real worker ->
sandbox over HTTP -> poll GET /jobs/{id} -> download the result."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from editor.models import Vendor
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_key, make_user
from tests.images import make_image, open_image
from tests.integration.conftest import Worker

pytestmark = [pytest.mark.integration]


def test_a_colorization_through_the_api(worker: Worker) -> None:
    user = make_user("scripter")
    make_key(user, Vendor.PICWISH, "sandbox-api-colorize", label="sandbox-api-colorize")
    client = ApiClient(token_for(user))
    photo = SimpleUploadedFile("old.jpg", make_image((320, 240), color=(90, 90, 90)))
    response = client.post(
        "/api/v1/jobs", {"operation": "colorize", "format": "png", "image": photo}
    )
    assert response.status_code == 202, response.content
    url = response["Location"]
    deadline = time.monotonic() + 60
    while True:
        job = client.get(url).json()
        if job["status"] in ("succeeded", "failed", "canceled") or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert job["status"] == "succeeded", job
    assert job["result"]["format"] == "png"
    download = client.get(job["result"]["url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert open_image(download.content).size == (job["result"]["width"], job["result"]["height"])
