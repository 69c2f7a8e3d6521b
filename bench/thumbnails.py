"""A 48-megapixel JPEG result through the studio's image steps, next to Pillow's plain full
decode of the same file: wall time and peak memory.

Cases: the plain decode (``Image.open(...).load()``, what a naive thumbnail starts with); the
check every upload gets at submit (``metadata.clean_upload``: a whole decode at an eighth of
the size, then the container cut and stripped); the studio's thumbnail (``images.thumbnail``:
a reduced-scale JPEG decode first); the download of the original without metadata
(``metadata.strip_metadata``: container edit, no decode); and the downloads converted to JPEG
and WebP at quality 90 (``images.convert``: a full decode and encode). Each case runs in a
fresh spawned process and reports its peak resident memory above a baseline taken after the
imports and after reading the file (Pillow allocates outside Python's allocator, so
tracemalloc would not see the pixel buffers); the time is the median of 3 runs in that
process.

Run from the project root: ``.venv/bin/python bench/thumbnails.py``. Prints figures; passes or
fails nothing; they also go to ``make bench``'s JSON as ``thumbnails_<case>_*`` (bench/figures.py).
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import figures

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT = 8000, 6000
RUNS = 3
CASES = (
    "Pillow full decode",
    "upload check at submit",
    "studio thumbnail",
    "original, metadata stripped",
    "converted to JPEG q90",
    "converted to WebP q90",
)
FIGURE_NAMES = dict(
    zip(
        CASES,
        ("pillow_decode", "upload_check", "studio", "stripped", "jpeg_q90", "webp_q90"),
        strict=True,
    )
)


def make_photo(path: Path) -> None:
    """A photo-like 48 MP JPEG: smooth shapes plus sensor-like noise (noise keeps the file at a
    camera's size; a flat picture would compress to almost nothing)."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    small = Image.linear_gradient("L").resize((WIDTH // 8, HEIGHT // 8)).convert("RGB")
    draw = ImageDraw.Draw(small)
    w, h = small.size
    draw.ellipse((w // 8, h // 3, w // 2, h), fill=(70, 140, 60))
    draw.rectangle((w * 6 // 10, h // 5, w * 8 // 10, h * 3 // 4), fill=(190, 50, 40))
    photo = small.filter(ImageFilter.GaussianBlur(2)).resize((WIDTH, HEIGHT))
    noise = Image.merge("RGB", [Image.effect_noise((WIDTH, HEIGHT), 6)] * 3)
    ImageChops.add(photo, noise, offset=-128).save(path, "JPEG", quality=90)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(case: str, path: str) -> tuple[float, float, int]:
    """(median seconds, peak MB above the baseline, output bytes) for one case."""
    import io
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from PIL import Image

    from editor import images, metadata

    data = Path(path).read_bytes()
    baseline = peak_mb()

    def once() -> int:
        if case == "Pillow full decode":
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return 0
        if case == "upload check at submit":
            return len(metadata.clean_upload(data))
        if case == "studio thumbnail":
            return len(images.thumbnail(data).thumbnail)
        if case == "original, metadata stripped":
            return len(metadata.strip_metadata(data))
        fmt = "JPEG" if "JPEG" in case else "WEBP"
        return len(images.convert(data, fmt, 90))

    times = []
    size = 0
    for _ in range(RUNS):
        started = time.perf_counter()
        size = once()
        times.append(time.perf_counter() - started)
    return statistics.median(times), peak_mb() - baseline, size


def main() -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="studio-bench-thumbs-") as folder:
        path = Path(folder) / "photo.jpg"
        # Made in a process of its own: Linux carries a process's peak memory across fork and
        # exec, so a parent that had held the photo would raise every case's starting point.
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            pool.submit(make_photo, path).result()
        megabytes = path.stat().st_size / 1_000_000
        print(
            f"\nA {WIDTH}×{HEIGHT} ({WIDTH * HEIGHT / 1e6:.0f} MP) JPEG of {megabytes:.1f} MB, "
            f"one fresh process per case, median of {RUNS}"
        )
        print(f"{'case':<30}{'seconds':>9}{'peak MB':>9}{'output':>12}")
        for case in CASES:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                seconds, peak, size = pool.submit(run_case, case, str(path)).result()
            output = f"{size / 1000:,.0f} kB" if size else "-"
            print(f"{case:<30}{seconds:>9.2f}{peak:>9.0f}{output:>12}")
            figures.record(f"thumbnails_{FIGURE_NAMES[case]}_48mp_s", round(seconds, 3))
            figures.record(f"thumbnails_{FIGURE_NAMES[case]}_48mp_peak_mb", round(peak, 1))


if __name__ == "__main__":
    main()
