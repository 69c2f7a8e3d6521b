from __future__ import annotations

from django.apps import AppConfig


class EditorConfig(AppConfig):
    name = "editor"
    verbose_name = "Studio"

    def ready(self) -> None:
        # Registers the system checks; imported once the app registry is ready, as Django asks.
        from django.db.models.signals import pre_delete

        from editor import (
            albums,
            checks,  # noqa: F401
            notifications,
            recipes,
        )
        from editor.models import Result
        from editor.signals import job_ended

        pre_delete.connect(albums.result_deleted, sender=Result, dispatch_uid="editor.albums")
        # A recipe's next step starts when the job of the step before it succeeds. First, so the
        # email receiver sees whether it could start (a step that could not ends the run).
        job_ended.connect(recipes.job_ended, dispatch_uid="editor.recipes.job_ended")
        job_ended.connect(notifications.job_ended, dispatch_uid="editor.notifications.job_ended")
