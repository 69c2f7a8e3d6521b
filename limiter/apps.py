from __future__ import annotations

from django.apps import AppConfig


class LimiterConfig(AppConfig):
    name = "limiter"
    verbose_name = "Rate limits"
