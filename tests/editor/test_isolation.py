"""Who may open what: every gallery, job, media, download, batch and share URL, for the owner,
another signed-in person and an anonymous visitor; and every public share URL for a live,
expired, revoked and unknown token. Someone else's object is a 404, never a 403, and a dead
token looks exactly like one that never existed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from editor.models import Batch, Draft, ShareLink
from tests.editor.test_job_views import make_job
from tests.images import make_image

pytestmark = pytest.mark.django_db

WHO = ("owner", "other", "anonymous")


@dataclass(frozen=True)
class Private:
    """A URL only its owner may use: (method, path)."""

    method: str
    path: str


def private_urls(alice: User) -> dict[str, Private]:
    job = make_job(alice)
    result = job.results.get()
    batch = Batch.objects.create(owner=alice, operation="colorize")
    job.batch = batch
    job.save()
    draft = Draft.objects.create(
        owner=alice,
        role="image",
        file=default_storage.save(f"drafts/{alice.pk}/photo.jpg", ContentFile(make_image())),
    )
    link, _token = ShareLink.create(result, lifetime=None)
    pair = [job.pk, result.pk]
    return {
        "job": Private("get", reverse("editor:job", args=[job.pk])),
        "input": Private("get", reverse("editor:job_input", args=[job.pk, "image"])),
        "result": Private("get", reverse("editor:result_file", args=pair)),
        "thumbnail": Private("get", reverse("editor:result_thumbnail", args=pair)),
        "download": Private("get", reverse("editor:result_download", args=pair)),
        "download png": Private(
            "get", reverse("editor:result_download", args=pair) + "?format=png"
        ),
        "share form": Private("get", reverse("editor:share_new", args=pair)),
        "batch": Private("get", reverse("editor:batch", args=[batch.pk])),
        "batch zip": Private("get", reverse("editor:batch_zip", args=[batch.pk])),
        "draft": Private("get", reverse("editor:draft_file", args=[draft.pk])),
        "make link": Private("post", reverse("editor:share_new", args=pair)),
        "revoke": Private("post", reverse("editor:share_revoke", args=[link.pk])),
        "delete": Private("post", reverse("editor:job_delete", args=[job.pk])),
        "cancel": Private("post", reverse("editor:job_cancel", args=[job.pk])),
        "retry": Private("post", reverse("editor:job_retry", args=[job.pk])),
    }


def client_for(who: str, alice: User, bob: User) -> Client:
    client = Client()
    if who != "anonymous":
        client.force_login(alice if who == "owner" else bob)
    return client


def test_private_urls(alice: User, bob: User) -> None:
    urls = private_urls(alice)
    for who in ("other", "anonymous"):
        client = client_for(who, alice, bob)
        for name, url in urls.items():
            response = getattr(client, url.method)(
                url.path, {"lifetime": "1h"} if url.method == "post" else None
            )
            if who == "anonymous":
                assert response.status_code == 302, name
                assert response["Location"].startswith(reverse("account_login")), name
            else:
                assert response.status_code == 404, name
    # The owner last, reads before changes (deleting the job ends the matrix).
    client = client_for("owner", alice, bob)
    for name, url in urls.items():
        if url.method == "get":
            assert client.get(url.path).status_code == 200, name
    assert client.post(urls["make link"].path, {"lifetime": "1h"}).status_code == 302
    assert client.post(urls["revoke"].path).status_code == 302
    assert client.post(urls["delete"].path, {"confirmed": "1"}).status_code == 302


@pytest.mark.parametrize("who", WHO)
def test_lists_show_only_the_persons_own(who: str, alice: User, bob: User) -> None:
    job = make_job(alice)
    ShareLink.create(job.results.get(), lifetime=None)
    client = client_for(who, alice, bob)
    for name in ("editor:gallery", "editor:shares"):
        response = client.get(reverse(name))
        if who == "anonymous":
            assert response.status_code == 302
            continue
        assert response.status_code == 200
        shown = reverse("editor:job", args=[job.pk]) in response.content.decode()
        assert shown == (who == "owner"), name


def token_in_state(alice: User, state: str) -> str:
    link, token = ShareLink.create(
        make_job(alice).results.get(), lifetime=dt.timedelta(days=1), include_original=True
    )
    if state == "expired":
        ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    elif state == "revoked":
        link.revoke()
    elif state == "unknown":
        link.delete()
    return token


@pytest.mark.parametrize("state", ["live", "expired", "revoked", "unknown"])
@pytest.mark.parametrize("who", WHO)
def test_public_share_urls(state: str, who: str, alice: User, bob: User) -> None:
    token = token_in_state(alice, state)
    client = client_for(who, alice, bob)
    paths = [
        reverse("editor:shared", args=[token]),
        reverse("editor:shared_file", args=[token, "result"]),
        reverse("editor:shared_file", args=[token, "result"]) + "?download=1",
        reverse("editor:shared_file", args=[token, "original"]),
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == (200 if state == "live" else 404), path
        assert response["X-Robots-Tag"] == "noindex, nofollow"
