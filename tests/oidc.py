"""OpenID Connect for the tests: the studio configured for a provider, a fake provider answering
through ``requests`` (fast tests), and a real one (django-oauth-toolkit, tests/oidc_provider) in a
process of its own (browser tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_django import Settings as SettingsWrapper

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "photo-studio"
# A secret no page, log or admin may ever show: tests look for it.
CLIENT_SECRET = "s3cret-never-shown-Qz7x9"


def configure(
    settings: SettingsWrapper, issuer: str, provider_id: str = "acme", name: str = "Acme"
) -> None:
    """The studio as OIDC_PROVIDERS='[{"id": "acme", ...}]' would configure it."""
    apps = [
        {
            "provider_id": provider_id,
            "name": name,
            "client_id": CLIENT_ID,
            "secret": CLIENT_SECRET,
            "settings": {"server_url": issuer, "groups_claim": "groups"},
        }
    ]
    settings.OIDC_PROVIDERS = apps
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {"APPS": apps, "OAUTH_PKCE_ENABLED": True}
    }


# --- A fake provider, answering allauth's requests session --------------------------------------


@dataclass
class FakeProvider(requests.adapters.BaseAdapter):
    """Discovery, token and userinfo endpoints of ``issuer``, with answers a test can spoil."""

    issuer: str = "https://idp.test"
    claims: dict[str, Any] = field(default_factory=dict)
    token_claims: dict[str, Any] = field(default_factory=dict)
    token_error: str = ""
    unreachable: bool = False
    seen: list[requests.PreparedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.seen.append(request)
        if self.unreachable:
            raise requests.ConnectionError("connection refused")
        path = urlsplit(request.url or "").path
        if path == "/.well-known/openid-configuration":
            return self._json(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "userinfo_endpoint": f"{self.issuer}/userinfo",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                }
            )
        if path == "/token":
            if self.token_error:
                return self._json({"error": self.token_error}, status=400)
            id_claims = {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "exp": 4_000_000_000,
                "iat": 1_700_000_000,
                **self.claims,
                **self.token_claims,
            }
            return self._json(
                {
                    "access_token": "access-token",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                    "id_token": jwt.encode(id_claims, "k" * 32, algorithm="HS256"),
                }
            )
        if path == "/userinfo":
            return self._json(self.claims)
        return self._json({"error": "not_found"}, status=404)

    def _json(self, body: dict[str, Any], status: int = 200) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        return response

    def close(self) -> None:
        pass

    def session_factory(self) -> Callable[..., requests.Session]:
        def make(*args: Any) -> requests.Session:
            session = requests.Session()
            session.mount(self.issuer, self)
            return session

        return make


def callback_query(authorize_url: str) -> dict[str, str]:
    """The state the studio sent to the provider, as the provider hands it back."""
    return {"state": parse_qs(urlsplit(authorize_url).query)["state"][0]}


# --- A real provider -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RealProvider:
    url: str  # the issuer: http://127.0.0.1:<port>/o


def rsa_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@contextmanager
def real_provider(
    tmp: Path, redirect_uris: list[str], people: list[dict[str, Any]]
) -> Iterator[RealProvider]:
    """django-oauth-toolkit with OIDC, its own settings, database and RSA key, on 127.0.0.1."""
    config = tmp / "provider.json"
    config.write_text(
        json.dumps(
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": redirect_uris,
                "people": people,
            }
        )
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "OIDC_TEST_DB": str(tmp / "provider.sqlite3"),
        "OIDC_TEST_RSA_KEY": rsa_key_pem(),
    }
    errors = tmp / "provider.log"
    with errors.open("w") as log:  # the child keeps its own copy of the file
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.oidc_provider.serve", str(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("port "):
            process.kill()
            raise RuntimeError(f"the test provider did not start: {errors.read_text()}")
        yield RealProvider(url=f"http://127.0.0.1:{int(line.split()[1])}/o")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
