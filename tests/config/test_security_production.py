"""Production settings keep the session and CSRF cookies to HTTPS, out of scripts' reach and off
cross-site requests, and the browser on HTTPS (HSTS). Each test imports the settings in a fresh
process with the production environment (as ``make test`` gives ``check --deploy``), so what is
checked is what a deployment gets, not the test run's development settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "studio.example.com",
    "SITE_URL": "https://studio.example.com",
    "SECRET_KEY": "a-long-random-production-secret-" + "k3Vw" * 12,
    "VAULT_KEYS": Fernet.generate_key().decode(),
}
# The names of the settings a deployment's cookies and transport depend on.
SETTINGS = [
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
    "ALLAUTH_TRUSTED_PROXY_COUNT",
]

# Runs in the child: reads the settings, then signs in through the real login form over
# "HTTPS" (the proxy's X-Forwarded-Proto) and reports the cookies and headers it got.
SIGN_IN = textwrap.dedent(
    """
    import json, re, sys
    import django
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client, override_settings
    from django.test.utils import setup_test_environment

    names = json.loads(sys.argv[1])
    found = {name: getattr(settings, name, None) for name in names}
    call_command("migrate", verbosity=0)
    setup_test_environment()
    from accounts.models import User
    User.objects.create_user("alice", "alice@example.com", "a long production password")
    # collectstatic has not run: the manifest storage would refuse every {% static %} tag.
    plain = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES=plain):
        client = Client(
            enforce_csrf_checks=True, HTTP_HOST="studio.example.com",
            HTTP_X_FORWARDED_PROTO="https",
        )
        page = client.get("/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
        signed_in = client.post(
            "/accounts/login/",
            {"login": "alice", "password": "a long production password",
             "csrfmiddlewaretoken": token.group(1).decode()},
            HTTP_REFERER="https://studio.example.com/accounts/login/",
        )
        plain_http = Client(HTTP_HOST="studio.example.com").get("/accounts/login/")
    print(json.dumps({
        "settings": found,
        "page": [page.status_code, page.cookies.output(header="")],
        "signed_in": [signed_in.status_code, signed_in.cookies.output(header="")],
        "headers": dict(page.headers),
        "plain_http": [plain_http.status_code, plain_http.headers.get("Location", "")],
    }))
    """
)


def in_production(script: str, *args: str, **overrides: str) -> Any:
    env = {**os.environ, **PRODUCTION, **overrides}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    # Its own SQLite file and cache; a PostgreSQL URL from CI would reach the real database.
    env.pop("DATABASE_URL", None)
    env.pop("CACHE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    last_line = result.stdout.strip().splitlines()[-1]
    return json.loads(last_line)


def cookie(report: list[Any], name: str) -> Any:
    jar: SimpleCookie = SimpleCookie()
    jar.load(report[1])
    assert name in jar, report
    return jar[name]


def test_production_cookies_are_secure_http_only_and_same_site(tmp_path: Path) -> None:
    report = in_production(
        SIGN_IN, json.dumps(SETTINGS), VAR_DIR=str(tmp_path), BEHIND_TLS_PROXY="true"
    )
    found = report["settings"]
    assert found["SESSION_COOKIE_SECURE"] is True
    assert found["CSRF_COOKIE_SECURE"] is True
    assert found["SESSION_COOKIE_HTTPONLY"] is True
    assert found["SESSION_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert found["CSRF_COOKIE_SAMESITE"] in ("Lax", "Strict")
    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert found["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert found["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert found["X_FRAME_OPTIONS"] == "DENY"
    # Per-address rate limits count the client the proxy saw (tests/abuse/test_rate_limits.py).
    assert found["ALLAUTH_TRUSTED_PROXY_COUNT"] == 1

    # The real answers: the login page sets the CSRF cookie, signing in the session cookie.
    assert report["page"][0] == 200
    csrf = cookie(report["page"], "csrftoken")
    assert csrf["secure"] is True
    assert csrf["samesite"] in ("Lax", "Strict")
    assert report["signed_in"][0] == 302, report["signed_in"]
    session = cookie(report["signed_in"], "sessionid")
    assert session["secure"] is True
    assert session["httponly"] is True
    assert session["samesite"] in ("Lax", "Strict")
    headers = {name.lower(): value for name, value in report["headers"].items()}
    hsts = headers["strict-transport-security"]
    assert hsts == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in headers["content-security-policy"]
    # Plain HTTP (no X-Forwarded-Proto from the proxy) is sent to HTTPS before any cookie.
    assert report["plain_http"] == [301, "https://studio.example.com/accounts/login/"]


def test_forwarded_proto_is_trusted_only_behind_a_declared_proxy(tmp_path: Path) -> None:
    # Without a proxy in front, anyone could claim HTTPS with the header.
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([getattr(settings, 'SECURE_PROXY_SSL_HEADER', None), "
        "settings.ALLAUTH_TRUSTED_PROXY_COUNT if hasattr(settings, "
        "'ALLAUTH_TRUSTED_PROXY_COUNT') else 0]))"
    )
    assert in_production(script, VAR_DIR=str(tmp_path)) == [None, 0]
