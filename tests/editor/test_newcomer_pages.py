"""Issue 21, item 7: the rough edges a newcomer met, as the server renders them (the browser
side is tests/browser/test_newcomer.py)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import jobs
from editor.models import Job, JobStatus
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_head_on_the_home_page_is_answered_like_get(client: Client) -> None:
    response = client.head("/")
    assert response.status_code == 200
    assert response.content == b""


def test_breadcrumbs_end_with_the_last_link_not_a_separator(client: Client, alice: User) -> None:
    job = make_job(alice)
    client.force_login(alice)
    for url in (
        reverse("editor:job", args=[job.pk]),
        reverse("editor:operation", args=["colorize"]),
    ):
        page = client.get(url).content.decode()
        crumbs = re.search(r'<nav class="crumbs"[^>]*>(.*?)</nav>', page, re.S)
        assert crumbs, url
        text = re.sub(r"<[^>]+>", " ", crumbs.group(1)).split()
        assert text[0] == "Studio"
        assert "/" not in text, text


def test_the_sign_in_field_offers_usernames(client: Client) -> None:
    page = client.get(reverse("account_login")).content.decode()
    field = re.search(r'<input[^>]*name="login"[^>]*>', page)
    assert field, page
    assert 'autocomplete="username"' in field.group(0)


def test_a_canceled_job_says_its_credits_were_given_back(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.QUEUED)
    client.force_login(alice)
    client.post(reverse("editor:job_cancel", args=[job.pk]))
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert "Canceled: the 1 credit it was charged was given back." in page


def test_out_of_credits_offers_the_balance_and_another_key_before_retry(
    client: Client, alice: User
) -> None:
    job = make_job(alice, JobStatus.FAILED)
    Job.objects.filter(pk=job.pk).update(error_code="ERROR_NOT_ENOUGH_CREDITS")
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    actions = page[page.index('class="job-actions"') :]
    balance = actions.index("Check the key's balance")
    other = actions.index("Choose another key")
    retry = actions.index(">Retry<")
    assert balance < other < retry
    assert re.search(r'class="button button--primary" href="/vault/"', actions)
    assert 'class="button button--secondary">Retry<' in actions


def test_another_failure_keeps_retry_as_the_main_button(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.FAILED)
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    assert 'class="button button--primary">Retry<' in page
    assert "Check the key" not in page


def test_a_retrying_job_shows_its_attempt_and_the_next_try(client: Client, alice: User) -> None:
    job = make_job(alice, JobStatus.QUEUED)
    Job.objects.filter(pk=job.pk).update(
        attempts=2,
        error_code="http_503",
        error_message="PicWish had a server error (HTTP 503).",
        due_at=timezone.now() + dt.timedelta(seconds=30),
        deadline=timezone.now() + dt.timedelta(minutes=19, seconds=30),
    )
    job.refresh_from_db()
    client.force_login(alice)
    page = client.get(reverse("editor:job", args=[job.pk])).content.decode()
    line = re.search(r'id="job-retrying">(.*?) · <span id="job-gives-up">(.*?)</span>', page, re.S)
    assert line
    assert re.fullmatch(r"Attempt 3 · next try in about (29|30) seconds", line.group(1).strip())
    # When it gives up: the deadline, as a time a person reads and a machine parses.
    at = timezone.localtime(job.deadline)
    assert line.group(2) == (
        f'gives up at <time datetime="{at.isoformat()}">{at:%H:%M}</time> (in about 20 min)'
    )


def test_retrying_says_which_try_and_when(alice: User) -> None:
    job = make_job(alice, JobStatus.RUNNING)
    now = timezone.now()
    job.deadline = now + dt.timedelta(minutes=14, seconds=10)
    assert jobs.retrying(job, now) is None  # no failed try yet
    job.attempts, job.error_code, job.due_at = 1, "http_503", now + dt.timedelta(seconds=4.2)
    assert jobs.retrying(job, now) == jobs.Retrying(
        attempt=2,
        next_try_in=5,
        next_try_at=job.due_at,
        gives_up_at=job.deadline,
        gives_up_in_minutes=15,
    )
    job.due_at = now - dt.timedelta(seconds=1)
    assert jobs.retrying(job, now) == jobs.Retrying(
        attempt=2,
        next_try_in=None,
        next_try_at=None,
        gives_up_at=job.deadline,
        gives_up_in_minutes=15,
    )
    job.status = JobStatus.FAILED
    assert jobs.retrying(job, now) is None


def test_gives_up_at_is_the_deadline_or_after_a_last_step_for_paid_work(
    alice: User, settings: SettingsWrapper
) -> None:
    """A job with nothing paid for gives up at its deadline; one whose vendor task exists
    gets its last step after it, within JOB_LAST_POLL_SECONDS."""
    settings.JOB_LAST_POLL_SECONDS = 90
    job = make_job(alice, JobStatus.RUNNING)
    job.vendor_ref = ""
    assert jobs.gives_up_at(job) == job.deadline
    job.vendor_ref = "task-1"
    assert jobs.gives_up_at(job) == job.deadline + dt.timedelta(seconds=90)
    job.status = JobStatus.STORING
    assert jobs.gives_up_at(job) == job.deadline + dt.timedelta(seconds=90)


def test_out_of_credits_is_only_a_failure_with_that_code(alice: User) -> None:
    job = make_job(alice, JobStatus.FAILED)
    assert not jobs.out_of_credits(job)
    job.error_code = "ERROR_NOT_ENOUGH_CREDITS"
    assert jobs.out_of_credits(job)
    job.status = JobStatus.RUNNING
    assert not jobs.out_of_credits(job)
