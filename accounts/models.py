from __future__ import annotations

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The studio's user. Custom from the first migration so it can grow without pain."""
