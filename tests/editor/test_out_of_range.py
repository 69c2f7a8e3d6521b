"""An out-of-range value gets its range error alone: no "This field is required." beside it
(the value was sent; its field refused it). The validator (editor.submissions), the operation
page, the preset form and the API all say the same."""

from __future__ import annotations

import html

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from editor import operations, submissions
from editor.models import Job, Preset, Vendor
from tests.api.calls import JOBS
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_key
from tests.images import photo

pytestmark = pytest.mark.django_db

REQUIRED = "This field is required."
MIGRATION = {"provider": "local", "mode": "AUTO", "degree": "0.6", "color_template": ""}
CASES = [
    ({"color_count": "99"}, "color_count", "Ensure this value is less than or equal to 8."),
    ({"color_count": "0"}, "color_count", "Ensure this value is greater than or equal to 1."),
    ({"degree": "9"}, "degree", "Ensure this value is less than or equal to 1.0."),
    ({"degree": "lots"}, "degree", "Enter a number."),
]
BY_CASE = pytest.mark.parametrize(("changes", "name", "message"), CASES)


@BY_CASE
def test_the_validator_gives_the_range_error_alone(
    alice: User, changes: dict[str, str], name: str, message: str
) -> None:
    with pytest.raises(submissions.SubmissionInvalid) as invalid:
        submissions.validate(
            operations.get("color_migration"),
            alice,
            provider="local",
            values={**MIGRATION, "color_count": "3", **changes},
            photos={"image": [submissions.Photo(photo().read(), "p.jpg")]},
        )
    assert invalid.value.errors == {name: [message]}


def test_a_value_not_sent_is_still_required(alice: User) -> None:
    values = {key: value for key, value in MIGRATION.items() if key != "degree"}
    with pytest.raises(submissions.SubmissionInvalid) as invalid:
        submissions.validate(
            operations.get("color_migration"),
            alice,
            provider="local",
            values={**values, "color_count": "3"},
            photos={"image": [submissions.Photo(photo().read(), "p.jpg")]},
        )
    assert invalid.value.errors == {"degree": [REQUIRED]}


@BY_CASE
def test_the_operation_page_and_the_preset_form_show_only_the_range_error(
    client: Client, alice: User, changes: dict[str, str], name: str, message: str
) -> None:
    client.force_login(alice)
    data = {**MIGRATION, "color_count": "3", **changes}
    response = client.post(
        reverse("editor:operation", args=["color_migration"]), {**data, "file_image": photo()}
    )
    assert response.context["form"].errors == {name: [message]}
    assert REQUIRED not in html.unescape(response.content.decode())
    assert not Job.objects.exists()

    response = client.post(
        reverse("editor:preset_save", args=["color_migration"]),
        {**data, "preset_name": "Soft"},
        headers={"HX-Request": "true"},
    )
    page = html.unescape(response.content.decode())
    assert message in page
    assert REQUIRED not in page
    assert not Preset.objects.exists()


def test_the_api_gives_the_range_error_alone(alice: User) -> None:
    make_key(alice, Vendor.AILABTOOLS)
    response = ApiClient(token_for(alice)).post(
        JOBS,
        {
            "operation": "color_migration",
            "provider": "local",
            "mode": "AUTO",
            "degree": "0.6",
            "color_count": "99",
            "image": photo(),
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "color_count": ["Ensure this value is less than or equal to 8."]
    }
