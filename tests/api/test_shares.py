"""Share links through the API: made for a succeeded job's result (with a password and an
expiry), listed, revoked; a revoked link's public page is a 404."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent, User
from api.models import ApiToken
from editor.models import JobStatus, Result, ShareLink
from tests.api.conftest import ApiClient, token_for
from tests.factories import RESULT, make_job

pytestmark = pytest.mark.django_db

SHARES = "/api/v1/shares"


def shares_of(job_id: object) -> str:
    return f"/api/v1/jobs/{job_id}/shares"


def share(client: ApiClient, job_id: object, **body: object) -> Any:
    return client.post(shares_of(job_id), json.dumps(body), content_type="application/json")


def test_sharing_a_result_answers_201_with_the_link(alice_api: ApiClient, alice: User) -> None:
    job = make_job(alice)
    before = timezone.now()
    response = share(alice_api, job.pk, expires_in="1h", password="open sesame")
    assert response.status_code == 201
    body = response.json()
    link = ShareLink.objects.get()
    assert body["id"] == str(link.pk)
    assert body["job"] == str(job.pk)
    assert body["result"] == str(job.results.get().pk)
    assert body["url"] == f"http://testserver/s/{link.token}/"
    assert body["has_password"] is True
    assert body["include_original"] is False
    assert body["views"] == 0
    assert body["failed_passwords"] == 0
    assert body["last_failed_password_at"] is None
    assert body["revoked_at"] is None
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert before + dt.timedelta(minutes=59) < expires <= timezone.now() + dt.timedelta(hours=1)
    assert "open sesame" not in response.content.decode()
    assert link.check_password("open sesame")
    event = AuditEvent.objects.get(action=AuditAction.SHARE_CREATED)
    assert event.details["protected"] is True
    assert link.token not in json.dumps(event.details)
    assert "open sesame" not in json.dumps(event.details)
    # The public page asks for the password, and opens with it.
    public = Client()
    assert public.get(f"/s/{link.token}/").status_code == 200
    assert public.get(f"/s/{link.token}/file/result").status_code == 404


def test_the_default_is_seven_days_and_never_means_no_expiry(
    alice_api: ApiClient, alice: User
) -> None:
    job = make_job(alice)
    seven = share(alice_api, job.pk).json()
    expires = dt.datetime.fromisoformat(seven["expires_at"])
    assert abs(expires - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
    assert seven["has_password"] is False
    never = share(alice_api, job.pk, expires_in="never", include_original=True).json()
    assert never["expires_at"] is None
    assert never["include_original"] is True


def test_an_unknown_lifetime_is_422(alice_api: ApiClient, alice: User) -> None:
    response = share(alice_api, make_job(alice).pk, expires_in="2y")
    assert response.status_code == 422
    assert not ShareLink.objects.exists()


def test_a_result_is_chosen_by_position_or_id(alice_api: ApiClient, alice: User) -> None:
    job = make_job(alice)
    second = Result.objects.create(
        job=job, position=1, file="x.png", media_type="image/png", bytes=len(RESULT)
    )
    assert share(alice_api, job.pk, result=1).json()["result"] == str(second.pk)
    assert share(alice_api, job.pk, result=str(second.pk)).json()["result"] == str(second.pk)
    missing = share(alice_api, job.pk, result=5)
    assert missing.status_code == 422
    assert share(alice_api, job.pk, result=str(uuid.uuid4())).status_code == 422


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED])
def test_only_a_succeeded_job_is_shared(alice_api: ApiClient, alice: User, status: str) -> None:
    response = share(alice_api, make_job(alice, status).pk)
    assert response.status_code == 409
    assert response.json()["code"] == "not_succeeded"
    assert not ShareLink.objects.exists()


def test_someone_elses_job_or_an_unknown_one_is_404(bob_api: ApiClient, alice: User) -> None:
    assert share(bob_api, make_job(alice).pk).status_code == 404
    assert share(bob_api, uuid.uuid4()).status_code == 404
    assert not ShareLink.objects.exists()


def test_the_list_shows_live_links_with_their_address_and_dead_ones_without(
    alice_api: ApiClient, bob_api: ApiClient, alice: User
) -> None:
    job = make_job(alice)
    live = share(alice_api, job.pk).json()
    dead = share(alice_api, job.pk).json()
    ShareLink.objects.get(pk=dead["id"]).revoke()
    listed = alice_api.get(SHARES)
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 2
    by_id = {item["id"]: item for item in body["items"]}
    assert by_id[live["id"]]["url"] == live["url"]
    assert by_id[dead["id"]]["url"] is None
    assert by_id[dead["id"]]["revoked_at"] is not None
    assert bob_api.get(SHARES).json() == {"items": [], "count": 0}


def test_the_list_shows_wrong_passwords_typed_on_a_link(alice_api: ApiClient, alice: User) -> None:
    made = share(alice_api, make_job(alice).pk, password="open sesame").json()
    before = timezone.now()
    for _ in range(2):
        assert (
            Client().post(f"/s/{ShareLink.objects.get().token}/", {"password": "no"}).status_code
            == 403
        )
    item = alice_api.get(SHARES).json()["items"][0]
    assert item["id"] == made["id"]
    assert item["failed_passwords"] == 2
    assert dt.datetime.fromisoformat(item["last_failed_password_at"]) >= before


def test_the_list_is_paginated(alice_api: ApiClient, alice: User) -> None:
    result = make_job(alice).results.get()
    for _ in range(26):
        ShareLink.create(result, lifetime=None)
    first = alice_api.get(SHARES).json()
    second = alice_api.get(SHARES, {"page": 2}).json()
    assert (len(first["items"]), len(second["items"]), first["count"]) == (25, 1, 26)
    assert alice_api.get(SHARES, {"page": 3}).json()["items"] == []
    assert alice_api.get(SHARES, {"page": 0}).status_code == 422


def test_revoking_a_link_closes_its_public_page(alice_api: ApiClient, alice: User) -> None:
    made = share(alice_api, make_job(alice).pk).json()
    public = Client()
    path = made["url"].removeprefix("http://testserver")
    assert public.get(path).status_code == 200
    response = alice_api.delete(f"{SHARES}/{made['id']}")
    assert response.status_code == 204
    assert public.get(path).status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.SHARE_REVOKED).count() == 1
    # Again: harmless, and not recorded twice.
    assert alice_api.delete(f"{SHARES}/{made['id']}").status_code == 204
    assert AuditEvent.objects.filter(action=AuditAction.SHARE_REVOKED).count() == 1


def test_someone_elses_link_is_404(alice_api: ApiClient, bob_api: ApiClient, alice: User) -> None:
    made = share(alice_api, make_job(alice).pk).json()
    assert bob_api.delete(f"{SHARES}/{made['id']}").status_code == 404
    assert ShareLink.objects.get().revoked_at is None


def test_no_token_or_a_revoked_one_is_401(alice: User) -> None:
    job = make_job(alice)
    link, _token = ShareLink.create(job.results.get(), lifetime=None)
    token = token_for(alice)
    ApiToken.objects.get().revoke()
    for client in (ApiClient(None), ApiClient(token)):
        assert client.get(SHARES).status_code == 401
        assert share(client, job.pk).status_code == 401
        assert client.delete(f"{SHARES}/{link.pk}").status_code == 401
    assert ShareLink.objects.count() == 1
    assert ShareLink.objects.get().revoked_at is None
