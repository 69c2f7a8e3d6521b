"""`make bench`: the studio's figures, printed side by side. Nothing here passes or fails.

Pages run here, against a throwaway SQLite database in a temporary VAR_DIR, so they never touch
var/. The gallery at 1,000 results (bench/gallery.py), thumbnails and downloads of a 48 MP
result (bench/thumbnails.py), the built-in engine (bench/local_engine.py), the job pipeline
(bench/pipeline.py), jobs under a chaos loop of killed workers (bench/crash.py) and the load run
against gunicorn (bench/load.py) each run in a process of their own: the gallery fills a
database of its own, the image benches measure peak memory, which a big parent would skew, and
the last three set Django up with their own database, broker and workers.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http.response import HttpResponseBase

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", "bench@example.com", "bench-password-1")
    anonymous, signed_in = Client(HTTP_HOST="127.0.0.1"), Client(HTTP_HOST="127.0.0.1")
    signed_in.force_login(user)

    cases: dict[str, Callable[[], HttpResponseBase]] = {
        "GET /healthz": lambda: anonymous.get("/healthz"),
        "GET /accounts/login/": lambda: anonymous.get("/accounts/login/"),
        "GET /studio/ (signed in)": lambda: signed_in.get("/studio/"),
    }
    print(f"\nPages through Django's test client, SQLite, {runs} requests each (ms)")
    print(f"{'request':<28}{'p50':>8}{'p95':>8}{'p99':>8}{'mean':>8}")
    for name, action in cases.items():
        samples = measure(action, runs)
        print(
            f"{name:<28}{percentile(samples, 0.50):>8.2f}{percentile(samples, 0.95):>8.2f}"
            f"{percentile(samples, 0.99):>8.2f}{statistics.fmean(samples):>8.2f}"
        )


def run_script(name: str, env: dict[str, str], *args: str) -> None:
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


def main() -> None:
    # The other scripts choose their own stores (the pipeline honours DATABASE_URL and
    # CELERY_BROKER_URL): they get the environment as it was, not the pages' changes to it.
    environment = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as var_dir:
        os.environ["VAR_DIR"] = var_dir
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        os.environ.pop("DATABASE_URL", None)
        import django

        django.setup()
        bench_pages()
    run_script("gallery.py", environment)
    run_script("thumbnails.py", environment)
    run_script("local_engine.py", environment)
    run_script("pipeline.py", environment)
    run_script("crash.py", environment)
    # A light load beside a heavy one, to show where the studio on this machine saturates.
    run_script("load.py", environment, "--users", "10")
    run_script("load.py", environment, "--users", "50")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
