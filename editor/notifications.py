"""Emails that tell a person their work has ended, for those who asked (``User.email_when_done``,
on the account page): a batch once its last job has ended, a recipe run once its chain ends
(its last step done, or a step that did not succeed), and a single job that took longer than
``NOTIFY_AFTER_SECONDS``. A job the person canceled, or a batch they canceled whole, sends
nothing: they know.

Decided in the receiver of ``editor.signals.job_ended`` (after the job's transaction), written
down as an ``EmailNotice`` and sent by a task (``editor.tasks.send_notice``) on the io queue, so
a slow mail server never holds up a job. A batch is decided once: its ``notified_at`` is set by
a conditional UPDATE, so two last jobs ending at once make one email. A send that fails is
tried again with growing waits (``NOTICE_MAX_ATTEMPTS`` in all) and then stays ``failed``, with
the mail server's answer, for an admin to see; the sweeper re-sends a notice whose message was
lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import uuid
from collections import Counter
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import languages
from editor import operations, recipes
from editor.models import (
    UNFINISHED_STATUSES,
    Batch,
    EmailNotice,
    Job,
    JobStatus,
    NoticeStatus,
    RecipeBatch,
    RecipeRun,
    RecipeStepRun,
)

logger = logging.getLogger(__name__)

NOTICE_TASK = "editor.tasks.send_notice"
# A pending notice whose next try is this overdue lost its message: the sweeper sends it again.
LOST_AFTER = dt.timedelta(minutes=5)
# The first retry waits this long; each one after it twice as long.
RETRY_BASE_SECONDS = 60.0


# --- Deciding ----------------------------------------------------------------------------------


def job_ended(sender: Any, job_id: str, status: str, **kwargs: Any) -> None:
    """editor.signals.job_ended receiver: write down the email this end calls for, if any."""
    job = Job.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or not job.owner.email_when_done or not job.owner.email:
        return
    step = RecipeStepRun.objects.select_related("run").filter(job_id=job.pk).first()
    if step is not None:
        # A recipe's step: one email for the run, when its chain ends, not one per step.
        _run_may_have_ended(job, step, status)
    elif job.batch_id is not None:
        _batch_may_have_ended(job, job.batch_id)
    elif status != JobStatus.CANCELED and _took_long(job):
        _write(EmailNotice(owner=job.owner, job=job))


def _took_long(job: Job) -> bool:
    if job.finished_at is None:
        return False
    taken = (job.finished_at - job.created_at).total_seconds()
    return taken >= settings.NOTIFY_AFTER_SECONDS


def _batch_may_have_ended(job: Job, batch_id: uuid.UUID) -> None:
    if Job.objects.filter(batch_id=batch_id, status__in=UNFINISHED_STATUSES).exists():
        return
    if not Batch.objects.filter(pk=batch_id, notified_at__isnull=True).update(
        notified_at=timezone.now()
    ):
        return  # another job's end decided it already
    statuses = set(Job.objects.filter(batch_id=batch_id).values_list("status", flat=True))
    if statuses <= {JobStatus.CANCELED}:
        return
    _write(EmailNotice(owner=job.owner, batch_id=batch_id))


def _run_may_have_ended(job: Job, step: RecipeStepRun, status: str) -> None:
    """A recipe run ends at its last step's success, or where a step did not succeed (the chain
    stops there). Decided once: a step retried later does not make a second email."""
    last = step.index >= len(step.run.steps) - 1
    if status == JobStatus.SUCCEEDED and not last and not _next_step_blocked(step):
        return  # the next step started (editor.recipes, whose receiver runs first)
    if status == JobStatus.CANCELED:
        return
    if not RecipeRun.objects.filter(pk=step.run_id, notified_at__isnull=True).update(
        notified_at=timezone.now()
    ):
        return
    batch_id = step.run.batch_id
    if batch_id is not None:
        # A photo of a recipe's batch: one email for the batch, when the last photo's run
        # ends. Each run marks its own end first, then looks at the others': of two ending at
        # once, at least the second sees both, and the batch's own mark makes one email.
        if RecipeRun.objects.filter(batch_id=batch_id, notified_at__isnull=True).exists():
            return
        if not RecipeBatch.objects.filter(pk=batch_id, notified_at__isnull=True).update(
            notified_at=timezone.now()
        ):
            return
    _write(EmailNotice(owner=job.owner, recipe_run_id=step.run_id, job=job))


def _next_step_blocked(step: RecipeStepRun) -> bool:
    """The step after ``step`` could not start (a quota, a key gone): the chain ends here."""
    return (
        RecipeStepRun.objects.filter(run_id=step.run_id, index=step.index + 1, job__isnull=True)
        .exclude(error="")
        .exists()
    )


def _write(notice: EmailNotice) -> None:
    with transaction.atomic():
        notice.save()
        notice_id = str(notice.pk)
        transaction.on_commit(lambda: _send_task(notice_id))


def _send_task(notice_id: str, countdown: float = 0.0) -> None:
    try:
        current_app.send_task(NOTICE_TASK, (notice_id,), countdown=countdown)
    except Exception as error:  # the broker is down: the notice is saved; the sweeper sends it
        logger.warning("notice %s: the broker did not take it (%s)", notice_id, error)


# --- Sending -----------------------------------------------------------------------------------


def send(notice_id: str) -> None:
    """Try to send one notice (the task). A duplicate or stale message does nothing: the try
    is claimed by moving ``due_at`` on, which only one message can do."""
    now = timezone.now()
    notice = (
        EmailNotice.objects.select_related("owner", "job", "batch", "recipe_run")
        .filter(pk=notice_id, status=NoticeStatus.PENDING, due_at__lte=now)
        .first()
    )
    if notice is None:
        return
    claimed = EmailNotice.objects.filter(
        pk=notice.pk, status=NoticeStatus.PENDING, attempts=notice.attempts
    ).update(attempts=F("attempts") + 1, due_at=now + LOST_AFTER)
    if not claimed:
        return
    notice.attempts += 1
    try:
        message(notice).send()
    except (smtplib.SMTPException, OSError) as error:
        _failed(notice, error)
        return
    EmailNotice.objects.filter(pk=notice.pk).update(
        status=NoticeStatus.SENT, sent_at=timezone.now(), last_error=""
    )


def _failed(notice: EmailNotice, error: Exception) -> None:
    reason = f"{type(error).__name__}: {error}"[:300]
    if notice.attempts >= settings.NOTICE_MAX_ATTEMPTS:
        logger.warning("notice %s: not sent after %d tries: %s", notice.pk, notice.attempts, reason)
        EmailNotice.objects.filter(pk=notice.pk).update(
            status=NoticeStatus.FAILED, last_error=reason
        )
        return
    wait = RETRY_BASE_SECONDS * 2 ** (notice.attempts - 1)
    logger.info(
        "notice %s: try %d failed (%s); again in %.0f s", notice.pk, notice.attempts, reason, wait
    )
    EmailNotice.objects.filter(pk=notice.pk).update(
        last_error=reason, due_at=timezone.now() + dt.timedelta(seconds=wait)
    )
    _send_task(str(notice.pk), countdown=wait)


def resend_lost(now: dt.datetime | None = None) -> int:
    """The sweeper's safety net: send again every pending notice whose try is long overdue
    (its message was lost, or its worker died mid-send). Returns how many."""
    now = now or timezone.now()
    lost = list(
        EmailNotice.objects.filter(
            status=NoticeStatus.PENDING, due_at__lt=now - LOST_AFTER
        ).values_list("pk", flat=True)[:500]
    )
    for notice_id in lost:
        EmailNotice.objects.filter(pk=notice_id, status=NoticeStatus.PENDING).update(due_at=now)
        _send_task(str(notice_id))
    return len(lost)


def send_again(notices: QuerySet[EmailNotice]) -> int:
    """An admin's "try again": the chosen notices start over, with every try before them."""
    ids = [str(pk) for pk in notices.values_list("pk", flat=True)]
    EmailNotice.objects.filter(pk__in=ids).update(
        status=NoticeStatus.PENDING, attempts=0, due_at=timezone.now(), last_error=""
    )
    transaction.on_commit(lambda: _send_all(ids))
    return len(ids)


def _send_all(ids: list[str]) -> None:
    for notice_id in ids:
        _send_task(notice_id)


# --- Writing -----------------------------------------------------------------------------------


def message(notice: EmailNotice) -> EmailMessage:
    """The email itself, in its reader's language: what ended, how it went, and links back."""
    with languages.speaking_to(notice.owner):
        return _message(notice)


def _message(notice: EmailNotice) -> EmailMessage:
    if notice.recipe_run is not None and notice.recipe_run.batch is not None:
        subject, context = _about_recipe_batch(notice.recipe_run.batch)
    elif notice.recipe_run is not None:
        subject, context = _about_run(notice.recipe_run)
    elif notice.batch is not None:
        subject, context = _about_batch(notice.batch)
    elif notice.job is not None:
        subject, context = _about_job(notice.job)
    else:  # what it was about was deleted meanwhile
        subject, context = _("Your work in the studio has ended"), {}
    context |= {
        "name": notice.owner.get_username(),
        "gallery_url": _link(reverse("editor:gallery")),
        "account_url": _link(reverse("editor:notifications")),
    }
    body = render_to_string("editor/email/work_ended.txt", context)
    return EmailMessage(subject, body, to=[notice.owner.email])


def _about_batch(batch: Batch) -> tuple[str, dict[str, Any]]:
    counts = Counter(batch.jobs.values_list("status", flat=True))
    total = sum(counts.values())
    label = _operation_label(batch.operation)
    subject = ngettext(
        "Your %(operation)s batch of %(count)d photo has ended",
        "Your %(operation)s batch of %(count)d photos has ended",
        total,
    ) % {"operation": label, "count": total}
    return subject, {
        "what": subject,
        "succeeded": counts[JobStatus.SUCCEEDED],
        "failed": counts[JobStatus.FAILED],
        "canceled": counts[JobStatus.CANCELED],
        "url": _link(reverse("editor:batch", args=[batch.pk])),
    }


def _about_run(run: RecipeRun) -> tuple[str, dict[str, Any]]:
    # The step that stopped the chain: a failed or canceled job, or one that could not start.
    stopped = next((step for step in recipes.states(run) if step.can_retry), None)
    if stopped is None:
        subject = _("Your recipe “%(name)s” is done") % {"name": run.name}
    else:
        subject = _("Your recipe “%(name)s” stopped before its end") % {"name": run.name}
    return subject, {
        "what": subject,
        "error": stopped.reason if stopped is not None else "",
        "url": _link(reverse("editor:recipe_run", args=[run.pk])),
    }


def _about_recipe_batch(batch: RecipeBatch) -> tuple[str, dict[str, Any]]:
    states = Counter(recipes.status(run) for run in batch.runs.all())
    total = sum(states.values())
    subject = ngettext(
        "Your recipe “%(name)s” on %(count)d photo has ended",
        "Your recipe “%(name)s” on %(count)d photos has ended",
        total,
    ) % {"name": batch.name, "count": total}
    return subject, {
        "what": subject,
        "succeeded": states["succeeded"],
        "failed": states["stopped"],
        "canceled": 0,
        "url": _link(reverse("editor:recipe_batch", args=[batch.pk])),
    }


def _about_job(job: Job) -> tuple[str, dict[str, Any]]:
    label = _operation_label(job.operation)
    if job.status == JobStatus.SUCCEEDED:
        subject = _("Your %(operation)s job is done") % {"operation": label}
    else:
        subject = _("Your %(operation)s job did not succeed") % {"operation": label}
    return subject, {
        "what": subject,
        "error": job.error_message if job.status == JobStatus.FAILED else "",
        "url": _link(reverse("editor:job", args=[job.pk])),
    }


def _operation_label(slug: str) -> str:
    try:
        return str(operations.get(slug).label)
    except KeyError:
        return slug


def _link(path: str) -> str:
    return f"{settings.SITE_URL}{path}"
