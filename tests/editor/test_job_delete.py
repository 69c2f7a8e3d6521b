"""Deleting a job: its rows go, then its files; a running job is canceled and refunded first;
jobs run again from it keep working."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts.models import Quota, User
from editor import jobs
from editor.models import Job, JobStatus, Result
from tests.factories import files_of, make_job, with_prepared

pytestmark = pytest.mark.django_db

CONFIRMED = {"confirmed": "1"}


def delete_url(job: Job) -> str:
    return reverse("editor:job_delete", args=[job.pk])


def test_deleting_removes_the_rows_and_every_file(
    client: Client,
    alice: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job = with_prepared(make_job(alice))
    job_id, names = job.pk, files_of(job)
    assert len(names) == 4
    assert all(default_storage.exists(name) for name in names)
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(delete_url(job), CONFIRMED, follow=True)
    assert response.redirect_chain == [(reverse("editor:gallery"), 302)]
    assert "“Colorize” job deleted, with its photos and results." in response.content.decode()
    assert not Job.objects.filter(pk=job_id).exists()
    assert not Result.objects.filter(job_id=job_id).exists()
    assert not any(default_storage.exists(name) for name in names)
    assert not default_storage.exists(f"jobs/{alice.pk}/{job_id}")  # nor its folder
    assert client.get(reverse("editor:job", args=[job_id])).status_code == 404


def test_delete_returns_the_bytes_it_frees(
    alice: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    job = with_prepared(make_job(alice))
    total = sum(default_storage.size(name) for name in files_of(job))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.delete(job) == total


def test_files_a_worker_left_in_the_jobs_folder_go_too(
    alice: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    job = make_job(alice)
    # Written by a worker that was still busy with the job when it was canceled.
    stray = default_storage.save(f"jobs/{alice.pk}/{job.pk}/thumb-1.jpg", ContentFile(b"x"))
    with django_capture_on_commit_callbacks(execute=True):
        jobs.delete(job)
    assert not default_storage.exists(stray)


def delete_then_fail(job: Job) -> None:
    """A delete in a transaction that something later in it makes roll back."""
    try:
        with transaction.atomic():
            jobs.delete(job)
            raise RuntimeError("a later step of the same transaction failed")
    except RuntimeError:
        pass


def test_a_rolled_back_delete_loses_nothing(
    alice: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    job = make_job(alice)
    job_id, names = job.pk, files_of(job)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        delete_then_fail(job)
    assert callbacks == []
    assert Job.objects.filter(pk=job_id).exists()
    assert Result.objects.filter(job_id=job_id).count() == 1
    assert all(default_storage.exists(name) for name in names)


def test_an_active_job_is_canceled_and_refunded_first(
    client: Client,
    alice: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job = make_job(alice, JobStatus.WAITING)
    quota = Quota.objects.get(user=alice)
    assert (quota.credits_this_month, quota.active_jobs, quota.jobs_today) == (1, 1, 1)
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(delete_url(job), CONFIRMED)
    assert not Job.objects.filter(pk=job.pk).exists()
    quota.refresh_from_db()
    assert (quota.credits_this_month, quota.active_jobs, quota.jobs_today) == (0, 0, 0)


def test_a_job_that_ended_keeps_its_charge(
    alice: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    job = make_job(alice)  # charged, then never released: a succeeded job is paid for
    before = Quota.objects.get(user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.delete(job)
    after = Quota.objects.get(user=alice)
    assert (after.credits_this_month, after.jobs_today) == (
        before.credits_this_month,
        before.jobs_today,
    )


def test_runs_made_again_from_a_deleted_job_survive(
    client: Client,
    alice: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    source = make_job(alice)
    rerun = make_job(alice)
    rerun.source_job = source
    rerun.save()
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(delete_url(source), CONFIRMED)
    rerun.refresh_from_db()
    assert rerun.source_job_id is None
    assert rerun.results.count() == 1
    assert all(default_storage.exists(name) for name in files_of(rerun))
    page = client.get(reverse("editor:job", args=[rerun.pk]))
    assert page.status_code == 200
    assert "earlier job" not in page.content.decode()


def test_another_person_gets_404_and_nothing_is_deleted(
    client: Client, alice: User, bob: User
) -> None:
    job = make_job(alice)
    client.force_login(bob)
    assert client.post(delete_url(job), CONFIRMED).status_code == 404
    assert Job.objects.filter(pk=job.pk).exists()


def test_delete_needs_login_and_post(client: Client, alice: User) -> None:
    job = make_job(alice)
    response = client.post(delete_url(job), CONFIRMED)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    client.force_login(alice)
    assert client.get(delete_url(job)).status_code == 405
    assert Job.objects.filter(pk=job.pk).exists()


def test_without_javascript_a_page_asks_first(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.RUNNING)
    client.force_login(alice)
    response = client.post(delete_url(job))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Delete the job?" in page
    assert "it will be canceled and its credits refunded" in page
    assert '<input type="hidden" name="confirmed" value="1">' in page
    assert f'action="{delete_url(job)}"' in page
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_the_job_page_offers_delete_with_a_confirmation(client: Client, alice: User) -> None:
    job = make_job(alice)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert f'hx-post="{delete_url(job)}"' in page
    assert 'hx-vals=\'{"confirmed": "1"}\'' in page
    assert 'hx-confirm="Delete this job for good, with your photos and its results?"' in page


def test_htmx_is_sent_to_the_gallery(
    client: Client,
    alice: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job = make_job(alice)
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(delete_url(job), CONFIRMED, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("editor:gallery")
    assert not Job.objects.filter(pk=job.pk).exists()
    gallery = client.get(reverse("editor:gallery")).content.decode()
    assert "“Colorize” job deleted" in gallery
