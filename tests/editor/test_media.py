"""Private media leaves through editor.media: Django streams it, a proxy sends it, or S3
serves it from a presigned URL; the content type, nosniff and the CSP sandbox are ours on every
path."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.http import Http404
from pytest_django import Settings as SettingsWrapper

from editor import media


@pytest.fixture
def stored() -> str:
    return default_storage.save("jobs/1/abc/result-0.png", ContentFile(b"\x89PNG bytes"))


def test_django_streams_the_file_by_default(stored: str) -> None:
    response = media.private_file(stored, "image/png")
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response["Cache-Control"] == "private, max-age=3600"
    assert b"".join(response.streaming_content) == b"\x89PNG bytes"  # type: ignore[attr-defined]


def test_a_missing_file_is_a_404() -> None:
    with pytest.raises(Http404):
        media.private_file("jobs/1/none.png", "image/png")
    with pytest.raises(Http404):
        media.private_file("", "image/png")


def test_nginx_sends_it_from_an_internal_location(stored: str, settings: SettingsWrapper) -> None:
    settings.MEDIA_ACCEL = "nginx"
    response = media.private_file(stored, "image/png")
    assert response["X-Accel-Redirect"] == "/protected-media/" + stored
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert response.content == b""  # type: ignore[attr-defined]


def test_sendfile_gets_the_path_on_disk(stored: str, settings: SettingsWrapper) -> None:
    settings.MEDIA_ACCEL = "sendfile"
    response = media.private_file(stored, "image/png")
    assert response["X-Sendfile"] == default_storage.path(stored)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"


def test_s3_answers_with_a_short_lived_presigned_url(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MEDIA_STORAGE = "s3"
    settings.AWS_QUERYSTRING_EXPIRE = 120
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "studio-media",
                "region_name": "eu-west-1",
                "access_key": "AKIAEXAMPLE",
                "secret_key": "not-a-real-secret",
                "default_acl": "private",
                "querystring_auth": True,
                "signature_version": "s3v4",
            },
        },
    }
    s3 = storages["default"]
    # Presigning is computed locally; only the existence check would reach the bucket.
    monkeypatch.setattr(type(s3), "exists", lambda self, name: True)
    monkeypatch.setattr(media, "default_storage", s3)
    response = media.private_file("jobs/1/abc/result-0.png", "image/png")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert location.path.endswith("/jobs/1/abc/result-0.png")
    assert query["response-content-type"] == ["image/png"]
    assert query["X-Amz-Expires"] == ["120"]
    assert "X-Amz-Signature" in query
    assert "not-a-real-secret" not in response["Location"]
