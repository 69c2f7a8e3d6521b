"""`make bench`: the studio's figures, printed side by side. Nothing here passes or fails.

Pages run here, against a throwaway SQLite database in a temporary VAR_DIR, so they never touch
var/. The gallery at 1,000 results (bench/gallery.py), an album of 200 results downloaded as a
streamed ZIP with its peak memory (bench/albums.py), thumbnails and downloads of a 48 MP
result (bench/thumbnails.py), fitting a 200 MP JPEG (bench/big_photos.py), storing and
downloading that result on S3 (bench/s3.py, against moto on 127.0.0.1), the built-in engine
(bench/local_engine.py), the job pipeline (bench/pipeline.py), a 3-step recipe on 20 photos
with the studio's overhead per step (bench/recipes.py), the waiting line
(bench/waiting_line.py), jobs under a chaos loop of killed workers and other faults
(bench/crash.py) and the load run against gunicorn (bench/load.py) each run in a process of
their own: the gallery fills a database of its own, the image benches measure peak memory,
which a big parent would skew, and the last three set Django up with their own database,
broker and workers.

Every figure is also written as JSON, one flat object of numbers, to var/bench/latest.json (and
a copy named for the run's start, var/bench/<UTC time>.json), so runs can be compared: each
script records its figures with bench/figures.py into a file named by ``BENCH_FIGURES``, which
this script sets and reads back at the end, also when a section failed or the run was stopped.

``--only`` (``make bench ONLY=...``) runs some sections: a comma list of pages, gallery,
albums, thumbnails, bigphotos, s3, engine, pipeline, recipes, queue, crash and load, or
``vendor`` for what issue 16 measures (engine, pipeline, crash), ``queue`` for issue 17's (the
waiting line, then the chaos run) or ``burst`` for the PicWish bursts alone. The pipeline
section runs its PicWish burst a second time on the embedded defaults (SQLite, kombu's
filesystem broker, the file cache) when the environment names other stores, for the
``_default`` figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import figures

if TYPE_CHECKING:
    from django.http.response import HttpResponseBase

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIGURES_DIR = ROOT / "var" / "bench"
SECTIONS = (
    "pages",
    "gallery",
    "albums",
    "thumbnails",
    "bigphotos",
    "s3",
    "engine",
    "pipeline",
    "recipes",
    "queue",
    "crash",
    "load",
)
GROUPS = {
    "vendor": ("engine", "pipeline", "crash"),
    "burst": ("burst",),
    # Issue 17: the waiting line's fairness and cost, and the chaos run with its faults.
    "queue": ("queue", "crash"),
    "all": SECTIONS,
}
# The stores the embedded defaults replace; bench/pipeline.py reads the same three.
STORE_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL")
PAGE_FIGURES = {
    "GET /healthz": "healthz",
    "GET /accounts/login/": "login",
    "GET /jobs/feed/ (signed in)": "feed",
}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[index]


def measure(action: Callable[[], HttpResponseBase], runs: int) -> list[float]:
    status = action().status_code  # warm up, and make sure we time real pages
    if status != 200:
        raise SystemExit(f"bench: expected 200, got {status}")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def bench_pages(runs: int = 300) -> None:
    """The pages, in this process, on a throwaway SQLite database in a temporary VAR_DIR."""
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as var_dir:
        saved = dict(os.environ)
        os.environ["VAR_DIR"] = var_dir
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ.pop("DATABASE_URL", None)
        try:
            import django

            django.setup()
            _bench_pages(runs)
        finally:
            from django.db import connections

            connections.close_all()  # before its database file goes
            os.environ.clear()
            os.environ.update(saved)


def _bench_pages(runs: int) -> None:
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", "bench@example.com", "bench-password-1")
    anonymous, signed_in = Client(HTTP_HOST="127.0.0.1"), Client(HTTP_HOST="127.0.0.1")
    signed_in.force_login(user)
    since = _feed_with_recipes(user)

    cases: dict[str, Callable[[], HttpResponseBase]] = {
        "GET /healthz": lambda: anonymous.get("/healthz"),
        "GET /accounts/login/": lambda: anonymous.get("/accounts/login/"),
        "GET /studio/ (signed in)": lambda: signed_in.get("/studio/"),
        # What every open page asks every few seconds while jobs run: 20 ended, 12 of them
        # steps of four three-step recipe runs, 4 under way.
        "GET /jobs/feed/ (signed in)": lambda: signed_in.get("/jobs/feed/", {"since": since}),
    }
    print(f"\nPages through Django's test client, SQLite, {runs} requests each (ms)")
    print(f"{'request':<28}{'p50':>8}{'p95':>8}{'p99':>8}{'mean':>8}")
    for name, action in cases.items():
        samples = measure(action, runs)
        print(
            f"{name:<28}{percentile(samples, 0.50):>8.2f}{percentile(samples, 0.95):>8.2f}"
            f"{percentile(samples, 0.99):>8.2f}{statistics.fmean(samples):>8.2f}"
        )
        prefix = "pages_" + PAGE_FIGURES.get(name, "studio")
        for label, value in (
            ("p50", percentile(samples, 0.50)),
            ("p95", percentile(samples, 0.95)),
            ("p99", percentile(samples, 0.99)),
            ("mean", statistics.fmean(samples)),
        ):
            figures.record(f"{prefix}_{label}_ms", round(value, 2))


def _feed_with_recipes(user: Any) -> str:
    """Rows for the feed to read; returns its ``since`` (a minute ago, epoch ms)."""
    from django.utils import timezone

    from editor.models import Job, JobStatus, Recipe, RecipeRun, RecipeStepRun

    now = timezone.now()
    step = {"operation": "colorize", "provider": "picwish", "settings": {}}
    recipe = Recipe.objects.create(owner=user, name="bench", steps=[step] * 3)

    def job(status: str, seconds_ago: int) -> Job:
        ended = None if status == JobStatus.RUNNING else now - dt.timedelta(seconds=seconds_ago)
        return Job.objects.create(
            owner=user,
            operation="colorize",
            provider="picwish",
            status=status,
            deadline=now + dt.timedelta(minutes=10),
            charged_on=now.date(),
            finished_at=ended,
        )

    for number in range(4):
        run = RecipeRun.objects.create(owner=user, recipe=recipe, name="bench", steps=recipe.steps)
        for index in range(3):
            made = job(JobStatus.SUCCEEDED, number * 3 + index)
            RecipeStepRun.objects.create(run=run, index=index, job=made)
    for number in range(8):
        job(JobStatus.SUCCEEDED, 20 + number)
    for _ in range(4):
        job(JobStatus.RUNNING, 0)
    return str(int((now - dt.timedelta(minutes=1)).timestamp() * 1000))


def run_script(name: str, env: dict[str, str], *args: str) -> int:
    """Run ``bench/<name> [args]`` in a fresh process with ``env``, its figures printed in turn.

    A Ctrl-C reaches it too; we then wait while it stops its workers and removes its temporary
    files, and a SIGTERM sent to us is passed on so it does the same.
    """
    sys.stdout.flush()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / name), *args], cwd=ROOT, env=env
    )

    stopped: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        stopped.append(signum)
        process.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    interrupted = False
    try:
        while True:
            try:
                status = process.wait()
                break
            except KeyboardInterrupt:
                interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
    if interrupted:
        raise KeyboardInterrupt
    if stopped:
        raise SystemExit(128 + stopped[0])  # and run nothing more
    if status:
        print(f"bench/{name} stopped with exit status {status}")
    return status


def sections(only: str) -> list[str]:
    """The sections a ``--only`` value names, in the order a full run takes them."""
    names: set[str] = set()
    for name in (part.strip() for part in only.split(",")):
        if name in GROUPS:
            names.update(GROUPS[name])
        elif name in SECTIONS:
            names.add(name)
        elif name:
            known = ", ".join([*SECTIONS, *GROUPS])
            raise ValueError(f"no bench section {name!r}; the sections: {known}")
    if not names:
        raise ValueError("no bench section named")
    # "burst" is part of "pipeline": running both would run the bursts twice.
    return [
        name
        for name in (*SECTIONS, "burst")
        if name in names and not (name == "burst" and "pipeline" in names)
    ]


def run_pipeline(environment: dict[str, str], *args: str) -> int:
    """bench/pipeline.py as asked, then its burst again on the embedded defaults (the
    ``_default`` figures) if the environment named other stores; else the run was on the
    defaults already and recorded them itself."""
    status = run_script("pipeline.py", environment, *args)
    if any(environment.get(name) for name in STORE_VARIABLES):
        defaults = {k: v for k, v in environment.items() if k not in STORE_VARIABLES}
        print("\nThe PicWish burst again, on the embedded defaults (no DATABASE_URL, ...):")
        status = (
            run_script(
                "pipeline.py",
                defaults,
                "--cases",
                "burst",
                "--modes",
                "headline",
                "--suffix",
                "_default",
            )
            or status
        )
    return status


def run_section(name: str, environment: dict[str, str]) -> int:
    """Run one section; returns its exit status (0: it ran to the end)."""
    if name == "pages":
        try:
            bench_pages()
        except SystemExit as stop:  # a page that did not answer 200
            print(stop)
            return 1
        return 0
    if name == "load":
        # A light load beside a heavy one, to show where the studio on this machine saturates.
        light = run_script("load.py", environment, "--users", "10")
        return run_script("load.py", environment, "--users", "50") or light
    if name == "pipeline":
        return run_pipeline(environment)
    if name == "burst":
        return run_pipeline(environment, "--cases", "burst")
    # bench/queue.py would shadow the standard library's queue module for its siblings.
    script = {
        "engine": "local_engine.py",
        "queue": "waiting_line.py",
        "bigphotos": "big_photos.py",
    }.get(name, f"{name}.py")
    return run_script(script, environment)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--only", default="all", help="comma list of sections (default: all)")
    arguments = parser.parse_args(argv)
    try:
        chosen = sections(arguments.only)
    except ValueError as error:
        parser.error(str(error))
    started = dt.datetime.now(tz=dt.UTC)
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as var_dir:
        recorded = Path(var_dir) / "figures.jsonl"
        os.environ[figures.ENVIRONMENT] = str(recorded)
        # The scripts choose their own stores (the pipeline honours DATABASE_URL and
        # CELERY_BROKER_URL) from the environment as it was, with only BENCH_FIGURES added.
        environment = dict(os.environ)
        try:
            for name in chosen:
                try:
                    status = run_section(name, environment)
                except Exception:  # a section that breaks leaves the others their figures
                    traceback.print_exc()
                    status = 1
                if status:
                    failed.append(name)
        finally:
            save(figures.collect(recorded), started, failed)


def save(collected: dict[str, float], started: dt.datetime, failed: list[str]) -> None:
    if failed:
        print(f"\nbench: sections that did not run to the end: {', '.join(failed)}")
    if not collected:
        print("bench: no figures recorded")
        return
    latest = FIGURES_DIR / "latest.json"
    figures.write(collected, latest)
    figures.write(collected, FIGURES_DIR / f"{started:%Y%m%dT%H%M%SZ}.json")
    print(f"bench: {len(collected)} figures written to {latest.relative_to(ROOT)}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
