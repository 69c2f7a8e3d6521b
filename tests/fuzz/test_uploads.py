"""Multipart bodies with odd file names (unicode, path separators, NUL, very long, right-to-left
controls, written in any of the ways clients write them) and any content type, through the
operation page's form and the API: each ends in a page with the form's errors, a started job or
a clear 4xx, never a server error; a started job's photo name is only ever a display name."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor.models import Draft, Job, Vendor
from tests.api.conftest import token_for
from tests.factories import make_key
from tests.fuzz.strategies import (
    MULTIPART,
    FilePart,
    content_type,
    disposition_file_name,
    isolated,
    multipart,
)
from tests.images import make_image

pytestmark = pytest.mark.django_db

FUZZ = settings.get_profile("fuzz")
PHOTO = make_image((200, 150))
content = st.sampled_from([PHOTO, PHOTO[:300], b"", b"<svg onload=alert(1)>", b"\x00" * 64])


def parts(field: str) -> st.SearchStrategy[list[FilePart]]:
    part = st.builds(
        FilePart,
        field=st.just(field) | st.sampled_from(["mask", "image[]", "x"]),
        file_name=disposition_file_name(),
        content_type=content_type,
        content=content,
    )
    return st.lists(part, min_size=1, max_size=2)


def assert_display_names(owner: User) -> None:
    """Whatever the person's file was called, what the studio keeps is a name to show: no
    path, no control or reordering characters, short."""
    names = list(Job.objects.filter(owner=owner).values_list("photo_name", flat=True))
    names += list(Draft.objects.filter(owner=owner).values_list("name", flat=True))
    for name in names:
        assert name.isprintable()
        assert "/" not in name
        assert "\\" not in name
        assert len(name) <= 120


@pytest.fixture
def picwish(alice: User) -> None:
    make_key(alice, Vendor.PICWISH)


def test_the_operation_form_takes_any_file_part(alice: User, picwish: None) -> None:
    url = reverse("editor:operation", args=["colorize"])

    @FUZZ
    @given(files=parts("file_image"), htmx=st.booleans())
    def check(files: list[FilePart], htmx: bool) -> None:
        with isolated():
            client = Client()
            client.force_login(alice)
            body = multipart({"provider": "picwish", "format": "png"}, files)
            headers = {"HX-Request": "true"} if htmx else {}
            response = client.post(url, body, content_type=MULTIPART, headers=headers)
            # The form again with its errors, or the started job (a redirect, or HTMX's).
            assert response.status_code in (200, 302, 400, 413), response.status_code
            assert_display_names(alice)

    check()


def test_the_api_takes_any_file_part(alice: User, picwish: None, settings: SettingsWrapper) -> None:
    settings.API_RATE_LIMIT = "100000/m/key"
    headers = {"Authorization": f"Bearer {token_for(alice)}"}

    @FUZZ
    @given(
        files=parts("image"),
        fields=st.sampled_from([{}, {"format": "png"}]),
        path=st.sampled_from(["/api/v1/jobs", "/api/v1/batches"]),
    )
    def check(files: list[FilePart], fields: dict[str, Any], path: str) -> None:
        with isolated():
            body = multipart({"operation": "colorize", **fields}, files)
            response = Client().post(path, body, content_type=MULTIPART, headers=headers)
            # A job is 202 (queued), a batch 201 (made, its jobs queued).
            assert response.status_code in (201, 202, 400, 413, 422), response.content[:300]
            if response.status_code in (413, 422):
                assert response.json()["code"]
            assert_display_names(alice)

    check()
