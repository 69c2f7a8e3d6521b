"""The Content-Security-Policy header on the studio's answers: only our own scripts and styles,
nothing inline, no eval, no framing; the admin's inline styles pass by nonce only; pictures may
come from the S3 origin media is redirected to. (tests/browser/test_csp.py checks that every page
works under it in a real browser.)"""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from storages.backends.s3 import S3Storage

from accounts.models import AuditAction, AuditEvent, User
from editor.models import ShareLink
from tests.factories import make_job

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

EXPECTED = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:", "blob:"],
    "connect-src": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}


def policy(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    parts = (part.split() for part in str(header).split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def pages(alice: User) -> list[str]:
    job = make_job(alice)
    _link, token = ShareLink.create(job.results.get(), lifetime=None)
    return [
        reverse("editor:studio"),
        reverse("editor:operation", args=["colorize"]),
        reverse("editor:gallery"),
        reverse("editor:job", args=[job.pk]),
        reverse("editor:vault"),
        reverse("editor:shares"),
        reverse("api_tokens"),
        reverse("editor:shared", args=[token]),
    ]


def test_every_studio_page_gets_the_strict_policy(client: Client, alice: User) -> None:
    client.force_login(alice)
    for url in pages(alice):
        response = client.get(url)
        assert response.status_code == 200, url
        assert policy(response) == EXPECTED, url


def test_htmx_fragments_and_signed_out_pages_get_it_too(client: Client, alice: User) -> None:
    assert policy(client.get(reverse("account_login"))) == EXPECTED
    assert policy(client.get(reverse("account_signup"))) == EXPECTED
    client.force_login(alice)
    fragment = client.get(reverse("editor:gallery"), headers={"HX-Request": "true"})
    assert policy(fragment) == EXPECTED


def test_htmx_may_not_evaluate_code(client: Client, alice: User) -> None:
    # hx-on and hx-vars need eval, which the policy forbids: htmx is told not to try.
    client.force_login(alice)
    page = client.get(reverse("editor:studio")).content.decode()
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page)
    assert meta is not None
    assert json.loads(meta.group(1)) == {
        "includeIndicatorStyles": False,
        "allowScriptTags": False,
        "allowEval": False,
    }


def test_the_admins_inline_style_passes_by_its_nonce_only(
    client: Client, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    AuditEvent.objects.create(actor=alice, action=AuditAction.values[0], target_type="key")
    # A list showing no action bar gets an inline <style> from Django
    # (templates/admin/change_list.html adds the nonce); none of ours hides it today.
    monkeypatch.setattr(admin.site.get_model_admin(AuditEvent), "actions_on_top", False)
    for url in (reverse("admin:accounts_auditevent_changelist"), reverse("admin_dashboard")):
        response = client.get(url)
        assert response.status_code == 200
        found = policy(response)
        nonce = re.fullmatch(r"'nonce-([A-Za-z0-9+/=]+)'", found["style-src"][1])
        assert nonce is not None, found
        assert found["style-src"][0] == "'self'"
        assert found["script-src"] == ["'self'"]
        styles = re.findall(r"<style([^>]*)>", response.content.decode())
        assert styles, url
        assert all(attributes == f' nonce="{nonce.group(1)}"' for attributes in styles), styles
    # The admin's index has no inline style and gets no nonce.
    assert policy(client.get(reverse("admin:index")))["style-src"] == ["'self'"]


S3_CASES = {
    "aws": {"AWS_S3_REGION_NAME": "eu-west-3", "AWS_STORAGE_BUCKET_NAME": "studio-media"},
    "aws dotted bucket": {"AWS_S3_REGION_NAME": "eu-west-3", "AWS_STORAGE_BUCKET_NAME": "a.b"},
    "endpoint": {
        "AWS_S3_ENDPOINT_URL": "https://objects.example.net:9000",
        "AWS_STORAGE_BUCKET_NAME": "studio",
    },
    "custom domain": {
        "AWS_S3_CUSTOM_DOMAIN": "media.example.org",
        "AWS_STORAGE_BUCKET_NAME": "studio",
    },
}


@pytest.mark.parametrize("case", list(S3_CASES))
def test_pictures_may_load_from_where_s3_media_redirects(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = {
        "VAR_DIR": str(tmp_path),
        "MEDIA_STORAGE": "s3",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example-secret",
        **S3_CASES[case],
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # The settings module as a deployment with this environment reads it.
    configured = runpy.run_path(str(ROOT / "config" / "settings.py"))
    storage = S3Storage(**configured["STORAGES"]["default"]["OPTIONS"])
    # Presigning is local arithmetic: the very URL editor/media.py redirects to.
    url = storage.url("jobs/1/result-0.png", expire=60)
    img_src = configured["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" in img_src, (url, img_src)
    assert img_src[:3] == ["'self'", "data:", "blob:"]
    assert not any("*" in source for source in img_src)
