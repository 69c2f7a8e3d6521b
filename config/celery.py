"""The Celery app. Configuration lives in settings (``CELERY_*``); see ARCHITECTURE.md."""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

import config.broker  # noqa: F401  (registers the atomic filesystem transport)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_filesystem_broker_folders() -> None:
    """kombu's filesystem transport expects its folders to exist before the first message."""
    options = app.conf.broker_transport_options or {}
    if not str(app.conf.broker_url).startswith("filesystem://"):
        return
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)


ensure_filesystem_broker_folders()
