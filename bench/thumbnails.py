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

Then the memory budget (``IMAGE_MEMORY_BUDGET_MB``) against the worst inputs: a 100 MP 16-bit
RGBA PNG of well under 1 MB (zeros) through fit (the built-in engine's limits, which scale
nothing down), the thumbnail and a JPEG conversion; the largest such PNG its pixel cap lets fit
take; and a 48 MP JPEG converted to JPEG and to WebP. Each in a fresh process, which reports
its whole peak resident memory (imports included: what the 1 GB ceiling is about) and whether
the step refused the picture.

Run from the project root: ``.venv/bin/python bench/thumbnails.py``. Prints figures; passes or
fails nothing; they also go to ``make bench``'s JSON as ``thumbnails_<case>_*`` and
``memory_<case>_peak_mb`` / ``memory_<case>_refused`` (bench/figures.py).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
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


# (name, input, step) for the memory cases; the inputs are made once, in a process of their own.
MEMORY_CASES = (
    ("png100mp_fit", "png100mp", "fit"),
    ("png100mp_thumbnail", "png100mp", "thumbnail"),
    ("png100mp_jpeg", "png100mp", "jpeg"),
    ("png_budget_edge_fit", "png_edge", "fit"),
    ("jpeg48mp_jpeg", "jpeg48mp", "jpeg"),
    ("jpeg48mp_webp", "jpeg48mp", "webp"),
)
PNG_100MP = (10_000, 10_000)


def make_png(path: Path, size: tuple[int, int]) -> None:
    """A 16-bit RGBA PNG of zeros: about 780 KB for 100 MP, written row by row."""
    import struct
    import zlib

    width, height = size
    row = b"\0" + bytes(width * 8)
    compressor = zlib.compressobj(9)
    with path.open("wb") as out:

        def chunk(kind: bytes, body: bytes) -> None:
            crc = zlib.crc32(kind + body)
            out.write(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc))

        data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
        out.write(b"\x89PNG\r\n\x1a\n")
        chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0))
        chunk(b"IDAT", data)
        chunk(b"IEND", b"")


def edge_size() -> tuple[int, int]:
    """The biggest square RGBA PNG fit takes: a PNG's pixel cap (images.pixel_cap, the budget
    over the 12 bytes a pixel a PNG may take at worst; an RGBA one takes 8)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from editor import images

    side = math.isqrt(images.pixel_cap("PNG"))
    return side, side


def run_memory_case(step: str, path: str) -> tuple[float, float, bool, str]:
    """(seconds, whole peak MB of this process, refused, what the step said or made)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from editor import images
    from editor.vendors.local.adapter import LIMITS

    data = Path(path).read_bytes()
    started = time.perf_counter()
    try:
        if step == "fit":
            fitted = images.fit(data, LIMITS, vendor_label="the built-in engine")
            made = f"{fitted.width}×{fitted.height}, {len(fitted.image.data) / 1e6:.1f} MB"
        elif step == "thumbnail":
            made = f"{len(images.thumbnail(data).thumbnail) / 1000:.0f} kB"
        else:
            made = f"{len(images.convert(data, step.upper(), 90)) / 1e6:.1f} MB"
        refused = False
    except images.ImageRejected as rejected:
        made, refused = str(rejected), True
    return time.perf_counter() - started, peak_mb(), refused, made


def make_memory_inputs(folder: str) -> dict[str, str]:
    paths = {
        "png100mp": Path(folder) / "png100mp.png",
        "png_edge": Path(folder) / "png-edge.png",
        "jpeg48mp": Path(folder) / "photo.jpg",
    }
    make_png(paths["png100mp"], PNG_100MP)
    make_png(paths["png_edge"], edge_size())
    return {name: str(path) for name, path in paths.items()}


def bench_memory(spawn: BaseContext, folder: str) -> None:
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        paths = pool.submit(make_memory_inputs, folder).result()
    sizes = {name: Path(path).stat().st_size / 1e6 for name, path in paths.items()}
    print(
        f"\nMemory budget: 100 MP 16-bit RGBA PNG of {sizes['png100mp']:.2f} MB, the biggest "
        f"RGBA PNG fit takes (its pixel cap) ({sizes['png_edge']:.2f} MB), the 48 MP JPEG; "
        "whole peak resident memory of a fresh process (imports included)"
    )
    print(f"{'case':<22}{'seconds':>9}{'peak MB':>9}  outcome")
    for name, source, step in MEMORY_CASES:
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            seconds, peak, refused, made = pool.submit(
                run_memory_case, step, paths[source]
            ).result()
        outcome = f"refused: {made}" if refused else f"made {made}"
        print(f"{name:<22}{seconds:>9.2f}{peak:>9.0f}  {outcome}")
        figures.record(f"memory_{name}_peak_mb", round(peak, 1))
        figures.record(f"memory_{name}_s", round(seconds, 3))
        figures.record(f"memory_{name}_refused", int(refused))


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
        bench_memory(spawn, folder)


if __name__ == "__main__":
    main()
