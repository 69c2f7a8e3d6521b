"""API test helpers: a token per person, and a client that sends it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from api.models import ApiToken


class ApiClient:
    """Django's test client with ``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.client = Client()

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def get(self, path: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(path, data, headers=self._headers(headers))

    def post(
        self, path: str, data: Any = None, headers: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        return self.client.post(path, data, headers=self._headers(headers), **kw)

    def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.delete(path, headers=self._headers(headers))

    def send(self, method: str, path: str, body: str = "") -> Any:
        """Any method with a JSON body (PUT, PATCH...)."""
        return self.client.generic(
            method, path, body, content_type="application/json", headers=self._headers(None)
        )


def token_for(user: User, name: str = "script") -> str:
    return ApiToken.create(user, name)[1]


@pytest.fixture
def alice_api(alice: User) -> ApiClient:
    return ApiClient(token_for(alice))


@pytest.fixture
def bob_api(bob: User) -> ApiClient:
    return ApiClient(token_for(bob))


@pytest.fixture
def anonymous_api() -> ApiClient:
    return ApiClient(None)
