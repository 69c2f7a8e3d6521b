"""Big photos (issue 20): the whole peak resident memory of fitting a 200 MP JPEG, which the
studio decodes at a reduced size (JPEG draft mode) instead of refusing it. Target: 300 MB or
less for the fit to PicWish's 4096×4096.

The photo is 16,320 × 12,240 (a 200 MP phone sensor's size), a real baseline YCbCr 4:2:0 JPEG
made without pixels in memory (tests.images.gray_jpeg: flat gray, about 1 MB): libjpeg decodes
it into buffers of the same size as any photo of its size, so the memory is that of a real one
(the time is less: a photo's entropy-coded data takes longer to read).

Cases, each in a fresh spawned process (Linux carries a process's peak across fork, so a parent
that had held a picture would raise every case's start): the checks at submit (the header and
its caps, the fit's memory check from the header, and ``metadata.clean_upload``, a whole decode
at an eighth); ``images.fit`` to PicWish's limits (decoded at a quarter, 4080×3060); fit to the
built-in engine's 12000×12000 (decoded at a half, then scaled); and the result's thumbnail.
Each reports its whole peak (imports included: what a worker's ceiling is about) and the peak
above the baseline taken after the imports and reading the file.

Run from the project root: ``.venv/bin/python bench/big_photos.py``. Prints figures; passes or
fails nothing; they also go to ``make bench``'s JSON as ``bigphotos_<case>_peak_mb``,
``bigphotos_<case>_above_mb`` and ``bigphotos_<case>_s`` (bench/figures.py).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import figures

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (16_320, 12_240)
TARGET_MB = 300
CASES = {
    "submit_checks": "checks at submit",
    "fit_picwish": "fit to PicWish 4096",
    "fit_engine": "fit to built-in 12000",
    "thumbnail": "thumbnail",
}


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def make_photo(path: str) -> None:
    setup()
    from tests.images import gray_jpeg

    Path(path).write_bytes(gray_jpeg(SIZE))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(case: str, path: str) -> tuple[float, float, float, str]:
    """(seconds, whole peak MB, peak MB above the baseline, what the step made)."""
    import io

    setup()
    from editor import images, metadata
    from editor.vendors.local.adapter import LIMITS as ENGINE
    from editor.vendors.picwish import LIMITS as PICWISH

    data = Path(path).read_bytes()
    baseline = peak_mb()
    started = time.perf_counter()
    if case == "submit_checks":
        images.check_upload(io.BytesIO(data))
        images.check_fit_memory(io.BytesIO(data), PICWISH)
        metadata.clean_upload(data)
        made = "passed"
    elif case == "thumbnail":
        made = f"{len(images.thumbnail(data).thumbnail) / 1000:.0f} kB"
    else:
        limits = PICWISH if case == "fit_picwish" else ENGINE
        fitted = images.fit(data, limits, vendor_label="bench")
        made = f"{fitted.width}×{fitted.height}, {len(fitted.image.data) / 1e6:.1f} MB"
    seconds = time.perf_counter() - started
    peak = peak_mb()
    return seconds, peak, peak - baseline, made


def main() -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="studio-bench-big-") as folder:
        path = str(Path(folder) / "200mp.jpg")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            pool.submit(make_photo, path).result()
        megabytes = Path(path).stat().st_size / 1e6
        print(
            f"\nA {SIZE[0]}×{SIZE[1]} ({SIZE[0] * SIZE[1] / 1e6:.0f} MP) JPEG of "
            f"{megabytes:.1f} MB; whole peak resident memory of a fresh process (target for the "
            f"fit to PicWish: {TARGET_MB} MB or less)"
        )
        print(f"{'case':<26}{'seconds':>9}{'peak MB':>9}{'above':>8}  made")
        for key, name in CASES.items():
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                seconds, peak, above, made = pool.submit(run_case, key, path).result()
            print(f"{name:<26}{seconds:>9.2f}{peak:>9.0f}{above:>8.0f}  {made}")
            figures.record(f"bigphotos_{key}_200mp_peak_mb", round(peak, 1))
            figures.record(f"bigphotos_{key}_200mp_above_mb", round(above, 1))
            figures.record(f"bigphotos_{key}_200mp_s", round(seconds, 3))


if __name__ == "__main__":
    main()
