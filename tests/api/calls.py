"""What API tests send: the jobs and batches endpoints and a colorization's multipart body."""

from __future__ import annotations

from typing import Any

from tests.images import photo

JOBS = "/api/v1/jobs"
BATCHES = "/api/v1/batches"


def colorize(**extra: Any) -> dict[str, Any]:
    return {"operation": "colorize", "format": "png", "image": photo(), **extra}
