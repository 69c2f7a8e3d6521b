"""Albums through the API: made, read, renamed, filled, ordered and emptied; shared with one
link per name; an album's links revoked together, and everything revoked at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from editor.models import Album, ShareLink
from tests.api.conftest import ApiClient
from tests.factories import make_job

pytestmark = pytest.mark.django_db

ALBUMS = "/api/v1/albums"


def post(client: ApiClient, path: str, body: object) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_an_album_from_start_to_end(alice_api: ApiClient, alice: User) -> None:
    made = post(alice_api, ALBUMS, {"title": "Trip"})
    assert made.status_code == 201
    album = made.json()
    path = f"{ALBUMS}/{album['id']}"
    results = [str(make_job(alice).results.get().pk) for _ in range(3)]
    for result in results:
        assert post(alice_api, f"{path}/results", {"result": result}).status_code == 201
    body = alice_api.get(path).json()
    assert [item["result"] for item in body["items"]] == results
    assert [item["position"] for item in body["items"]] == [0, 1, 2]

    reordered = [results[2], results[0], results[1]]
    answer = alice_api.send("PUT", f"{path}/order", json.dumps({"results": reordered}))
    assert answer.status_code == 200
    assert [item["result"] for item in answer.json()["items"]] == reordered
    missing_one = alice_api.send("PUT", f"{path}/order", json.dumps({"results": reordered[:2]}))
    assert missing_one.status_code == 422
    assert missing_one.json()["field"] == "results"

    renamed = alice_api.send("PATCH", path, json.dumps({"title": "Summer trip"}))
    assert renamed.json()["title"] == "Summer trip"
    assert alice_api.send("PATCH", path, json.dumps({"title": "   "})).status_code == 422

    assert alice_api.delete(f"{path}/results/{results[0]}").status_code == 204
    assert alice_api.delete(f"{path}/results/{results[0]}").status_code == 404
    assert alice_api.get(ALBUMS).json()["count"] == 1

    assert alice_api.delete(path).status_code == 204
    assert not Album.objects.exists()


def test_someone_elses_result_cannot_go_in(alice_api: ApiClient, bob: User) -> None:
    album = post(alice_api, ALBUMS, {"title": "Mine"}).json()
    bobs = str(make_job(bob).results.get().pk)
    answer = post(alice_api, f"{ALBUMS}/{album['id']}/results", {"result": bobs})
    assert answer.status_code == 404


def test_album_links_one_per_name_and_revoked_together(alice_api: ApiClient, alice: User) -> None:
    album = post(alice_api, ALBUMS, {"title": "Family"}).json()
    path = f"{ALBUMS}/{album['id']}"
    post(alice_api, f"{path}/results", {"result": str(make_job(alice).results.get().pk)})
    made = post(alice_api, f"{path}/shares", {"names": ["Gran", "Tom"], "expires_in": "1d"})
    assert made.status_code == 201
    links = made.json()
    assert [link["name"] for link in links] == ["Gran", "Tom"]
    assert all(link["album"] == album["id"] and link["result"] is None for link in links)
    assert all(link["expires_at"] for link in links)
    assert Client().get(links[0]["url"]).status_code == 200
    listed = alice_api.get(f"{path}/shares").json()
    assert {link["id"] for link in listed} == {link["id"] for link in links}
    assert alice_api.get("/api/v1/shares").json()["count"] == 2

    default = post(alice_api, f"{path}/shares", {}).json()
    assert len(default) == 1
    assert default[0]["expires_at"]  # an expiry unless asked for none
    assert post(alice_api, f"{path}/shares/revoke", {}).json() == {"revoked": 3}
    assert Client().get(links[0]["url"]).status_code == 404

    job = make_job(alice)
    post(alice_api, f"/api/v1/jobs/{job.pk}/shares", {"expires_in": "1h"})
    post(alice_api, f"{path}/shares", {"expires_in": "never"})
    assert post(alice_api, "/api/v1/shares/revoke-all", {}).json() == {"revoked": 2}
    assert not ShareLink.objects.live().exists()
