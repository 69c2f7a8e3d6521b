"""How long the studio keeps a person's jobs (``RETENTION_DAYS``), for the pages that tell them:
``{% retention_days as days %}`` and ``{{ job|kept_until }}`` (None when kept forever)."""

from __future__ import annotations

import datetime as dt

from django import template
from django.conf import settings

from editor.models import Job

register = template.Library()


@register.simple_tag
def retention_days() -> int:
    return int(settings.RETENTION_DAYS)


@register.filter
def kept_until(job: Job) -> dt.datetime | None:
    """When the hourly retention task may delete the job (editor.jobs.delete_expired)."""
    if settings.RETENTION_DAYS <= 0:
        return None
    return job.created_at + dt.timedelta(days=settings.RETENTION_DAYS)
