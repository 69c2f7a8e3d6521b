"""A request body in a charset that is no text encoding is a 400, never a server error (found
by tests/fuzz: ``rot13`` and ``idna`` made Django's multipart parser raise)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import made_link

pytestmark = pytest.mark.django_db

BODY = b'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\nguess\r\n--b--\r\n'


@pytest.mark.parametrize("charset", ["rot13", "idna", "hex"])
def test_a_body_in_a_charset_that_is_no_text_encoding_is_refused(alice: User, charset: str) -> None:
    _link, token = made_link(alice, password="open sesame")
    response = Client().generic(
        "POST", f"/s/{token}/", BODY, f"multipart/form-data; boundary=b; charset={charset}"
    )
    assert response.status_code == 400
    assert b"send UTF-8" in response.content


@pytest.mark.parametrize("charset", ["utf-8", "latin-1", "ascii", "x-no-such-charset"])
def test_a_body_in_a_text_encoding_is_read(alice: User, charset: str) -> None:
    _link, token = made_link(alice, password="open sesame")
    response = Client().generic(
        "POST", f"/s/{token}/", BODY, f"multipart/form-data; boundary=b; charset={charset}"
    )
    assert response.status_code == 403  # the password was read, and is wrong
