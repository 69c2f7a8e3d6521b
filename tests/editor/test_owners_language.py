"""What the studio words outside a request is in the language of the person it is for
(accounts.languages.for_user): a vendor's reason for a failed or waiting job, worded in the
worker, and the email when work ends."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail
from django.utils import timezone, translation

from accounts.models import User
from editor import notifications
from editor.models import EmailNotice, Job, JobStatus
from editor.vendors import picwish
from tests.factories import make_job_row
from tests.scripted import Run, Script

pytestmark = pytest.mark.django_db


def test_a_vendors_reason_is_worded_in_the_owners_language(
    alice: User, submit: Run, step: Callable[[], Job], script: Script
) -> None:
    User.objects.filter(pk=alice.pk).update(language="es")
    # The adapter words its error while the worker runs the step, as a real one does.
    script.outcomes = [lambda: picwish._status_error(401, "", polling=False)]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.FAILED
    with translation.override("es"):
        expected = picwish._status_error(401, "", polling=False).message
    assert job.error_message == expected
    assert job.error_message.startswith("PicWish no aceptó la clave de API")


def test_a_passing_trouble_is_worded_in_the_owners_language_while_the_job_waits(
    alice: User, submit: Run, step: Callable[[], Job], script: Script
) -> None:
    User.objects.filter(pk=alice.pk).update(language="zh-hans")
    script.outcomes = [lambda: picwish._status_error(503, "", polling=False)]
    submit()
    step()
    job = step()
    assert job.status == JobStatus.RUNNING  # it will try again
    with translation.override("zh-hans"):
        expected = picwish._status_error(503, "", polling=False).message
    assert job.error_message == expected
    assert "服务器" in job.error_message


def test_an_email_is_in_its_readers_language(alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(language="es", email_when_done=True)
    job = make_job_row(alice, JobStatus.FAILED)
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now())
    notice = EmailNotice.objects.create(owner=alice, job=job)
    before = translation.get_language()
    notifications.send(str(notice.pk))
    [email] = mail.outbox
    assert email.subject == "Tu trabajo de Colorear no se completó"
    assert email.body.startswith("Hola, alice:")
    assert "Míralo en el estudio:" in email.body
    # The worker's own language is left as it was.
    assert translation.get_language() == before
