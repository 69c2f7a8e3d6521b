"""Celery messages in tests that run no worker: what the code sent, by task name."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from celery import current_app


@dataclass
class SentTasks:
    """Celery messages the code sent by task name (editor.jobs.ring, editor.credits, the
    webhooks), kept here instead of reaching the broker: by task name, each message's
    arguments and its options (queue, countdown)."""

    args: defaultdict[str, list[tuple[Any, ...]]] = field(default_factory=lambda: defaultdict(list))
    options: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def capture_tasks(monkeypatch: pytest.MonkeyPatch) -> SentTasks:
    """Keep every message sent by name from now on (the product sends every task so)."""
    sent = SentTasks()

    def send_task(name: str, args: tuple[Any, ...] = (), **options: Any) -> None:
        sent.args[name].append(tuple(args))
        sent.options[name].append(options)

    monkeypatch.setattr(current_app, "send_task", send_task)
    return sent
