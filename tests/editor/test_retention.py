"""Retention: jobs older than RETENTION_DAYS are deleted with their files by an hourly task,
in batches, never while they run; people are told on their gallery and job pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts import quotas
from accounts.models import Quota, User
from config.celery import app
from editor import jobs, tasks
from editor.models import Job, JobStatus, Result
from tests.factories import files_of, make_job, with_prepared

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def thirty_days(settings: SettingsWrapper) -> SettingsWrapper:
    settings.RETENTION_DAYS = 30
    return settings


def aged(job: Job, days: float) -> Job:
    Job.objects.filter(pk=job.pk).update(created_at=NOW - dt.timedelta(days=days))
    job.refresh_from_db()
    return job


def test_old_jobs_go_with_their_files_young_and_running_ones_stay(
    alice: User,
    bob: User,
    thirty_days: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    old = aged(with_prepared(make_job(alice)), 31)
    old_failed = aged(make_job(bob, status=JobStatus.FAILED), 45)
    young = aged(make_job(alice), 29.9)
    running = aged(make_job(alice, status=JobStatus.RUNNING), 40)
    gone_files = files_of(old) + files_of(old_failed)
    kept_files = files_of(young) + files_of(running)
    assert len(gone_files) == 5
    assert all(default_storage.exists(name) for name in gone_files + kept_files)

    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.delete_expired(timezone.now()) == 2

    assert set(Job.objects.values_list("pk", flat=True)) == {young.pk, running.pk}
    assert not Result.objects.filter(job_id=old.pk).exists()
    assert not any(default_storage.exists(name) for name in gone_files)
    assert not default_storage.exists(f"jobs/{alice.pk}/{old.pk}")
    assert all(default_storage.exists(name) for name in kept_files)


def test_forever_keeps_everything(alice: User, settings: SettingsWrapper) -> None:
    settings.RETENTION_DAYS = 0
    aged(make_job(alice), 3650)
    assert jobs.delete_expired(timezone.now()) == 0
    assert Job.objects.count() == 1


def test_deleting_goes_through_jobs_delete(
    alice: User, thirty_days: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jobs.delete is what gives the storage back to the owner's quota."""
    deleted: list[object] = []
    real = jobs.delete

    def spy(job: Job) -> int:
        deleted.append(job.pk)
        return real(job)

    monkeypatch.setattr(jobs, "delete", spy)
    old = aged(make_job(alice), 31)
    jobs.delete_expired(timezone.now())
    assert deleted == [old.pk]


def test_batches_are_bounded_and_a_run_has_a_ceiling(
    alice: User, thirty_days: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "RETENTION_BATCH", 2)
    monkeypatch.setattr(jobs, "RETENTION_MAX_PER_RUN", 4)
    for number in range(5):
        aged(make_job(alice), 31 + number)
    assert jobs.delete_expired(timezone.now()) == 4
    # Oldest first: the youngest of the old ones waits for the next run.
    assert Job.objects.get().created_at == NOW - dt.timedelta(days=31)
    assert jobs.delete_expired(timezone.now()) == 1
    assert not Job.objects.exists()


def test_a_job_that_cannot_be_deleted_does_not_stop_the_others(
    alice: User, thirty_days: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "RETENTION_BATCH", 2)
    stuck = aged(make_job(alice), 40)
    others = [aged(make_job(alice), 35 + number) for number in range(3)]
    real = jobs.delete

    def failing(job: Job) -> int:
        if job.pk == stuck.pk:
            raise OSError("storage is down")
        return real(job)

    monkeypatch.setattr(jobs, "delete", failing)
    assert jobs.delete_expired(timezone.now()) == 3
    assert list(Job.objects.values_list("pk", flat=True)) == [stuck.pk]
    assert all(not Job.objects.filter(pk=job.pk).exists() for job in others)


def test_the_task_runs_every_hour(thirty_days: SettingsWrapper) -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["delete-expired-jobs"]
    assert entry == {"task": "editor.tasks.delete_expired_jobs", "schedule": 3600.0}
    assert "editor.tasks.delete_expired_jobs" in app.tasks


def test_the_task_deletes_what_is_expired(alice: User, thirty_days: SettingsWrapper) -> None:
    aged(make_job(alice), 31)
    tasks.delete_expired_jobs.apply()
    assert not Job.objects.exists()


# --- What people are told ----------------------------------------------------------------------


def shown(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "DATE_FORMAT")


def test_the_gallery_and_job_page_say_how_long_results_are_kept(
    client: Client, alice: User, thirty_days: SettingsWrapper
) -> None:
    job = aged(make_job(alice), 2)
    until = job.created_at + dt.timedelta(days=30)
    client.force_login(alice)
    gallery = client.get(reverse("editor:gallery")).content.decode()
    assert "Results are kept for 30 days, then deleted with their photos." in gallery
    assert f"Kept until {shown(until)}" in gallery
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert f"Kept until {shown(until)}, then deleted with its photos and results." in page


def test_one_day_is_said_as_one_day(client: Client, alice: User, settings: SettingsWrapper) -> None:
    settings.RETENTION_DAYS = 1
    make_job(alice)
    client.force_login(alice)
    gallery = client.get(reverse("editor:gallery")).content.decode()
    assert "Results are kept for 1 day, then" in gallery


def test_nothing_is_said_when_results_are_kept_forever(
    client: Client, alice: User, settings: SettingsWrapper
) -> None:
    settings.RETENTION_DAYS = 0
    job = make_job(alice)
    client.force_login(alice)
    gallery = client.get(reverse("editor:gallery")).content.decode()
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    for content in (gallery, page):
        assert "Kept until" not in content
        assert "retention-note" not in content


def test_retention_gives_the_storage_back(
    alice: User,
    thirty_days: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    old = aged(make_job(alice), 31)
    young = aged(make_job(alice), 1)
    sizes = {
        job.pk: sum(default_storage.size(name) for name in files_of(job)) for job in (old, young)
    }
    # make_job writes its files directly; count them as the pipeline would have.
    quotas.add_storage(alice.pk, sum(sizes.values()))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.delete_expired(timezone.now()) == 1
    assert Quota.objects.get(user=alice).stored_bytes == sizes[young.pk]
