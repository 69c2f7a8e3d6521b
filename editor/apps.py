from __future__ import annotations

from django.apps import AppConfig


class EditorConfig(AppConfig):
    name = "editor"
    verbose_name = "Studio"

    def ready(self) -> None:
        from editor import checks  # noqa: F401  (registers the system checks)
