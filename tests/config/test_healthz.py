from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.db.utils import OperationalError
from django.test import Client
from pytest_django import Settings as SettingsWrapper

from config import views
from editor import health, tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def workers_seen() -> None:
    """Each queue's worker took its heartbeat just now."""
    for queue in health.QUEUES:
        health.beat(queue, f"{queue}@host")


def test_healthz_answers_200_when_database_and_broker_answer(
    client: Client, workers_seen: None
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}
    assert body["down"] == []
    assert body["workers"]["io"]["status"] == "ok"
    assert body["workers"]["cpu"]["worker"] == "cpu@host"
    assert body["workers"]["cpu"]["last_seen_seconds"] < 5
    assert "no-cache" in response["Cache-Control"]


def test_healthz_says_degraded_when_a_queue_has_no_worker(
    client: Client, workers_seen: None, settings: SettingsWrapper
) -> None:
    late = time.time() + settings.HEALTH_WORKER_LATE_SECONDS + 1
    assert health.workers(now=late)["io"]["status"] == "late"
    cache.delete("health:heartbeat:cpu")  # never seen
    response = client.get("/healthz")
    assert response.status_code == 200  # the pages still work; jobs wait for a worker
    body = response.json()
    assert body["status"] == "degraded"
    assert body["workers"]["cpu"] == {"status": "unknown", "last_seen_seconds": None}


def test_healthz_names_storage_when_it_refuses_files(
    client: Client, workers_seen: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(default_storage, "save", full)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["storage"]


def test_the_heartbeat_task_notes_its_worker_and_beat_sends_one_on_each_queue(
    settings: SettingsWrapper,
) -> None:
    cache.delete("health:heartbeat:cpu")
    tasks.heartbeat.apply(args=("cpu",))
    assert health.workers()["cpu"]["status"] == "ok"
    assert health.workers()["cpu"]["worker"]  # the host that ran it
    sent = {
        entry["options"]["queue"]
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "editor.tasks.heartbeat"
    }
    assert sent == set(health.QUEUES)


def test_healthz_names_the_broker_when_it_is_down(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on port 1: the real connection attempt fails.
    monkeypatch.setattr(views, "broker_url", lambda: "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


def test_healthz_names_the_database_when_it_is_down(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    class BrokenCursor:
        def __enter__(self) -> BrokenCursor:
            raise OperationalError("connection refused")

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(connection, "cursor", BrokenCursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]


def test_healthz_needs_no_login_and_refuses_post(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
