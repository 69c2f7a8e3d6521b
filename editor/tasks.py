"""Thin Celery tasks: they take ids and call the domain. Nothing in the product imports this
module: messages are sent by task name (editor.jobs.ring, editor.credits.request_check), and
beat names the periodic ones (config/settings.py), so there is no import circle through here.
"""

from __future__ import annotations

import datetime as dt

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from editor import credits, health, jobs, keycheck, notifications, pipeline, reconcile
from editor.models import Draft


@shared_task(name="editor.tasks.advance", ignore_result=True)
def advance(job_id: str, dispatch: int) -> None:
    """Do the next step of a job (the sender picks the queue: ``cpu`` or ``io``)."""
    pipeline.advance(job_id, dispatch)


@shared_task(name="editor.tasks.sweep", ignore_result=True)
def sweep() -> None:
    pipeline.sweep()
    notifications.resend_lost()
    Draft.purge(timezone.now() - dt.timedelta(seconds=settings.DRAFT_MAX_AGE_SECONDS))


@shared_task(name="editor.tasks.check_credits", ignore_result=True)
def check_credits(key_id: str) -> None:
    """Ask the vendor what one key has left and cache it for the vault (editor.credits)."""
    credits.check(key_id)


@shared_task(name="editor.tasks.check_key", ignore_result=True)
def check_key(key_id: str) -> None:
    """Check with its vendor a key saved while the vendor could not be reached (by id: a task
    message never holds a key)."""
    keycheck.check_again(key_id)


@shared_task(name="editor.tasks.recheck_keys", ignore_result=True)
def recheck_keys() -> None:
    keycheck.recheck_due()


@shared_task(name="editor.tasks.delete_expired_jobs", ignore_result=True)
def delete_expired_jobs() -> None:
    jobs.delete_expired(timezone.now())


@shared_task(name="editor.tasks.reconcile_storage", ignore_result=True)
def reconcile_storage() -> None:
    reconcile.reconcile()


@shared_task(name="editor.tasks.send_notice", ignore_result=True)
def send_notice(notice_id: str) -> None:
    """Send one email saying work has ended (editor.notifications)."""
    notifications.send(notice_id)


@shared_task(name="editor.tasks.heartbeat", ignore_result=True, bind=True)
def heartbeat(self: Task[..., None], queue: str) -> None:
    """A worker of ``queue`` is taking tasks (editor.health; beat sends one on each queue)."""
    health.beat(queue, str(self.request.hostname or ""))
