"""The studio's Celery app with pauses at the stages of a job, for crash tests.

Started as ``celery --app tests.integration.crash_worker worker``. With ``CRASH_DIR`` and
``CRASH_PAUSE_AT`` (stages, comma-separated) in its environment, a job whose photo name is
``crash <stage> <tag>`` stops the first time it reaches that stage: the worker writes
``<CRASH_DIR>/<stage>-<tag>.reached`` (holding the job's id) and waits until
``<stage>-<tag>.go`` exists. Meanwhile the test SIGKILLs the process or cuts its database
connections. The photo name picks the job, so one worker can hold several jobs at several
stages at once; the stage functions of editor.pipeline (and editor.storage's counted save) are
wrapped here, so product code carries no test hooks.

Stages:
    prepare    the fitted inputs are stored and counted; the move to running is not made
    submit     right before the vendor's submit
    submitted  the vendor answered the submit; nothing of its answer is kept yet
    poll       right before a poll of the vendor
    store      a result file is stored and counted; no row names it yet
    commit     the result rows are written, their transaction not yet committed (on SQLite
               this holds the database's write lock: PostgreSQL only)
    thumbnail  a thumbnail file is stored and counted; its row does not name it yet
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import django

from config.celery import app

django.setup()

from editor import operations, pipeline, storage  # noqa: E402  (needs the apps loaded)
from editor.models import Job, JobStatus  # noqa: E402
from editor.vendors.base import Done, Pending, VendorAdapter, VendorRequest  # noqa: E402

__all__ = ["app"]

STAGES = frozenset({"prepare", "submit", "submitted", "poll", "store", "commit", "thumbnail"})
# A test that never lets go (it failed before) must not keep the worker forever.
LONGEST_PAUSE_SECONDS = 300.0

# The job the current thread is working on (the worker runs its tasks in threads).
_current = threading.local()


def pause(stage: str) -> None:
    """Stop here if this thread's job is meant to stop at ``stage`` and has not yet."""
    folder = os.environ.get("CRASH_DIR", "")
    job: Job | None = getattr(_current, "job", None)
    if not folder or job is None or stage not in os.environ.get("CRASH_PAUSE_AT", "").split(","):
        return
    words = job.photo_name.split(" ")
    if len(words) != 3 or words[:2] != ["crash", stage]:
        return
    mark = Path(folder) / f"{stage}-{words[2]}"
    try:
        # Exclusive creation: only the first visit pauses, whichever thread or process it is.
        descriptor = os.open(f"{mark}.reached.tmp", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(descriptor, str(job.pk).encode())
    os.close(descriptor)
    # Renamed once written, so a test that sees the file can read the id in it.
    os.rename(f"{mark}.reached.tmp", f"{mark}.reached")
    go = Path(f"{mark}.go")
    deadline = time.monotonic() + LONGEST_PAUSE_SECONDS
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


_claim = pipeline._claim
_adapter = pipeline._adapter
_move = pipeline._move
_save_file = storage.save


def claim(job_id: str, number: int) -> Job | None:
    job = _claim(job_id, number)
    _current.job = job
    return job


def adapter(provider: operations.Provider, secret: str) -> VendorAdapter:
    made = _adapter(provider, secret)
    submit, poll = made.submit, made.poll

    def submit_pausing(request: VendorRequest) -> Done | Pending:
        pause("submit")
        outcome = submit(request)
        pause("submitted")
        return outcome

    def poll_pausing(task_ref: str) -> Done | Pending:
        pause("poll")
        return poll(task_ref)

    made.submit = submit_pausing  # type: ignore[method-assign]
    made.poll = poll_pausing  # type: ignore[method-assign]
    return made


def move(
    job: Job, status: str, *, countdown: float = 0.0, go_on: bool = False, **fields: Any
) -> pipeline.Moved:
    if status == JobStatus.STORING:
        pause("commit")  # inside _store_results' transaction, its rows written
    elif status == JobStatus.RUNNING and job.status == JobStatus.QUEUED:
        pause("prepare")
    return _move(job, status, countdown=countdown, go_on=go_on, **fields)


def save_file(owner_id: int, name: str, content: Any) -> str:
    stored = _save_file(owner_id, name, content)
    if "/result-" in name:
        pause("store")
    elif "/thumb-" in name:
        pause("thumbnail")
    return stored


pipeline._claim = claim
pipeline._adapter = adapter
pipeline._move = move
storage.save = save_file
