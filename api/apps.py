from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "JSON API"

    def ready(self) -> None:
        # editor never imports api: it sends job_ended, and the API's webhooks listen. Imported
        # here, not at the top: webhooks imports models, which need the app registry ready.
        from api import webhooks
        from editor.signals import job_ended

        job_ended.connect(webhooks.job_ended, dispatch_uid="api.webhooks.job_ended")
