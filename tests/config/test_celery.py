"""The Celery settings ARCHITECTURE.md relies on for losing nothing."""

from __future__ import annotations

from config.celery import app


def test_celery_is_configured_for_at_least_once_delivery() -> None:
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


def test_celery_speaks_json_only_and_keeps_no_results() -> None:
    conf = app.conf
    assert conf.task_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.result_backend is None
    assert conf.task_ignore_result is True
    assert conf.task_default_queue == "io"


def test_broker_has_a_redelivery_timeout_or_is_the_local_filesystem() -> None:
    options = app.conf.broker_transport_options
    if str(app.conf.broker_url).startswith("filesystem://"):
        assert options["data_folder_in"] == options["data_folder_out"]
    else:
        assert options["visibility_timeout"] >= 3600
