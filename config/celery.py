"""The Celery app. Configuration lives in settings (``CELERY_*``); see ARCHITECTURE.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery, Task, signals
from django.db import close_old_connections

import config.broker  # noqa: F401  (registers the atomic filesystem transport)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def recycle_database_connections(task: Task[Any, Any] | None = None, **kwargs: object) -> None:
    """Around each task, what Django does around each request: a connection that broke or
    outlived CONN_MAX_AGE is closed (the next query opens a new one), a healthy one is kept.
    Celery's own fix-up no longer closes them all (CELERY_DB_REUSE_MAX). A task applied
    eagerly runs inside its caller's transaction, which must be left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


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
