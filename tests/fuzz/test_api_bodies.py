"""What scripts send to the JSON endpoints, and what people type on the pages that make keys
and tokens: any JSON (of any shape, with any text, NUL bytes and right-to-left controls
included), bodies that are not JSON or not UTF-8, and any content type. Each is taken or
refused with a 4xx that says what is wrong, never a server error; what is stored is text the
database keeps (no NUL) and displays in order (no bidi controls)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from api.models import ApiToken
from editor.models import BIDI_CONTROLS, Vendor, VendorKey
from tests.api.conftest import token_for
from tests.factories import make_job
from tests.fuzz.strategies import CHARACTERS, isolated, json_value, text

pytestmark = pytest.mark.django_db

FUZZ = settings.get_profile("fuzz")
BIDI = {chr(point) for point in BIDI_CONTROLS}
secret = st.one_of(
    st.sampled_from(["sandbox-key-0001", "sk-" + "a" * 509, "sk-" + "a" * 510, "abc", "a b c d e"]),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40),
    text,
)
key_body = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {},
        optional={
            "vendor": st.sampled_from(Vendor.values) | json_value,
            "secret": secret | json_value,
            "label": text | json_value,
            "monthly_credit_cap": st.integers() | json_value,
        },
    ),
)
# Bodies that are not the JSON they claim to be, and content types they may claim.
raw_body = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"", b"{", b'{"vendor": "picwish"', b"\xff\xfe{}", b"[]" * 30, b"1e999"]),
    st.sampled_from([b'{"a":' * 200 + b"1" + b"}" * 200]),
)
json_type = st.sampled_from(
    [
        "application/json",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/json; charset=rot13",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
    ]
)


def assert_displayable(values: list[str]) -> None:
    for value in values:
        assert "\x00" not in value
        assert not set(value) & BIDI


@pytest.fixture
def api(alice: User, settings: SettingsWrapper) -> dict[str, str]:
    settings.API_RATE_LIMIT = "100000/m/key"
    return {"Authorization": f"Bearer {token_for(alice)}"}


def test_any_json_for_a_new_key(alice: User, api: dict[str, str]) -> None:
    @FUZZ
    @given(body=key_body)
    def check(body: Any) -> None:
        with isolated():
            response = Client().post(
                "/api/v1/keys", json.dumps(body), content_type="application/json", headers=api
            )
            assert response.status_code in (201, 400, 422), response.content[:300]
            assert response.json()["code" if response.status_code != 201 else "id"]
            assert_displayable(list(VendorKey.objects.values_list("label", flat=True)))

    check()


def test_any_body_to_the_json_endpoints(alice: User, api: dict[str, str]) -> None:
    job = make_job(alice)
    paths = ["/api/v1/keys", f"/api/v1/jobs/{job.pk}/shares"]

    @FUZZ
    @given(path=st.sampled_from(paths), body=raw_body, kind=json_type)
    def check(path: str, body: bytes, kind: str) -> None:
        with isolated():
            response = Client().generic("POST", path, body, kind, headers=api)
            assert response.status_code < 500, (response.status_code, response.content)
            # A share takes its defaults from a body that says nothing; a key needs one.
            assert response.status_code >= 400 or path != "/api/v1/keys"

    check()


def test_any_name_for_a_new_api_token(alice: User) -> None:
    @FUZZ
    @given(name=text | st.text(CHARACTERS, min_size=95, max_size=110), htmx=st.booleans())
    def check(name: str, htmx: bool) -> None:
        with isolated():
            client = Client()
            client.force_login(alice)
            headers = {"HX-Request": "true"} if htmx else {}
            response = client.post(reverse("api_tokens"), {"name": name}, headers=headers)
            assert response.status_code in (200, 201, 302, 400), response.status_code
            assert_displayable(list(ApiToken.objects.values_list("name", flat=True)))

    check()


def test_any_new_key_on_the_vault_page(alice: User) -> None:
    @FUZZ
    @given(
        vendor=st.sampled_from(Vendor.values) | text,
        label=text,
        secret=secret,
        cap=st.none() | st.integers().map(str) | text,
        htmx=st.booleans(),
    )
    def check(vendor: str, label: str, secret: str, cap: str | None, htmx: bool) -> None:
        data = {"vendor": vendor, "label": label, "secret": secret}
        if cap is not None:
            data["monthly_credit_cap"] = cap
        with isolated():
            client = Client()
            client.force_login(alice)
            headers = {"HX-Request": "true"} if htmx else {}
            response = client.post(reverse("editor:vault_add"), data, headers=headers)
            assert response.status_code in (200, 302, 400), response.status_code
            assert_displayable(list(VendorKey.objects.values_list("label", flat=True)))

    check()
