from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The studio's user. Custom from the first migration so it can grow without pain."""


class Quota(models.Model):
    """One person's running usage against their limits, one row per user.

    Every charge and refund is a single conditional UPDATE on this row (see accounts.quotas),
    so concurrent submissions can never push a counter past its limit.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="quota"
    )
    day = models.DateField(default=dt.date.min)
    jobs_today = models.PositiveIntegerField(default=0)
    month = models.DateField(default=dt.date.min, help_text="First day of the counted month.")
    credits_this_month = models.PositiveIntegerField(default=0)
    active_jobs = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Quota of user {self.user_id}"
