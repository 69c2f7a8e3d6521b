"""A shared album of 200 results downloaded as one ZIP: the time, the ZIP's size and the peak
memory of the process serving it. Prints figures; passes or fails nothing.

The album's ZIP is streamed (editor.albums.zip_stream behind a StreamingHttpResponse): each
photo is read, stripped of its metadata and handed on before the next, so the memory it takes
should stay that of one photo whatever the album's size (the target: at most 64 MB above the
serving process's own). Against a throwaway SQLite database and media folder in a temporary
VAR_DIR, one person gets 200 finished jobs whose results are ~1 MB camera-like JPEGs (200 MB in
all, well above the target), put in one album and shared by link. Then a fresh spawned process
(its memory not skewed by making them) sets Django up, takes its resident memory as the
baseline, downloads the ZIP through Django's test client, reading the stream piece by piece
and keeping only a running count, and reports its peak resident memory above the baseline.

Run from the project root: ``.venv/bin/python bench/albums.py`` (bench/run.py runs it as the
``albums`` section). The figures also go to ``make bench``'s JSON as ``album_zip_*``.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import figures

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = 200
TARGET_MB = 64


def setup(var_dir: str) -> None:
    os.environ["VAR_DIR"] = var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()


def photo() -> bytes:
    """A camera-like JPEG of about 1 MB with EXIF and GPS (noise keeps it at a camera's size)."""
    from PIL import Image

    picture = Image.merge("RGB", [Image.effect_noise((1400, 1050), 40)] * 3)
    exif = Image.Exif()
    exif[0x010F] = "Bench camera"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPS latitude: stripped on the way out
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def make_album(var_dir: str) -> tuple[str, int]:
    """The shared album; returns its link's token and the bytes stored for its photos."""
    setup(var_dir)
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import User
    from editor import albums
    from editor.models import Job, JobStatus, Result, ShareLink

    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("albums", "albums@example.com", "bench-password-1")
    album = albums.create(owner, "Bench album")
    data = photo()
    now = timezone.now()
    for number in range(RESULTS):
        job = Job.objects.create(
            owner=owner,
            operation="colorize",
            provider="picwish",
            status=JobStatus.SUCCEEDED,
            credits=1,
            charged_on=now.date(),
            deadline=now,
        )
        name = default_storage.save(f"jobs/{owner.pk}/{job.pk}/result-0.jpg", ContentFile(data))
        result = Result.objects.create(
            job=job, file=name, media_type="image/jpeg", bytes=len(data), position=0
        )
        albums.add(album, result)
        if number % 50 == 49:
            print(f"  {number + 1} results stored", flush=True)
    _link, token = ShareLink.create(album, lifetime=None)
    return token, len(data) * RESULTS


def download(var_dir: str, token: str) -> dict[str, float]:
    """In a fresh process: the ZIP through the test client, read piece by piece."""
    setup(var_dir)
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.get(f"/s/{token}/")  # warm: templates, the first queries
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    response = client.get(f"/s/{token}/album/zip/")
    size = 0
    pieces = 0
    for piece in response.streaming_content:  # type: ignore[attr-defined]
        size += len(piece)
        pieces += 1
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "status": response.status_code,
        "streaming": float(response.streaming),
        "seconds": elapsed,
        "zip_mb": size / 2**20,
        "pieces": pieces,
        "baseline_mb": baseline,
        "peak_mb": peak - baseline,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="studio-bench-albums-") as var_dir:
        print(f"An album of {RESULTS} results, ~1 MB JPEGs each, shared by link:")
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            token, stored = pool.apply(make_album, (var_dir,))
        with context.Pool(1) as pool:
            found = pool.apply(download, (var_dir, token))
    if found["status"] != 200 or not found["streaming"]:
        raise SystemExit(f"the album's ZIP did not stream: {found}")
    print(f"  photos stored:               {stored / 2**20:8.1f} MB")
    print(
        f"  ZIP streamed:                {found['zip_mb']:8.1f} MB in {found['pieces']:.0f} pieces"
    )
    print(f"  time to download:            {found['seconds']:8.2f} s")
    print(f"  serving process at rest:     {found['baseline_mb']:8.1f} MB")
    print(f"  peak memory above it:        {found['peak_mb']:8.1f} MB (target <= {TARGET_MB} MB)")
    figures.record("album_zip_results", RESULTS)
    figures.record("album_zip_stored_mb", round(stored / 2**20, 1))
    figures.record("album_zip_size_mb", round(found["zip_mb"], 1))
    figures.record("album_zip_seconds", round(found["seconds"], 3))
    figures.record("album_zip_peak_mb", round(found["peak_mb"], 1))


if __name__ == "__main__":
    main()
