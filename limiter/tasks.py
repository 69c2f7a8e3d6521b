"""The limiter's housekeeping, run by beat (config/settings.py names it)."""

from __future__ import annotations

from celery import shared_task

from limiter import core


@shared_task(name="limiter.tasks.forget_expired", ignore_result=True)
def forget_expired() -> int:
    """Delete budgets nobody has used for a window (the database store keeps one row each)."""
    return core.forget_expired()
