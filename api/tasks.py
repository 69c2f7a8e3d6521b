"""Thin Celery tasks of the API: they take ids and call api.webhooks."""

from __future__ import annotations

from celery import shared_task

from api import webhooks


@shared_task(name="api.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(
    webhook_id: str, delivery: str | None = None, attempt: int | None = None
) -> None:
    """One try of a webhook delivery (api.webhooks.deliver schedules the next)."""
    webhooks.deliver(webhook_id, delivery, attempt)
