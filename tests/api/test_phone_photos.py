"""Phone photos through the API: a damaged HEIC refused on its field, and the photo details
a result's download carries (``metadata``)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import User
from editor.models import Job, Vendor
from tests.api.calls import JOBS, colorize
from tests.api.conftest import ApiClient
from tests.factories import job_with_details, make_key
from tests.images import DAMAGED_HEIC, MODEL, cut_heic, open_image

pytestmark = pytest.mark.django_db


def test_a_damaged_heic_is_422_naming_it(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    upload = SimpleUploadedFile("IMG_0042.HEIC", cut_heic(), content_type="image/heic")
    response = alice_api.post(JOBS, colorize(image=upload))
    assert response.status_code == 422
    assert response.json()["errors"] == {"image": [DAMAGED_HEIC]}
    assert not Job.objects.exists()


def test_a_bad_details_choice_is_refused(alice: User, alice_api: ApiClient) -> None:
    result = job_with_details(alice)
    response = alice_api.get(f"{JOBS}/{result.job_id}/result", {"metadata": "gps"})
    assert response.status_code == 422
    assert "metadata" in response.json()["errors"]


def test_the_api_download_takes_the_same_choice(alice: User, alice_api: ApiClient) -> None:
    result = job_with_details(alice)
    kept = alice_api.get(f"{JOBS}/{result.job_id}/result", {"format": "png"})
    assert kept.status_code == 200
    assert open_image(kept.content).getexif()[MODEL] == "Phone 15"
    bare = alice_api.get(f"{JOBS}/{result.job_id}/result", {"format": "png", "metadata": "none"})
    assert MODEL not in open_image(bare.content).getexif()


def test_the_openapi_schema_documents_the_details_choice(alice_api: ApiClient) -> None:
    schema = alice_api.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/jobs/{job_id}/result"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert "metadata" in names
    assert "`camera`" in operation["description"]
    assert "`uploaded`" in operation["description"]
