"""Who may call what, over every operation in the API's own OpenAPI document: the owner, another
person's token, no token and a revoked token. Someone else's object is a 404 (never a 403) and
stays as it was; lists and figures hold only the caller's own things.

An operation the document lists that is not placed here fails ``test_every_operation_is_placed``,
so a new endpoint joins the matrix before it lands."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from api.api import api
from api.models import ApiToken
from editor import albums, recipes
from editor.models import (
    Album,
    Job,
    JobStatus,
    Recipe,
    RecipeRun,
    RecipeStepRun,
    ShareLink,
    Vendor,
    VendorKey,
)
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_job
from tests.images import photo

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Alices:
    """Alice's things that the API's path parameters name."""

    job: Job
    key: VendorKey
    link: ShareLink
    album: Album
    recipe: Recipe
    run: RecipeRun

    @property
    def params(self) -> dict[str, str]:
        return {
            "job_id": str(self.job.pk),
            "key_id": str(self.key.pk),
            "share_id": str(self.link.pk),
            "album_id": str(self.album.pk),
            "result_id": str(self.job.results.get().pk),
            "recipe_id": str(self.recipe.pk),
            "run_id": str(self.run.pk),
            "number": "1",
        }


def alices_things(alice: User) -> Alices:
    job = make_job(alice)
    key = VendorKey(owner=alice, vendor=Vendor.PICWISH, label="alice's")
    key.set_secret("alice-picwish-secret-1")
    key.save()
    link, _token = ShareLink.create(job.results.get(), lifetime=None)
    album = albums.create(alice, "Alice's album")
    albums.add(album, job.results.get())
    recipe = recipes.save(owner=alice, name="alice's", steps=[{"operation": "colorize"}])
    run = RecipeRun.objects.create(owner=alice, recipe=recipe, name=recipe.name, steps=recipe.steps)
    RecipeStepRun.objects.create(run=run, index=0, job=job)
    return Alices(job, key, link, album, recipe, run)


# Operations that name one of the owner's things in their path: another person gets a 404.
OWNED = {
    "GET /api/v1/jobs/{job_id}",
    "DELETE /api/v1/jobs/{job_id}",
    "GET /api/v1/jobs/{job_id}/result",
    "POST /api/v1/jobs/{job_id}/cancel",
    "POST /api/v1/jobs/{job_id}/retry",
    "POST /api/v1/jobs/{job_id}/shares",
    "DELETE /api/v1/keys/{key_id}",
    "DELETE /api/v1/shares/{share_id}",
    "GET /api/v1/albums/{album_id}",
    "PATCH /api/v1/albums/{album_id}",
    "DELETE /api/v1/albums/{album_id}",
    "POST /api/v1/albums/{album_id}/results",
    "DELETE /api/v1/albums/{album_id}/results/{result_id}",
    "PUT /api/v1/albums/{album_id}/order",
    "GET /api/v1/albums/{album_id}/shares",
    "POST /api/v1/albums/{album_id}/shares",
    "POST /api/v1/albums/{album_id}/shares/revoke",
    "GET /api/v1/recipes/{recipe_id}",
    "PUT /api/v1/recipes/{recipe_id}",
    "DELETE /api/v1/recipes/{recipe_id}",
    "GET /api/v1/recipes/{recipe_id}/export",
    "POST /api/v1/recipes/{recipe_id}/runs",
    "GET /api/v1/recipe-runs/{run_id}",
    "POST /api/v1/recipe-runs/{run_id}/steps/{number}/retry",
}
# Lists and figures: another person sees only their own (checked against Alice's ids).
LISTS = {
    "GET /api/v1/jobs",
    "GET /api/v1/keys",
    "GET /api/v1/shares",
    "GET /api/v1/usage",
    "GET /api/v1/albums",
    "GET /api/v1/recipes",
}
# Operations that make something of the caller's own: another person's call makes theirs.
# (Revoking all of one's links is the caller's own too: Alice's link stays live, checked below.)
MAKERS = {
    "POST /api/v1/jobs",
    "POST /api/v1/batches",
    "POST /api/v1/keys",
    "POST /api/v1/albums",
    "POST /api/v1/shares/revoke-all",
    "POST /api/v1/recipes",
    "POST /api/v1/recipes/import",
}
# The same for everyone with a token.
CATALOG = {"GET /api/v1/operations"}


def operations() -> list[tuple[str, str]]:
    document = api.get_openapi_schema()
    return [
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    ]


def call(client: ApiClient, method: str, path: str, things: Alices) -> Any:
    filled = path.format(**things.params)
    if method == "POST" and filled.endswith("/shares"):
        return client.post(
            filled, json.dumps({"expires_in": "1h"}), content_type="application/json"
        )
    if filled == "/api/v1/jobs" and method == "POST":
        return client.post(filled, {"operation": "colorize", "format": "png", "image": photo()})
    if filled == "/api/v1/batches" and method == "POST":
        return client.post(
            filled, {"operation": "colorize", "format": "png", "image": [photo(), photo()]}
        )
    if method in ("POST", "PATCH") and filled.endswith(("/albums", things.params["album_id"])):
        return client.send(method, filled, json.dumps({"title": "Bob's?"}))
    if method == "POST" and filled.endswith("/results"):
        return client.post(
            filled,
            json.dumps({"result": things.params["result_id"]}),
            content_type="application/json",
        )
    if method == "PUT" and filled.endswith("/order"):
        return client.send(method, filled, json.dumps({"results": [things.params["result_id"]]}))
    if filled == "/api/v1/keys" and method == "POST":
        body = {"vendor": "picwish", "secret": "bob-picwish-secret-22", "label": "bob's"}
        return client.post(filled, json.dumps(body), content_type="application/json")
    if filled.startswith("/api/v1/recipes") and method in ("POST", "PUT"):
        return _recipe_call(client, method, filled, things)
    return getattr(client, method.lower())(filled)


def _recipe_call(client: ApiClient, method: str, path: str, things: Alices) -> Any:
    body: dict[str, Any]
    if path.endswith("/runs"):
        body = {"jobs": [str(things.job.pk)]}
    elif path.endswith("/import"):
        body = {"format": recipes.FORMAT, "name": "imported", "steps": [{"operation": "colorize"}]}
    else:
        name = "changed" if method == "PUT" else "made"
        body = {"name": name, "steps": [{"operation": "colorize"}]}
    if method == "PUT":
        return client.client.put(
            path, json.dumps(body), content_type="application/json", headers=client._headers(None)
        )
    return client.post(path, json.dumps(body), content_type="application/json")


def test_every_operation_is_placed() -> None:
    listed = {f"{method} {path}" for method, path in operations()}
    placed = OWNED | LISTS | MAKERS | CATALOG
    assert listed - placed == set(), "place these API operations in the matrix"
    assert placed - listed == set(), "the matrix names an operation that is gone"


@pytest.mark.parametrize("who", ["no token", "revoked token", "wrong token"])
def test_every_operation_needs_a_live_token(alice: User, who: str) -> None:
    things = alices_things(alice)
    if who == "no token":
        client = ApiClient(None)
    elif who == "revoked token":
        made, token = ApiToken.create(alice, "old")
        made.revoke()
        client = ApiClient(token)
    else:
        client = ApiClient(token_for(alice) + "x")
    # A signed-in browser session is no way in either.
    client.client.force_login(alice)
    for method, path in operations():
        response = call(client, method, path, things)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "unauthenticated"
    assert Job.objects.filter(pk=things.job.pk, status=JobStatus.SUCCEEDED).exists()
    assert VendorKey.objects.filter(pk=things.key.pk).exists()
    assert ShareLink.objects.live().filter(pk=things.link.pk).exists()
    assert Job.objects.count() == 1


def test_another_persons_token_reaches_none_of_alices_things(alice: User, bob: User) -> None:
    things = alices_things(alice)
    bob_api = ApiClient(token_for(bob))
    alice_ids = [
        str(things.job.pk),
        str(things.key.pk),
        str(things.link.pk),
        things.link.token,
        str(things.recipe.pk),
        str(things.run.pk),
    ]
    for method, path in operations():
        name = f"{method} {path}"
        response = call(bob_api, method, path, things)
        if name in OWNED:
            assert response.status_code == 404, name
            assert response.json()["code"] == "not_found"
        elif name in LISTS:
            assert response.status_code == 200, name
            text = response.content.decode()
            assert not [found for found in alice_ids if found in text], name
        elif name in MAKERS:
            # Bob's own call: whatever it answers, it is about Bob's things.
            assert response.status_code < 500, name
        else:
            assert response.status_code == 200, name
    # Alice's things are as they were.
    things.job.refresh_from_db()
    assert things.job.status == JobStatus.SUCCEEDED
    assert things.job.results.count() == 1
    assert VendorKey.objects.filter(pk=things.key.pk).exists()
    assert ShareLink.objects.live().filter(pk=things.link.pk).count() == 1
    assert things.album.items.count() == 1
    assert Album.objects.get(pk=things.album.pk).title == "Alice's album"
    assert not ShareLink.objects.filter(album=things.album).exists()
    assert not ShareLink.objects.exclude(pk=things.link.pk).filter(result__job=things.job).exists()
    assert not Job.objects.filter(owner=bob, source_job=things.job).exists()
    things.recipe.refresh_from_db()
    assert things.recipe.name == "alice's"
    assert not RecipeRun.objects.filter(owner=bob).exists()


def test_the_owner_reaches_every_operation(alice: User) -> None:
    things = alices_things(alice)
    alice_api = ApiClient(token_for(alice))
    answered: dict[str, int] = {}
    # Reads first, then makes and changes; deletions last, the job (and its links) at the end.
    order = sorted(
        operations(),
        # (Deeper deletions first: a result leaves its album before the album goes.)
        key=lambda op: (
            op[0] == "DELETE",
            op[0] == "POST",
            op[1].startswith("/api/v1/jobs/"),
            -len(op[1]),
        ),
    )
    for method, path in order:
        response = call(alice_api, method, path, things)
        answered[f"{method} {path}"] = response.status_code
    wrong = {name: status for name, status in answered.items() if status >= 300}
    # Cancelling a finished job and retrying a succeeded one are refused as conflicts: they
    # reached the job (a 404 would mean they did not).
    assert wrong == {
        "POST /api/v1/jobs/{job_id}/cancel": 409,
        "POST /api/v1/jobs/{job_id}/retry": 409,
        # Its one step succeeded: there is nothing to retry.
        "POST /api/v1/recipe-runs/{run_id}/steps/{number}/retry": 409,
    }
    assert not Job.objects.filter(pk=things.job.pk).exists()
    assert not VendorKey.objects.filter(pk=things.key.pk).exists()
    assert Client().get(f"/s/{things.link.token}/").status_code == 404
