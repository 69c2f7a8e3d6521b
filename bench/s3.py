"""Media on S3: peak memory for storing a 48 MP JPEG result in the bucket and for downloading
it again (the original download: read from the bucket, metadata stripped), against a real S3
server (moto in server mode) on 127.0.0.1.

Each case runs in a fresh spawned process with ``MEDIA_STORAGE=s3``; its peak resident memory
is reported above a baseline taken once Django and the S3 client are up (one request made), so
the figure is what the file itself costs. Target: at most twice the file's size.
Figures: ``s3_48mp_store_peak_mb``, ``s3_48mp_download_peak_mb``, ``s3_48mp_file_mb``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import tempfile
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import figures
import thumbnails

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY = "jobs/1/bench/result-0.jpg"


def _storage(environment: dict[str, str]) -> object:
    os.environ.update(environment)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.files.storage import default_storage

    default_storage.exists("warm-up")  # the S3 client made before the baseline
    return default_storage


def store(environment: dict[str, str], path: str) -> float:
    """Peak MB above the baseline for storing the file through the studio's storage."""
    _storage(environment)
    from django.core.files import File

    from editor import storage

    baseline = thumbnails.peak_mb()
    with open(path, "rb") as handle:
        storage.write(KEY, File(handle, name=KEY))
    return thumbnails.peak_mb() - baseline


def download(environment: dict[str, str], path: str) -> float:
    """Peak MB above the baseline for the original download's body (editor.downloads)."""
    default_storage = _storage(environment)
    from editor import metadata

    baseline = thumbnails.peak_mb()
    with default_storage.open(KEY, "rb") as handle:  # type: ignore[attr-defined]
        body = metadata.strip_metadata(handle.read())
    assert len(body) > 0
    return thumbnails.peak_mb() - baseline


def main() -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
    spawn = multiprocessing.get_context("spawn")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_bucket(Bucket=bucket)
        with tempfile.TemporaryDirectory(prefix="studio-bench-s3-") as folder:
            environment = {
                "VAR_DIR": folder,
                "MEDIA_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": bucket,
                "AWS_S3_ENDPOINT_URL": endpoint,
                "AWS_S3_REGION_NAME": "us-east-1",
                **credentials,
            }
            path = Path(folder) / "photo.jpg"
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                pool.submit(thumbnails.make_photo, path).result()
            megabytes = path.stat().st_size / 1_000_000
            print(f"\nA 48 MP JPEG of {megabytes:.1f} MB on S3 (moto on {endpoint})")
            print(f"{'case':<12}{'peak MB':>9}{'x file':>8}")
            figures.record("s3_48mp_file_mb", round(megabytes, 1))
            for case, run in (("store", store), ("download", download)):
                with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                    peak = pool.submit(run, environment, str(path)).result()
                print(f"{case:<12}{peak:>9.1f}{peak / megabytes:>8.2f}")
                figures.record(f"s3_48mp_{case}_peak_mb", round(peak, 1))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
