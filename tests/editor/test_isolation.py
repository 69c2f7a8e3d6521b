"""Who may open what: every URL of the studio that names a person's object (job, photo,
result, download, batch, draft, share link, key, preset, API token), for the owner, another
signed-in person and an anonymous visitor; every page without an object needs a sign-in; and
every public share URL for a live, expired, revoked and unknown token. Someone else's object is
a 404, never a 403, and a dead token looks exactly like one that never existed.

The matrix is checked against the project's URL configuration: a new URL fails
``test_every_url_is_in_the_matrix`` until it is placed in one of the lists here. (The JSON API's
own matrix is tests/api/test_isolation.py; the admin and allauth's pages are theirs.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import User
from api.models import ApiToken
from editor import albums
from editor.models import (
    Album,
    AlbumItem,
    Batch,
    Draft,
    Preset,
    Recipe,
    RecipeBatch,
    RecipeRun,
    RecipeStepRun,
    ShareLink,
    Vendor,
    VendorKey,
)
from tests.factories import make_job
from tests.images import make_image

pytestmark = pytest.mark.django_db

WHO = ("owner", "other", "anonymous")
RECIPE_STEP = {"operation": "colorize", "provider": "picwish", "settings": {"format": "png"}}


@dataclass(frozen=True)
class Private:
    """A URL only its owner may use: its route's name, the method, the path, and what the
    owner's request answers (a plain page load; HTMX-only parts send it to their page)."""

    name: str
    method: str
    path: str
    owner_status: int = 200


# Pages without an object of anyone's: a sign-in is all they need, and they show only the
# person's own things (the lists are checked below; the rest by their own view tests).
SIGNED_IN = {
    "editor:studio",
    "editor:gallery",
    "editor:vault",
    "editor:vault_add",
    "editor:usage",
    "editor:operation",
    "editor:preset_save",
    "editor:shares",
    "editor:shares_revoke_all",
    "editor:albums",
    "editor:job_feed",
    "editor:notifications",
    "editor:recipes",
    "editor:recipe_import",
    "editor:recipe_new",
    "api_tokens",
}
# Open to anyone: the front page, the language switcher (a signed-in person's choice is their
# own account's: tests/accounts/test_languages.py), the health check, the metrics page (behind
# its own bearer token, tests/config/test_metrics.py) and the share pages (checked below).
PUBLIC = {
    "editor:home",
    "editor:language",
    "healthz",
    "metrics",
    "editor:shared",
    "editor:shared_file",
    "editor:shared_album_photo",
    "editor:shared_album_zip",
}
# Mounted apps with matrices of their own.
ELSEWHERE = ("admin/", "accounts/", "api/v1/")


def private_urls(alice: User) -> list[Private]:
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
    album = albums.create(alice, "Holidays")
    albums.add(album, result)
    in_album = [album.pk, result.pk]
    key = VendorKey(owner=alice, vendor=Vendor.AILABTOOLS, label="mine")
    key.set_secret("alice-secret-key-0001")
    key.save()
    preset = Preset.objects.create(owner=alice, operation="colorize", name="Mine")
    token, _secret = ApiToken.create(alice, "script")
    recipe = Recipe.objects.create(owner=alice, name="Mine", steps=[RECIPE_STEP])
    recipe_batch = RecipeBatch.objects.create(owner=alice, recipe=recipe, name="Mine")
    run = RecipeRun.objects.create(
        owner=alice, recipe=recipe, name="Mine", steps=[RECIPE_STEP], batch=recipe_batch
    )
    RecipeStepRun.objects.create(run=run, index=0, job=job)
    batch_new = reverse("editor:recipe_batch_new", args=[recipe.pk])
    pair = [job.pk, result.pk]
    download = reverse("editor:result_download", args=pair)
    return [
        Private("editor:job", "get", reverse("editor:job", args=[job.pk])),
        Private("editor:job_input", "get", reverse("editor:job_input", args=[job.pk, "image"])),
        Private("editor:result_file", "get", reverse("editor:result_file", args=pair)),
        Private("editor:result_thumbnail", "get", reverse("editor:result_thumbnail", args=pair)),
        Private("editor:result_download", "get", download),
        Private("editor:result_download", "get", download + "?format=png"),
        Private("editor:share_new", "get", reverse("editor:share_new", args=pair)),
        Private("editor:batch", "get", reverse("editor:batch", args=[batch.pk])),
        Private("editor:batch_zip", "get", reverse("editor:batch_zip", args=[batch.pk])),
        Private("editor:recipe_run", "get", reverse("editor:recipe_run", args=[run.pk])),
        Private("editor:recipe_batch_new", "get", batch_new),
        Private("editor:recipe_batch_new", "get", f"{batch_new}?job={job.pk}"),
        # Sent with no photo: the owner's form answers with its field error.
        Private("editor:recipe_batch_new", "post", batch_new, 422),
        Private(
            "editor:recipe_batch", "get", reverse("editor:recipe_batch", args=[recipe_batch.pk])
        ),
        Private("editor:recipe_export", "get", reverse("editor:recipe_export", args=[recipe.pk])),
        Private("editor:recipe_edit", "get", reverse("editor:recipe_edit", args=[recipe.pk])),
        Private(
            "editor:recipe_start", "post", reverse("editor:recipe_start", args=[recipe.pk]), 302
        ),
        Private(
            "editor:recipe_delete", "post", reverse("editor:recipe_delete", args=[recipe.pk]), 302
        ),
        Private(
            "editor:recipe_step_retry",
            "post",
            reverse("editor:recipe_step_retry", args=[run.pk, 1]),
            302,
        ),
        Private("editor:draft_file", "get", reverse("editor:draft_file", args=[draft.pk])),
        Private("editor:album", "get", reverse("editor:album", args=[album.pk])),
        Private("editor:album_add", "get", reverse("editor:album_add", args=pair)),
        Private("editor:album_add", "post", reverse("editor:album_add", args=pair)),
        Private("editor:album_rename", "post", reverse("editor:album_rename", args=[album.pk])),
        Private("editor:album_share", "post", reverse("editor:album_share", args=[album.pk])),
        Private("editor:album_move", "post", reverse("editor:album_move", args=in_album)),
        Private("editor:album_remove", "post", reverse("editor:album_remove", args=in_album)),
        Private(
            "editor:album_revoke_all", "post", reverse("editor:album_revoke_all", args=[album.pk])
        ),
        Private("editor:album_delete", "post", reverse("editor:album_delete", args=[album.pk])),
        Private("editor:vault_key", "get", reverse("editor:vault_key", args=[key.pk]), 302),
        Private("editor:vault_edit", "get", reverse("editor:vault_edit", args=[key.pk])),
        Private("editor:vault_credits", "get", reverse("editor:vault_credits", args=[key.pk]), 302),
        Private("editor:vault_edit", "post", reverse("editor:vault_edit", args=[key.pk])),
        Private("editor:vault_credits", "post", reverse("editor:vault_credits", args=[key.pk])),
        Private("editor:share_new", "post", reverse("editor:share_new", args=pair)),
        Private("editor:share_revoke", "post", reverse("editor:share_revoke", args=[link.pk])),
        Private(
            "editor:preset_delete",
            "post",
            reverse("editor:preset_delete", args=["colorize", preset.pk]),
        ),
        Private("api_token_revoke", "post", reverse("api_token_revoke", args=[token.pk])),
        Private("editor:vault_delete", "post", reverse("editor:vault_delete", args=[key.pk])),
        Private("editor:job_cancel", "post", reverse("editor:job_cancel", args=[job.pk])),
        Private("editor:job_retry", "post", reverse("editor:job_retry", args=[job.pk])),
        Private("editor:job_delete", "post", reverse("editor:job_delete", args=[job.pk])),
    ]


def route_names(
    patterns: list[URLPattern | URLResolver] | None = None, prefix: str = "", space: str = ""
) -> dict[str, str]:
    """Every named route of the project, with the path it sits under."""
    names: dict[str, str] = {}
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        path = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{space}{entry.namespace}:" if entry.namespace else space
            names.update(route_names(entry.url_patterns, path, inner))
        elif entry.name:
            names[space + entry.name] = path
    return names


def test_every_url_is_in_the_matrix(alice: User) -> None:
    private = {url.name for url in private_urls(alice)}
    ours = {name: path for name, path in route_names().items() if not path.startswith(ELSEWHERE)}
    unplaced = set(ours) - private - SIGNED_IN - PUBLIC
    assert not unplaced, f"place these URLs in the isolation matrix: {sorted(unplaced)}"
    assert not (private | SIGNED_IN | PUBLIC) - set(ours), "the matrix names a URL that is gone"


def test_pages_without_an_object_need_a_sign_in() -> None:
    anonymous = Client()
    for name in sorted(SIGNED_IN):
        args = ["colorize"] if name in ("editor:operation", "editor:preset_save") else []
        path = reverse(name, args=args)
        for method in ("get", "post"):
            response = getattr(anonymous, method)(path)
            if response.status_code == 405:
                continue  # this page does not answer that method at all
            assert response.status_code == 302, (name, method)
            assert response["Location"].startswith(reverse("account_login")), (name, method)


def client_for(who: str, alice: User, bob: User) -> Client:
    client = Client()
    if who != "anonymous":
        client.force_login(alice if who == "owner" else bob)
    return client


def test_private_urls(alice: User, bob: User) -> None:
    urls = private_urls(alice)
    for who in ("other", "anonymous"):
        client = client_for(who, alice, bob)
        for url in urls:
            response = getattr(client, url.method)(
                url.path, {"lifetime": "1h"} if url.method == "post" else None
            )
            if who == "anonymous":
                assert response.status_code == 302, url
                assert response["Location"].startswith(reverse("account_login")), url
            else:
                assert response.status_code == 404, url
    # Nothing of Alice's was touched by the others.
    assert VendorKey.objects.filter(owner=alice).count() == 1
    assert Preset.objects.filter(owner=alice).count() == 1
    assert ApiToken.objects.live().filter(owner=alice).count() == 1
    assert ShareLink.objects.filter(revoked_at__isnull=True).count() == 1
    assert Album.objects.get(owner=alice).title == "Holidays"
    assert AlbumItem.objects.filter(album__owner=alice).count() == 1
    # The owner last, reads before changes (deleting the job ends the matrix).
    client = client_for("owner", alice, bob)
    for url in urls:
        if url.method == "get":
            assert client.get(url.path).status_code == url.owner_status, url
    posts = {url.name: url.path for url in urls if url.method == "post"}
    assert client.post(posts["editor:share_new"], {"lifetime": "1h"}).status_code == 302
    assert client.post(posts["editor:album_share"], {"lifetime": "1h"}).status_code == 302
    assert client.post(posts["editor:album_move"], {"direction": "up"}).status_code == 302
    assert client.post(posts["editor:album_rename"], {"title": "Summer"}).status_code == 302
    assert client.post(posts["editor:album_revoke_all"]).status_code == 302
    assert client.post(posts["editor:album_remove"]).status_code == 302
    assert client.post(posts["editor:album_delete"]).status_code == 302
    assert not Album.objects.filter(owner=alice).exists()
    for name in (
        "editor:share_revoke",
        "editor:preset_delete",
        "api_token_revoke",
        "editor:vault_delete",
    ):
        assert client.post(posts[name]).status_code in (200, 302), name
    assert client.post(posts["editor:job_delete"], {"confirmed": "1"}).status_code == 302
    assert not VendorKey.objects.filter(owner=alice).exists()
    assert not Preset.objects.filter(owner=alice).exists()


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


def album_token_in_state(alice: User, state: str) -> tuple[str, str]:
    """A link to an album of one photo in ``state``, and that photo's item id."""
    album = albums.create(alice, "Holidays")
    item = albums.add(album, make_job(alice).results.get())
    link, token = ShareLink.create(album, lifetime=dt.timedelta(days=1))
    if state == "expired":
        ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    elif state == "revoked":
        link.revoke()
    elif state == "unknown":
        link.delete()
    return token, str(item.pk)


@pytest.mark.parametrize("state", ["live", "expired", "revoked", "unknown"])
@pytest.mark.parametrize("who", WHO)
def test_public_album_urls(state: str, who: str, alice: User, bob: User) -> None:
    token, item = album_token_in_state(alice, state)
    client = client_for(who, alice, bob)
    paths = [
        reverse("editor:shared", args=[token]),
        reverse("editor:shared_album_photo", args=[token, item]),
        reverse("editor:shared_album_photo", args=[token, item]) + "?download=1",
        reverse("editor:shared_album_zip", args=[token]),
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == (200 if state == "live" else 404), path
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        if state != "live":  # the very same 404 page as any dead share link
            assert response.templates[0].name == "editor/share_missing.html", path
    # An album link never opens the result routes, nor another album's photos.
    assert client.get(reverse("editor:shared_file", args=[token, "result"])).status_code == 404
    _other, other_item = album_token_in_state(alice, "live")
    photo = reverse("editor:shared_album_photo", args=[token, other_item])
    assert client.get(photo).status_code == 404
