"""Emails when work ends (editor.notifications): who gets one, exactly once, what it says, and
what happens when the mail server refuses."""

from __future__ import annotations

import datetime as dt
import smtplib
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import jobs, notifications, recipes
from editor.models import (
    Batch,
    EmailNotice,
    Job,
    JobStatus,
    NoticeStatus,
    RecipeBatch,
    RecipeRun,
    RecipeStepRun,
)
from tests.broker import SentTasks
from tests.factories import make_admin, make_job_row

pytestmark = pytest.mark.django_db

TASK = notifications.NOTICE_TASK


@pytest.fixture
def opted_in(alice: User) -> User:
    alice.email_when_done = True
    alice.save()
    return alice


def ended(job: Job, status: str = JobStatus.SUCCEEDED, *, took: float = 90.0) -> Job:
    """The job ended ``took`` seconds after it was made, and its end announced."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=status, created_at=now - dt.timedelta(seconds=took), finished_at=now
    )
    notifications.job_ended(sender=Job, job_id=str(job.pk), status=status)
    job.refresh_from_db()
    return job


def deliver(sent: SentTasks) -> None:
    """Run every notice message sent so far, as the io worker would."""
    messages, sent.args[TASK] = sent.args[TASK], []
    for (notice_id,) in messages:
        notifications.send(notice_id)


def test_a_long_job_sends_one_email_with_its_link(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job = make_job_row(opted_in, JobStatus.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        ended(job)
    deliver(sent_tasks)
    [email] = mail.outbox
    assert email.to == ["alice@example.com"]
    assert email.subject == "Your Colorize job is done"
    assert f"http://127.0.0.1:8000{reverse('editor:job', args=[job.pk])}" in email.body
    assert reverse("editor:notifications") in email.body
    notice = EmailNotice.objects.get()
    assert (notice.status, notice.attempts, notice.job_id) == (NoticeStatus.SENT, 1, job.pk)
    # The message again (a duplicate from the broker): nothing more.
    notifications.send(str(notice.pk))
    assert len(mail.outbox) == 1


def test_a_failed_job_says_what_happened(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job = make_job_row(opted_in, JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(error_message="PicWish could not read this image.")
    with django_capture_on_commit_callbacks(execute=True):
        ended(job, JobStatus.FAILED)
    deliver(sent_tasks)
    [email] = mail.outbox
    assert email.subject == "Your Colorize job did not succeed"
    assert "PicWish could not read this image." in email.body


@pytest.mark.parametrize(
    ("opt_in", "status", "took"),
    [
        (False, JobStatus.SUCCEEDED, 600.0),  # not asked for
        (True, JobStatus.SUCCEEDED, 20.0),  # quick: the person is still looking
        (True, JobStatus.CANCELED, 600.0),  # they canceled it themselves
    ],
)
def test_no_email_unless_asked_for_and_worth_it(
    alice: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    opt_in: bool,
    status: str,
    took: float,
) -> None:
    alice.email_when_done = opt_in
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        ended(make_job_row(alice, JobStatus.RUNNING), status, took=took)
    assert not EmailNotice.objects.exists()
    assert not sent_tasks.args[TASK]


def test_no_email_without_an_address(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    User.objects.filter(pk=opted_in.pk).update(email="")
    with django_capture_on_commit_callbacks(execute=True):
        ended(make_job_row(opted_in, JobStatus.RUNNING))
    assert not EmailNotice.objects.exists()


def batch_of(owner: User, count: int) -> tuple[Batch, list[Job]]:
    batch = Batch.objects.create(owner=owner, operation="colorize")
    made = []
    for _ in range(count):
        job = make_job_row(owner, JobStatus.RUNNING)
        Job.objects.filter(pk=job.pk).update(batch=batch)
        made.append(job)
    return batch, made


def test_a_batch_sends_one_email_when_its_last_job_ends(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    batch, (first, second, third) = batch_of(opted_in, 3)
    with django_capture_on_commit_callbacks(execute=True):
        ended(first, took=1.0)
        ended(second, JobStatus.FAILED, took=1.0)
        assert not EmailNotice.objects.exists()  # one is still running
        ended(third, took=1.0)
        # Two ends announced after the last (a retried job, a duplicate): still one email.
        notifications.job_ended(sender=Job, job_id=str(third.pk), status=JobStatus.SUCCEEDED)
        notifications.job_ended(sender=Job, job_id=str(first.pk), status=JobStatus.SUCCEEDED)
    deliver(sent_tasks)
    [email] = mail.outbox
    assert email.subject == "Your Colorize batch of 3 photos has ended"
    assert "Succeeded: 2. Failed: 1. Canceled: 0." in email.body
    assert reverse("editor:batch", args=[batch.pk]) in email.body
    batch.refresh_from_db()
    assert batch.notified_at is not None


def test_a_batch_canceled_whole_sends_nothing(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    _batch, made = batch_of(opted_in, 2)
    with django_capture_on_commit_callbacks(execute=True):
        for job in made:
            ended(job, JobStatus.CANCELED)
    assert not EmailNotice.objects.exists()


class RefusingBackend:
    """An email backend whose server says no, with the reply an SMTP server gives."""

    def __init__(self, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: list[Any]) -> int:
        raise smtplib.SMTPRecipientsRefused({"alice@example.com": (550, b"mailbox unavailable")})


def test_a_refused_email_is_tried_again_later_then_shown_failed_to_an_admin(
    opted_in: User,
    sent_tasks: SentTasks,
    settings: SettingsWrapper,
    client: Client,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    settings.NOTICE_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=True):
        ended(make_job_row(opted_in, JobStatus.RUNNING))
    deliver(sent_tasks)
    notice = EmailNotice.objects.get()
    assert (notice.status, notice.attempts) == (NoticeStatus.PENDING, 1)
    assert "SMTPRecipientsRefused" in notice.last_error
    # Tried again after a wait, on a message of its own; early, the message does nothing.
    assert sent_tasks.options[TASK][-1]["countdown"] == notifications.RETRY_BASE_SECONDS
    deliver(sent_tasks)
    notice.refresh_from_db()
    assert notice.attempts == 1
    for attempt in (2, 3):
        EmailNotice.objects.filter(pk=notice.pk).update(due_at=timezone.now())
        notifications.send(str(notice.pk))
        notice.refresh_from_db()
        assert notice.attempts == attempt
    assert notice.status == NoticeStatus.FAILED
    client.force_login(make_admin())
    page = client.get(reverse("admin:editor_emailnotice_changelist"), {"status": "failed"})
    assert "SMTPRecipientsRefused" in page.content.decode()
    # The admin's "try again" starts it over.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:editor_emailnotice_changelist"),
            {"action": "send_again", "_selected_action": [str(notice.pk)]},
        )
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    deliver(sent_tasks)
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, len(mail.outbox)) == (NoticeStatus.SENT, 1, 1)


def test_the_sweeper_sends_a_notice_whose_message_was_lost(
    opted_in: User, sent_tasks: SentTasks
) -> None:
    job = make_job_row(opted_in, JobStatus.SUCCEEDED)
    notice = EmailNotice.objects.create(
        owner=opted_in, job=job, due_at=timezone.now() - 2 * notifications.LOST_AFTER
    )
    fresh = EmailNotice.objects.create(owner=opted_in, job=job)
    assert notifications.resend_lost() == 1
    assert sent_tasks.args[TASK] == [(str(notice.pk),)]
    deliver(sent_tasks)
    assert len(mail.outbox) == 1
    fresh.refresh_from_db()
    assert fresh.status == NoticeStatus.PENDING


def test_a_job_ended_through_the_pipeline_is_announced_to_the_receiver(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """The receiver is connected: ending a job for real (jobs.end) writes the notice."""
    job = make_job_row(opted_in, JobStatus.RUNNING)
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    job.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.end(job, JobStatus.SUCCEEDED, progress=100)
    assert EmailNotice.objects.filter(job=job).count() == 1


def test_the_account_page_turns_the_emails_on_and_off(alice: User, client: Client) -> None:
    url = reverse("editor:notifications")
    assert client.get(url).status_code == 302  # signed in only
    client.force_login(alice)
    page = client.get(url).content.decode()
    assert "alice@example.com" in page
    assert 'name="email_when_done"' in page
    response = client.post(url, {"email_when_done": "on"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.email_when_done
    client.post(url, {})
    alice.refresh_from_db()
    assert not alice.email_when_done
    # Linked from the account pages' side menu.
    assert url in client.get(reverse("api_tokens")).content.decode()


def recipe_run_of(owner: User, steps: int) -> list[Job]:
    """A run of a recipe of ``steps`` colorize steps, each step's job made and under way."""
    recipe = recipes.save(owner=owner, name="Twice", steps=[{"operation": "colorize"}] * steps)
    run = RecipeRun.objects.create(owner=owner, recipe=recipe, name=recipe.name, steps=recipe.steps)
    made = []
    for index in range(steps):
        job = make_job_row(owner, JobStatus.RUNNING)
        RecipeStepRun.objects.create(run=run, index=index, job=job)
        made.append(job)
    return made


def test_a_recipe_run_sends_one_email_when_its_last_step_is_done(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    first, last = recipe_run_of(opted_in, 2)
    with django_capture_on_commit_callbacks(execute=True):
        ended(first, took=600)  # a long step of a run: no email of its own
        assert not EmailNotice.objects.exists()
        ended(last, took=1)
        ended(last, took=1)  # announced again: still one
    deliver(sent_tasks)
    [email] = mail.outbox
    assert email.subject == "Your recipe “Twice” is done"
    run = RecipeStepRun.objects.get(job=last).run
    assert reverse("editor:recipe_run", args=[run.pk]) in email.body


def test_a_recipe_run_that_stops_at_a_failed_step_says_why(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    first, _second = recipe_run_of(opted_in, 2)
    Job.objects.filter(pk=first.pk).update(error_message="PicWish could not read this image.")
    with django_capture_on_commit_callbacks(execute=True):
        ended(first, JobStatus.FAILED, took=1)
    deliver(sent_tasks)
    [email] = mail.outbox
    assert email.subject == "Your recipe “Twice” stopped before its end"
    assert "PicWish could not read this image." in email.body


def test_a_recipe_run_whose_next_step_could_not_start_says_why(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    [first] = recipe_run_of(opted_in, 1)
    run = RecipeStepRun.objects.get(job=first).run
    run.steps = run.steps * 2
    run.save()
    # What editor.recipes.job_ended leaves when the second step cannot start; it runs first.
    RecipeStepRun.objects.create(run=run, index=1, error="You have used this month's jobs.")
    with django_capture_on_commit_callbacks(execute=True):
        ended(first, took=1)
    deliver(sent_tasks)
    [email] = mail.outbox
    assert email.subject == "Your recipe “Twice” stopped before its end"
    assert "You have used this month's jobs." in email.body


def test_a_recipe_batch_sends_one_email_when_its_last_photo_ends(
    opted_in: User,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    recipe = recipes.save(owner=opted_in, name="Old photos", steps=[{"operation": "colorize"}])
    batch = RecipeBatch.objects.create(owner=opted_in, recipe=recipe, name=recipe.name)
    made = []
    for _photo in range(3):
        run = RecipeRun.objects.create(
            owner=opted_in, recipe=recipe, name=recipe.name, steps=recipe.steps, batch=batch
        )
        job = make_job_row(opted_in, JobStatus.RUNNING)
        RecipeStepRun.objects.create(run=run, index=0, job=job)
        made.append(job)
    Job.objects.filter(pk=made[1].pk).update(error_message="Too dark.")
    with django_capture_on_commit_callbacks(execute=True):
        ended(made[0], took=1)
        ended(made[1], JobStatus.FAILED, took=1)
        assert not EmailNotice.objects.exists()  # a photo is still under way
        ended(made[2], took=1)
        ended(made[2], took=1)  # announced again: still one
    deliver(sent_tasks)
    [email] = mail.outbox
    assert email.subject == "Your recipe “Old photos” on 3 photos has ended"
    assert "Succeeded: 2. Failed: 1." in email.body
    assert reverse("editor:recipe_batch", args=[batch.pk]) in email.body
