"""Idempotency-Key on the API's POSTs: the same request with the same key is answered again
without a second job; a different request with it is a 422; while the first runs, a 409; a
malformed key is a 400; keys are per person; errors keep nothing; old records expire."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from accounts.models import Quota, User
from api import idempotency, tasks
from api.api import api
from api.models import IdempotencyKey
from config.celery import app
from editor import jobs
from editor.models import Batch, Job, ShareLink, Vendor, VendorKey
from tests.api.calls import BATCHES, JOBS, colorize
from tests.api.conftest import ApiClient, token_for
from tests.broker import SentTasks
from tests.factories import make_job, make_key
from tests.images import make_image, photos

pytestmark = pytest.mark.django_db

KEY = "4f0e2a9c-5b7d-4e1a-9c3f-2d8b6a1e7c50"


def with_key(key: str = KEY) -> dict[str, str]:
    return {"Idempotency-Key": key}


def same_photo() -> SimpleUploadedFile:
    """A fresh upload of the same bytes under the same name: the same photo sent again."""
    return SimpleUploadedFile("p.jpg", make_image((200, 150)), content_type="image/jpeg")


# --- The same request again --------------------------------------------------------------------


def test_the_same_request_again_gets_the_same_answer_and_no_second_job(
    alice: User,
    alice_api: ApiClient,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    make_key(alice, Vendor.PICWISH)
    with django_capture_on_commit_callbacks(execute=True):
        first = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert first.status_code == 202, first.content
    assert idempotency.REPLAYED not in first
    with django_capture_on_commit_callbacks(execute=True):
        again = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert again.status_code == 202
    assert again.content == first.content
    assert again["Location"] == first["Location"]
    assert again["Content-Type"] == first["Content-Type"]
    assert again[idempotency.REPLAYED] == "true"
    assert Job.objects.count() == 1
    assert len(sent_tasks.args[jobs.ADVANCE_TASK]) == 1
    assert Quota.objects.get(user=alice).jobs_today == 1


def test_the_answer_is_the_one_without_a_key(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    plain = alice_api.post(JOBS, colorize()).json()
    keyed = alice_api.post(JOBS, colorize(), headers=with_key()).json()
    assert set(keyed) == set(plain)
    assert {name: keyed[name] for name in ("status", "params", "result", "results")} == {
        name: plain[name] for name in ("status", "params", "result", "results")
    }


def test_a_key_without_a_header_value_change_is_just_a_request(alice_api: ApiClient) -> None:
    """No header: nothing kept, every request does its work (here: two keys added)."""
    body = {"vendor": "picwish", "secret": "sandbox-picwish-0001"}
    for label in ("one", "two"):
        response = alice_api.post(
            "/api/v1/keys", json.dumps({**body, "label": label}), content_type="application/json"
        )
        assert response.status_code == 201
    assert VendorKey.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


def test_a_json_body_formatted_differently_is_the_same_request(alice_api: ApiClient) -> None:
    body = {"vendor": "picwish", "secret": "sandbox-picwish-0001", "label": "mine"}
    first = alice_api.post(
        "/api/v1/keys", json.dumps(body), content_type="application/json", headers=with_key()
    )
    assert first.status_code == 201, first.content
    reordered = json.dumps(dict(reversed(body.items())), indent=2)
    again = alice_api.post(
        "/api/v1/keys", reordered, content_type="application/json", headers=with_key()
    )
    assert (again.status_code, again.content) == (201, first.content)
    assert again[idempotency.REPLAYED] == "true"
    assert VendorKey.objects.count() == 1


def test_a_share_link_is_made_once(alice: User, alice_api: ApiClient) -> None:
    job = make_job(alice)
    path = f"{JOBS}/{job.pk}/shares"
    answers = [
        alice_api.post(
            path,
            json.dumps({"expires_in": "1d"}),
            content_type="application/json",
            headers=with_key(),
        )
        for _ in range(2)
    ]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json()["url"] == answers[1].json()["url"]
    assert ShareLink.objects.count() == 1


def test_a_batch_is_started_once(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    answers = [
        alice_api.post(BATCHES, {"operation": "colorize", "image": photos(3)}, headers=with_key())
        for _ in range(2)
    ]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].content == answers[1].content
    assert Batch.objects.count() == 1
    assert Job.objects.count() == 3


# --- A different request with the same key -----------------------------------------------------


def test_a_different_field_with_the_same_key_is_422(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    assert alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key()).status_code == 202
    response = alice_api.post(JOBS, colorize(image=same_photo(), format="jpg"), headers=with_key())
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "idempotency_key_reused"
    assert body["message"] == (
        "This Idempotency-Key was already used for a different request (POST /api/v1/jobs, "
        "with other fields, files or body). Send a new key with a new request."
    )
    assert Job.objects.count() == 1


def test_other_file_bytes_under_the_same_names_are_a_different_request(
    alice: User, alice_api: ApiClient
) -> None:
    make_key(alice, Vendor.PICWISH)
    assert alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key()).status_code == 202
    other = SimpleUploadedFile("p.jpg", make_image((201, 150)), content_type="image/jpeg")
    response = alice_api.post(JOBS, colorize(image=other), headers=with_key())
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Job.objects.count() == 1


def test_the_same_key_on_another_endpoint_is_a_different_request(
    alice: User, alice_api: ApiClient
) -> None:
    make_key(alice, Vendor.PICWISH)
    assert alice_api.post(JOBS, colorize(), headers=with_key()).status_code == 202
    response = alice_api.post(BATCHES, colorize(), headers=with_key())
    assert response.status_code == 422
    assert "(POST /api/v1/jobs," in response.json()["message"]
    assert not Batch.objects.exists()


# --- While the first request runs ---------------------------------------------------------------


def test_a_second_request_while_the_first_runs_is_409(
    alice: User, alice_api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_key(alice, Vendor.PICWISH)
    seen: list[Any] = []
    start = jobs.start

    def start_and_send_again(*args: Any, **kwargs: Any) -> Any:
        # The first request is doing its work: the same request arrives meanwhile.
        seen.append(alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key()))
        return start(*args, **kwargs)

    monkeypatch.setattr(jobs, "start", start_and_send_again)
    first = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert first.status_code == 202, first.content
    assert seen[0].status_code == 409
    assert seen[0].json()["code"] == "idempotency_key_in_flight"
    assert Job.objects.count() == 1


def test_an_in_flight_record_is_409_until_it_is_abandoned(
    alice: User, alice_api: ApiClient
) -> None:
    make_key(alice, Vendor.PICWISH)
    assert alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key()).status_code == 202
    # As if that request were still running.
    IdempotencyKey.objects.update(status=None, body=b"", headers={})
    response = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert response.status_code == 409
    assert response.json()["message"] == (
        "A request with this Idempotency-Key is still being processed. Wait a moment and send "
        "it again to get its answer."
    )
    # A request that ran this long died: the next one with its key does the work.
    IdempotencyKey.objects.update(
        created_at=timezone.now() - dt.timedelta(seconds=idempotency.IN_FLIGHT_SECONDS + 1)
    )
    response = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert response.status_code == 202
    assert idempotency.REPLAYED not in response
    assert Job.objects.count() == 2
    assert IdempotencyKey.objects.get().status == 202


@pytest.mark.django_db(transaction=True)
def test_two_racing_requests_make_one_job(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads, two database connections, one key: the unique constraint lets one in."""
    make_key(alice, Vendor.PICWISH)
    token = token_for(alice)
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def send() -> None:
        try:
            client = ApiClient(token)
            barrier.wait(timeout=10)
            response = client.post(JOBS, colorize(image=same_photo()), headers=with_key())
            answers.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Job.objects.count() == 1
    # The loser finds the winner at work (409) or, where writers queue (SQLite), its answer.
    assert sorted(answers) in ([202, 202], [202, 409])


# --- Malformed keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "k" * 256,
            "The Idempotency-Key header is 256 characters long; it may have at most 255.",
        ),
        (
            "",
            "The Idempotency-Key header is empty. Send 1 to 255 printable ASCII characters, "
            "such as a UUID, or leave the header out.",
        ),
        (
            "   ",
            "The Idempotency-Key header is empty. Send 1 to 255 printable ASCII characters, "
            "such as a UUID, or leave the header out.",
        ),
        (
            "café",
            "The Idempotency-Key header may hold only printable ASCII characters (letters, "
            "digits, punctuation and spaces).",
        ),
        (
            "tab\there",
            "The Idempotency-Key header may hold only printable ASCII characters (letters, "
            "digits, punctuation and spaces).",
        ),
    ],
)
def test_a_malformed_key_is_400(alice: User, alice_api: ApiClient, key: str, message: str) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(), headers=with_key(key))
    assert response.status_code == 400
    assert response.json() == {"code": "invalid_idempotency_key", "message": message}
    assert not Job.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_a_key_of_255_characters_is_taken(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(), headers=with_key("k" * 255))
    assert response.status_code == 202
    assert IdempotencyKey.objects.get().key == "k" * 255


# --- Whose --------------------------------------------------------------------------------------


def test_another_persons_same_key_is_another_key(
    alice: User, bob: User, alice_api: ApiClient, bob_api: ApiClient
) -> None:
    make_key(alice, Vendor.PICWISH)
    make_key(bob, Vendor.PICWISH)
    alices = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    # The same request and key from Bob: his own job, not Alice's answer.
    bobs = bob_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert (alices.status_code, bobs.status_code) == (202, 202)
    assert idempotency.REPLAYED not in bobs
    assert bobs.json()["id"] != alices.json()["id"]
    assert Job.objects.get(pk=bobs.json()["id"]).owner == bob
    # A different request from Bob with Alice's key is no conflict with hers either; his own
    # repeat is his own answer.
    again = bob_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert again.json()["id"] == bobs.json()["id"]
    assert IdempotencyKey.objects.filter(key=KEY).count() == 2


def test_the_same_person_with_another_token_gets_the_answer(
    alice: User, alice_api: ApiClient
) -> None:
    make_key(alice, Vendor.PICWISH)
    first = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    other_token = ApiClient(token_for(alice, "second script"))
    again = other_token.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert again.content == first.content
    assert Job.objects.count() == 1


# --- What is kept -------------------------------------------------------------------------------


def test_a_refused_request_keeps_nothing_and_may_be_sent_again(
    alice: User, alice_api: ApiClient
) -> None:
    refused = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert refused.json()["code"] == "no_key"
    assert not IdempotencyKey.objects.exists()
    make_key(alice, Vendor.PICWISH)
    response = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    assert response.status_code == 202
    assert Job.objects.count() == 1


def test_past_the_quota_nothing_is_kept(
    alice: User, alice_api: ApiClient, settings: SettingsWrapper
) -> None:
    settings.QUOTA_JOBS_PER_DAY = 0
    make_key(alice, Vendor.PICWISH)
    assert alice_api.post(JOBS, colorize(), headers=with_key()).status_code == 429
    settings.QUOTA_JOBS_PER_DAY = 5
    assert alice_api.post(JOBS, colorize(), headers=with_key()).status_code == 202


def test_an_error_in_the_work_rolls_back_and_frees_the_key(
    alice: User, alice_api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_key(alice, Vendor.PICWISH)
    start = jobs.start

    def start_then_fail(*args: Any, **kwargs: Any) -> Any:
        start(*args, **kwargs)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(jobs, "start", start_then_fail)
    api_client = ApiClient(alice_api.token)
    api_client.client.raise_request_exception = False
    assert api_client.post(JOBS, colorize(), headers=with_key()).status_code == 500
    assert not Job.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_an_expired_record_is_a_new_request(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    first = alice_api.post(JOBS, colorize(image=same_photo()), headers=with_key())
    IdempotencyKey.objects.update(
        created_at=timezone.now()
        - dt.timedelta(seconds=django_settings.API_IDEMPOTENCY_SECONDS + 1)
    )
    # Even a different request: the key is free again.
    again = alice_api.post(JOBS, colorize(format="jpg"), headers=with_key())
    assert again.status_code == 202
    assert again.json()["id"] != first.json()["id"]
    assert Job.objects.count() == 2


def test_old_records_are_purged_every_hour(alice: User, alice_api: ApiClient) -> None:
    make_key(alice, Vendor.PICWISH)
    alice_api.post(JOBS, colorize(), headers=with_key("old"))
    alice_api.post(JOBS, colorize(), headers=with_key("new"))
    day = dt.timedelta(seconds=django_settings.API_IDEMPOTENCY_SECONDS)
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - day)
    tasks.purge_idempotency_keys.apply()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    entry = django_settings.CELERY_BEAT_SCHEDULE["purge-idempotency-keys"]
    assert entry == {"task": "api.tasks.purge_idempotency_keys", "schedule": 3600.0}
    assert entry["task"] in app.tasks


# --- The document -------------------------------------------------------------------------------


def test_every_post_documents_the_header_and_its_answers() -> None:
    document = api.get_openapi_schema()
    posts = [
        (path, methods["post"]) for path, methods in document["paths"].items() if "post" in methods
    ]
    assert len(posts) >= 6
    for path, operation in posts:
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [p["name"] for p in headers] == ["Idempotency-Key"], path
        assert headers[0]["schema"]["maxLength"] == 255
        assert {400, 409, 422} <= set(operation["responses"]), path
