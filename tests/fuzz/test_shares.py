"""Share links as strangers and owners reach them: any token string on the public address is
the same 404 as an unknown link; any password (unicode, very long, NUL bytes, sent in any
encoding) typed on a protected link is refused with the form again, a 403 or a 429, and opens
it only when it is the password; any password given when making a link (page or API) makes it
or is a field error."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor.models import ShareLink
from tests.api.conftest import token_for
from tests.factories import made_link, make_job
from tests.fuzz.strategies import CHARACTERS, isolated, json_value, text

pytestmark = pytest.mark.django_db

FUZZ = settings.get_profile("fuzz")
PASSWORD = "open sesame"
KINDS = st.sampled_from(["result", "original", "thumbnail", ""]) | text
# Form bodies as browsers and scripts encode them, some with charsets a parser may trip on.
CHARSETS = st.sampled_from(
    ["", "utf-8", "latin-1", "utf-16", "utf-32", "ascii", "rot13", "x-no-such-charset", "idna"]
)


def path_segment(value: str) -> str:
    return quote(value, safe="")


@given(token=text)
@FUZZ
def test_any_token_is_looked_up_without_trouble(token: str) -> None:
    assert ShareLink.find(token) is None


def test_any_token_is_the_same_404(alice: User) -> None:
    made_link(alice)

    @FUZZ
    @given(token=text, kind=st.none() | KINDS, post=st.booleans())
    def check(token: str, kind: str | None, post: bool) -> None:
        path = f"/s/{path_segment(token)}/"
        if kind is not None:
            path += f"{path_segment(kind)}/"
        with isolated():
            client = Client()
            response = client.post(path, {"password": token}) if post else client.get(path)
            assert response.status_code in (404, 405), (path, response.status_code)

    check()


@st.composite
def unlock_body(draw: st.DrawFn) -> tuple[bytes, str, bool]:
    """A password form's body, its content type and whether the last password it holds is the
    link's: form-encoded (any charset, any bytes) or multipart, the password once, repeated or
    missing."""
    passwords = draw(st.lists(text | st.just(PASSWORD), max_size=3))
    charset = draw(CHARSETS)
    right = bool(passwords) and passwords[-1] == PASSWORD
    if draw(st.booleans()):
        if draw(st.booleans()):
            encoded, right = draw(st.binary(max_size=80)), False
        else:
            encoded = urlencode([("password", p) for p in passwords]).encode()
        kind = "application/x-www-form-urlencoded"
    else:
        parts = [
            f'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\n{p}\r\n'
            for p in passwords
        ]
        encoded = ("".join(parts) + "--b--\r\n").encode("utf-8", "replace")
        kind = "multipart/form-data; boundary=b"
    if charset:
        kind += f"; charset={charset}"
    return encoded, kind, right


def test_any_password_is_refused_clearly_and_only_the_password_opens(alice: User) -> None:
    _link, token = made_link(alice, password=PASSWORD)
    path = reverse("editor:shared", args=[token])

    @FUZZ
    @given(sent=unlock_body(), address=st.ip_addresses().map(str))
    def check(sent: tuple[bytes, str, bool], address: str) -> None:
        body, kind, right = sent
        with isolated():
            # generic(): the body goes as these bytes (post() would re-encode it).
            response = Client(REMOTE_ADDR=address).generic("POST", path, body, kind)
            status = response.status_code
            # The form again (not a password it can take), wrong, slowed down, or opened.
            assert status in (200, 302, 400, 403, 429), status
            if status == 302:
                assert response["Location"] == path
                assert right
            elif right and not kind.startswith("multipart") and "charset=" not in kind:
                # The password, sent plainly from an address with no tries yet: it opens.
                pytest.fail(f"the right password did not open the link ({status})")

    check()


def test_the_password_of_a_new_link_is_taken_or_refused_on_the_page(alice: User) -> None:
    result = make_job(alice).results.get()
    path = reverse("editor:share_new", args=[result.job_id, result.pk])

    @FUZZ
    @given(
        password=text | st.text(CHARACTERS, min_size=120, max_size=140),
        lifetime=st.sampled_from(["1h", "never"]) | text,
    )
    def check(password: str, lifetime: str) -> None:
        with isolated():
            client = Client()
            client.force_login(alice)
            response = client.post(path, {"password": password, "lifetime": lifetime})
            assert response.status_code in (302, 400), response.status_code
            if response.status_code == 302:
                link = ShareLink.objects.get(result=result)
                assert link.has_password == bool(password)
                if password:
                    assert link.check_password(password)

    check()


def test_the_api_takes_any_share_body(alice: User, settings: SettingsWrapper) -> None:
    settings.API_RATE_LIMIT = "100000/m/key"
    job = make_job(alice)
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    path = f"/api/v1/jobs/{job.pk}/shares"
    body = st.one_of(
        json_value,
        st.fixed_dictionaries(
            {},
            optional={
                "password": text | json_value,
                "expires_in": st.sampled_from(["1h", "never"]) | json_value,
                "include_original": json_value,
                "result": st.sampled_from([0, 1, -1, 2**70]) | json_value,
            },
        ),
    )

    @FUZZ
    @given(sent=body)
    def check(sent: Any) -> None:
        assume(sent is not ...)
        with isolated():
            response = Client().post(
                path, json.dumps(sent), content_type="application/json", headers=headers
            )
            assert response.status_code in (201, 400, 422), response.content[:300]
            assert response.json()

    check()
