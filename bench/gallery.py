"""The gallery page at 1,000 results: server time and query count. Prints figures; passes or
fails nothing.

Like the pages in bench/run.py, it runs through Django's test client against a throwaway SQLite
database in a temporary VAR_DIR (never var/, whatever DATABASE_URL says). One person gets 1,000
jobs with a result each (rows only: the page never opens a file), spread over operations and
statuses; then the first page, a filtered page, the next page appended by HTMX and a deep page
are each requested ``RUNS`` times.

It configures Django itself, so it needs a fresh process: ``.venv/bin/python bench/gallery.py``
(bench/run.py runs it so). The figures also go to ``make bench``'s JSON as ``gallery_<case>_*``
(bench/figures.py).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import figures

if TYPE_CHECKING:
    from django.http.response import HttpResponseBase

    from accounts.models import User

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

JOBS = 1000
RUNS = 200
# Each case's name in the JSON figures.
FIGURE_NAMES = {
    "first page": "first_page",
    "filtered (op + status + date)": "filtered",
    "next page, HTMX fragment": "next_page",
    "deep page (last 29 jobs)": "deep_page",
}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def make_jobs(owner: User, count: int) -> None:
    import datetime as dt

    from django.utils import timezone

    from editor import operations
    from editor.models import Job, JobStatus, Result

    slugs = [operation.slug for operation in operations.OPERATIONS]
    providers = {op.slug: op.default_provider.name for op in operations.OPERATIONS}
    statuses = [JobStatus.SUCCEEDED] * 8 + [JobStatus.FAILED, JobStatus.CANCELED]
    now = timezone.now()
    jobs = Job.objects.bulk_create(
        (
            Job(
                owner=owner,
                operation=slugs[number % len(slugs)],
                provider=providers[slugs[number % len(slugs)]],
                status=statuses[number % len(statuses)],
                credits=1,
                charged_on=now.date(),
                deadline=now,
                created_at=now - dt.timedelta(minutes=37 * number),
            )
            for number in range(count)
        ),
        batch_size=500,
    )
    Result.objects.bulk_create(
        (
            Result(
                job=job,
                file=f"jobs/{owner.pk}/{job.pk}/result-0.jpg",
                thumbnail=f"jobs/{owner.pk}/{job.pk}/thumb-0.jpg",
                media_type="image/jpeg",
                width=1024,
                height=768,
            )
            for job in jobs
        ),
        batch_size=500,
    )


def measure(action: Callable[[], HttpResponseBase], runs: int) -> tuple[list[float], int]:
    """Milliseconds per request, and the queries one request makes."""
    from django.db import connection

    queries: list[str] = []

    # Counted as they run: the test client's request_started signal empties the query log that
    # CaptureQueriesContext reads.
    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = action()  # warm up, and make sure we time real pages
    if response.status_code != 200:
        raise SystemExit(f"bench: expected 200, got {response.status_code}")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, len(queries)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="studio-bench-gallery-") as var_dir:
        os.environ["VAR_DIR"] = var_dir
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ.pop("DATABASE_URL", None)
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        from accounts.models import User
        from editor.models import Job
        from editor.pages.gallery import Cursor

        call_command("migrate", verbosity=0)
        user = User.objects.create_user("gallery", "gallery@example.com", "bench-password-1")
        make_jobs(user, JOBS)
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)

        ordered = Job.objects.filter(owner=user).order_by("-created_at", "-pk")
        second = Cursor.after(ordered[23]).token
        deep = Cursor.after(ordered[JOBS - 30]).token
        htmx = {"HX-Request": "true"}
        cases: dict[str, Callable[[], HttpResponseBase]] = {
            "first page": lambda: client.get("/gallery/"),
            "filtered (op + status + date)": lambda: client.get(
                "/gallery/",
                {"operation": "colorize", "status": "succeeded", "date_from": "2000-01-01"},
            ),
            "next page, HTMX fragment": lambda: client.get(
                "/gallery/", {"before": second}, headers=htmx
            ),
            "deep page (last 29 jobs)": lambda: client.get("/gallery/", {"before": deep}),
        }
        print(
            f"\nGallery of one person with {JOBS:,} jobs and results, test client, SQLite, "
            f"{RUNS} requests each (ms)"
        )
        print(f"{'request':<32}{'queries':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'mean':>8}")
        for name, action in cases.items():
            samples, queries = measure(action, RUNS)
            print(
                f"{name:<32}{queries:>8}{percentile(samples, 0.50):>8.2f}"
                f"{percentile(samples, 0.95):>8.2f}{percentile(samples, 0.99):>8.2f}"
                f"{statistics.fmean(samples):>8.2f}"
            )
            prefix = f"gallery_{FIGURE_NAMES[name]}"
            figures.record(f"{prefix}_queries", queries)
            for label, value in (
                ("p50", percentile(samples, 0.50)),
                ("p95", percentile(samples, 0.95)),
                ("p99", percentile(samples, 0.99)),
                ("mean", statistics.fmean(samples)),
            ):
                figures.record(f"{prefix}_{label}_ms", round(value, 2))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
