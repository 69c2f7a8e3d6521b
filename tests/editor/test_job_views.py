from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import quotas
from accounts.models import Quota, User
from editor import pipeline
from editor.models import Job, JobStatus
from tests.factories import RESULT, make_job

pytestmark = pytest.mark.django_db


def urls_of(job: Job) -> list[str]:
    urls = [
        reverse("editor:job", args=[job.pk]),
        reverse("editor:job_input", args=[job.pk, "image"]),
    ]
    for result in job.results.all():
        urls += [
            reverse("editor:result_file", args=[job.pk, result.pk]),
            reverse("editor:result_thumbnail", args=[job.pk, result.pk]),
        ]
    return urls


def test_the_owner_sees_the_job_with_before_and_after(client: Client, alice: User) -> None:
    job = make_job(alice)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    result = job.results.get()
    assert reverse("editor:result_file", args=[job.pk, result.pk]) in page
    assert reverse("editor:job_input", args=[job.pk, "image"]) in page
    assert "hx-trigger" not in page  # an ended job is not polled


def test_an_active_job_polls_its_status_fragment(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.WAITING)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in page
    fragment = client.get(reverse("editor:job", args=[job.pk]), headers={"HX-Request": "true"})
    content = fragment.content.decode()
    assert "<html" not in content
    assert 'id="job-status"' in content


def test_a_waiting_job_says_when_it_should_be_done(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.WAITING)
    Job.objects.filter(pk=job.pk).update(
        provider="picwish",
        operation="colorize",
        submitted_at=timezone.now() - dt.timedelta(seconds=2),
        vendor_seconds=30.0,
    )
    client.force_login(alice)
    fragment = client.get(reverse("editor:job", args=[job.pk]), headers={"HX-Request": "true"})
    assert re.search(r"about (2[789]|28) seconds left", fragment.content.decode())

    Job.objects.filter(pk=job.pk).update(vendor_seconds=1.0)
    fragment = client.get(reverse("editor:job", args=[job.pk]), headers={"HX-Request": "true"})
    assert "done any moment now" in fragment.content.decode()


def test_with_nothing_to_go_by_no_estimate_is_shown(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.WAITING)
    client.force_login(alice)
    fragment = client.get(reverse("editor:job", args=[job.pk]), headers={"HX-Request": "true"})
    assert "left" not in fragment.content.decode()
    assert "any moment" not in fragment.content.decode()


def test_result_bytes_are_served_unchanged_and_safely(client: Client, alice: User) -> None:
    job = make_job(alice)
    client.force_login(alice)
    result = job.results.get()
    response = client.get(reverse("editor:result_file", args=[job.pk, result.pk]))
    assert response.status_code == 200
    assert response.getvalue() == RESULT
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "private" in response["Cache-Control"]


def test_every_job_url_needs_login(client: Client, alice: User) -> None:
    job = make_job(alice)
    for url in urls_of(job):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login"))


def test_another_user_gets_404_for_every_job_url(client: Client, alice: User, bob: User) -> None:
    job = make_job(alice)
    client.force_login(bob)
    for url in urls_of(job):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("editor:job_cancel", args=[job.pk])).status_code == 404
    assert client.post(reverse("editor:job_retry", args=[job.pk])).status_code == 404


def test_cancel_stops_an_active_job_and_refunds(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.WAITING)
    client.force_login(alice)
    response = client.post(reverse("editor:job_cancel", args=[job.pk]), follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert "credits were refunded" in response.content.decode()
    assert Quota.objects.get(user=alice).credits_this_month == 0


def test_cancel_and_retry_need_post(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.FAILED)
    client.force_login(alice)
    assert client.get(reverse("editor:job_cancel", args=[job.pk])).status_code == 405
    assert client.get(reverse("editor:job_retry", args=[job.pk])).status_code == 405


def test_a_failed_job_shows_why_and_retries_in_one_click(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.FAILED)
    quotas.release(alice.pk, 1, job.charged_on, refund=True)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert "PicWish could not read this image." in page
    assert reverse("editor:job_retry", args=[job.pk]) in page
    client.post(reverse("editor:job_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.error_message == ""


def test_the_studio_lists_recent_jobs_with_thumbnails(
    client: Client, alice: User, bob: User
) -> None:
    mine = make_job(alice)
    theirs = make_job(bob)
    client.force_login(alice)
    page = client.get(reverse("editor:studio")).content.decode()
    assert reverse("editor:job", args=[mine.pk]) in page
    assert reverse("editor:job", args=[theirs.pk]) not in page


def test_retry_warns_when_the_vendor_may_have_charged_the_failed_run(
    client: Client, alice: User
) -> None:
    warning = "the vendor may charge again"
    plain = make_job(alice, JobStatus.FAILED)
    unreadable = make_job(alice, JobStatus.FAILED)
    Job.objects.filter(pk=unreadable.pk).update(
        error_code=pipeline.UNREADABLE_ANSWER,
        error_message="The vendor answered but the answer was unreadable; it may have charged you.",
    )
    client.force_login(alice)
    assert warning not in client.get(reverse("editor:job", args=[plain.pk])).content.decode()
    page = client.get(reverse("editor:job", args=[unreadable.pk])).content.decode()
    assert "it may have charged you" in page
    assert warning in page
    assert 'aria-describedby="retry-warning"' in page
