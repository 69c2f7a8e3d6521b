"""manage.py create_api_token: prints only a working token."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from api.models import ApiToken
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_prints_only_a_working_token(alice: User) -> None:
    out = StringIO()
    call_command("create_api_token", "alice", "--name", "nightly backup", stdout=out)
    plaintext = out.getvalue().strip()
    assert out.getvalue() == plaintext + "\n"
    made = ApiToken.objects.get(owner=alice)
    assert made.name == "nightly backup"
    assert ApiToken.find(plaintext) == made
    assert ApiClient(plaintext).get("/api/v1/usage").status_code == 200


def test_the_name_has_a_default(alice: User) -> None:
    call_command("create_api_token", "alice", stdout=StringIO())
    assert ApiToken.objects.get().name == "command line"


def test_an_unknown_user_is_an_error(alice: User) -> None:
    with pytest.raises(CommandError, match="nobody"):
        call_command("create_api_token", "nobody", stdout=StringIO())
    assert not ApiToken.objects.exists()
