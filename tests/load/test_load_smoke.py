"""The load run's fast form: bench/load.py with 10 people for 10 s, end to end (gunicorn, a real
worker per queue, the sandbox, locust), against the same PostgreSQL and Redis as the rest of the
suite when the environment names them. It asserts that every kind of request was made and none
failed, and that jobs started through the form ran to the end meanwhile. Latencies are figures
for `make bench`, never asserted here.

The run configures Django itself and locust monkey-patches with gevent, so it runs in a process
of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
USERS = 10
SECONDS = 10
JOBS_PER_ACCOUNT = 60  # past the gallery's first page of 24, so there is a next page to ask for
# Every request the people of bench/locustfile.py make: none may be missing from the figures.
REQUESTS = {
    "GET /accounts/login/",
    "POST /accounts/login/",
    "GET /gallery/",
    "GET /jobs/<id>/results/<id>/thumbnail/",
    "GET /gallery/?operation&status",
    "GET /gallery/?before (HTMX next page)",
    "GET /jobs/<id>/",
    "GET /studio/colorize/",
    "POST /studio/colorize/ (start a job)",
    "GET /jobs/<id>/ (HTMX status)",
}


def test_a_short_load_run_has_no_failures_and_finishes_jobs(tmp_path: Path) -> None:
    figures = tmp_path / "load.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "load.py"),
        *("--users", str(USERS), "--seconds", str(SECONDS)),
        *("--jobs", str(JOBS_PER_ACCOUNT), "--json", str(figures)),
    ]
    run = subprocess.Popen(
        command,
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = run.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        # SIGTERM, not the SIGKILL subprocess.run would send: the run then stops gunicorn, the
        # workers and locust and drops its database.
        run.terminate()
        stdout, stderr = run.communicate(timeout=60)
        pytest.fail(f"the load run did not end in time:\n{stdout[-3000:]}{stderr[-3000:]}")
    assert run.returncode == 0, stdout[-3000:] + stderr[-3000:]
    report = json.loads(figures.read_text())

    made = {row["name"]: row for row in report["rows"]}
    assert set(made) == REQUESTS, stdout
    assert all(row["requests"] >= 1 for row in made.values()), stdout
    # One person in five arrives signed out (bench/locustfile.py) and signs in once.
    assert made["POST /accounts/login/"]["requests"] == USERS // 5, stdout
    assert report["total"]["requests"] >= 40, stdout
    assert report["total"]["failures"] == 0, stdout
    assert report["failures"] == [], stdout
    assert report["jobs_started"] > 0, stdout
    assert report["jobs_succeeded"] > 0, stdout
    assert report["jobs_failed"] == 0, stdout
