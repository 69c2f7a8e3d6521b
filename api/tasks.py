"""Thin Celery tasks of the API: they take ids and call api.webhooks or api.idempotency."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from api import idempotency, webhooks


@shared_task(name="api.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(
    webhook_id: str, delivery: str | None = None, attempt: int | None = None
) -> None:
    """One try of a webhook delivery (api.webhooks.deliver schedules the next)."""
    webhooks.deliver(webhook_id, delivery, attempt)


@shared_task(name="api.tasks.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> None:
    """Delete the Idempotency-Key records older than API_IDEMPOTENCY_SECONDS (beat, hourly)."""
    idempotency.purge(timezone.now())
