"""Every response that carries a file a person or a vendor gave us (inputs, fitted copies,
results, thumbnails, drafts, downloads, shared-link files, batch ZIPs) has the type verified
from the file's own bytes, ``nosniff`` and a CSP sandbox; downloads are attachments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from accounts.models import User
from editor import images
from editor.models import Batch, Draft, ShareLink
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_job, with_prepared
from tests.images import make_image

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Served:
    name: str
    url: str
    attachment: bool
    media_type: str = ""  # "" for an image: whatever its own bytes say


def served(alice: User) -> list[Served]:
    job = with_prepared(make_job(alice))
    bare = make_job(alice)  # no fitted copy: its input is served as stored
    result = job.results.get()
    pair = [job.pk, result.pk]
    batch = Batch.objects.create(owner=alice, operation="colorize")
    job.batch = batch
    job.save()
    draft = Draft.objects.create(
        owner=alice,
        role="image",
        file=default_storage.save(
            f"drafts/{alice.pk}/photo.png", ContentFile(make_image(fmt="PNG"))
        ),
    )
    _link, token = ShareLink.create(result, lifetime=None, include_original=True)
    download = reverse("editor:result_download", args=pair)
    shared = reverse("editor:shared_file", args=[token, "result"])
    return [
        Served("fitted copy", reverse("editor:job_input", args=[job.pk, "image"]), False),
        Served("input", reverse("editor:job_input", args=[bare.pk, "image"]), False),
        Served("result", reverse("editor:result_file", args=pair), False),
        Served("thumbnail", reverse("editor:result_thumbnail", args=pair), False),
        Served("draft", reverse("editor:draft_file", args=[draft.pk]), False),
        Served("original download", download, True),
        Served("JPEG download", download + "?format=jpeg&quality=80", True),
        Served("WebP download", download + "?format=webp", True),
        Served("shared result", shared, False),
        Served("shared result download", shared + "?download=1", True),
        Served("shared original", reverse("editor:shared_file", args=[token, "original"]), False),
        Served("batch ZIP", reverse("editor:batch_zip", args=[batch.pk]), True, "application/zip"),
        Served("API result", f"/api/v1/jobs/{job.pk}/result", True),
        Served("API result as PNG", f"/api/v1/jobs/{job.pk}/result?format=png", True),
    ]


def body_of(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def test_every_file_is_served_as_its_verified_type_nosniff_and_sandboxed(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    api = ApiClient(token_for(alice))
    for item in served(alice):
        if item.url.startswith("/api/"):
            response = api.client.get(item.url, headers={"Authorization": f"Bearer {api.token}"})
        else:
            response = client.get(item.url)
        assert response.status_code == 200, item.name
        body = body_of(response)
        media = images.sniff(body)
        expected = item.media_type or (media.mime if media else "not an image")
        assert response["Content-Type"] == expected, item.name
        assert response["X-Content-Type-Options"] == "nosniff", item.name
        assert response["Content-Security-Policy"] == "sandbox", item.name
        disposition = response.get("Content-Disposition", "")
        assert disposition.startswith("attachment;") == item.attachment, (item.name, disposition)
