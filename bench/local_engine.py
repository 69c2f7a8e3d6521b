"""The built-in color migration engine on a 48-megapixel photo: wall time and peak memory.

Each case runs in a fresh process (spawned, so nothing is inherited) and reports its own peak
resident memory from ``getrusage``, minus a baseline taken after the imports and after reading
the input files: Pillow allocates outside Python's allocator, so tracemalloc would not see the
pixel buffers at all. Beside the engine's three modes run a decode-and-re-encode floor (what any
JPEG-to-JPEG edit of this photo costs) and a naive REF_PIC that converts the whole photo to
float32 OKLab and back with NumPy, for comparison.

Run from the project root: ``.venv/bin/python bench/local_engine.py``. Prints figures; passes or
fails nothing. The figures also go to ``make bench``'s JSON (bench/figures.py): ``engine_<case>_*``
for each case, and ``engine_48mp_s`` / ``engine_48mp_peak_mb`` for the engine's default mode
(AUTO, one color family), the one a person gets without choosing.
"""

from __future__ import annotations

import io
import multiprocessing
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import figures

if TYPE_CHECKING:
    import numpy.typing as npt
    from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT = 8000, 6000
DEGREE = 0.6
CASES: dict[str, dict[str, Any]] = {
    "JPEG decode + encode only": {},
    "engine AUTO, 1 family": {"mode": "AUTO", "color_count": 1},
    "engine TEMPLATE, 3 colors": {
        "mode": "TEMPLATE",
        "color_template": ("DB0D0D", "0E0CBB", "F2C12E"),
    },
    "engine REF_PIC": {"mode": "REF_PIC"},
    "naive REF_PIC, float32": {"mode": "NAIVE"},
}
# Each case's name in the JSON figures; the headline engine_48mp_* figures are AUTO's.
FIGURE_NAMES = {
    "JPEG decode + encode only": "jpeg_floor",
    "engine AUTO, 1 family": "auto",
    "engine TEMPLATE, 3 colors": "template",
    "engine REF_PIC": "ref_pic",
    "naive REF_PIC, float32": "naive_ref_pic",
}
HEADLINE = "engine AUTO, 1 family"


def make_photo(path: Path) -> None:
    """A synthetic landscape: sky gradient, hills, a few shapes, sensor-like noise."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    small = (WIDTH // 8, HEIGHT // 8)
    gradient = Image.linear_gradient("L").resize(small)
    sky = Image.merge(
        "RGB",
        [
            gradient.point(lambda v: 70 + v // 2),
            gradient.point(lambda v: 130 + v // 3),
            gradient.point(lambda v: 210 + v // 9),
        ],
    )
    draw = ImageDraw.Draw(sky)
    w, h = small
    draw.ellipse((-w // 4, h * 5 // 8, w * 2 // 3, h * 3 // 2), fill=(60, 140, 50))
    draw.ellipse((w // 2, h * 2 // 3, w * 4 // 3, h * 3 // 2), fill=(90, 160, 60))
    draw.rectangle((w * 7 // 10, h // 4, w * 85 // 100, h * 3 // 4), fill=(200, 40, 40))
    draw.ellipse((w // 5, h // 4, w * 2 // 5, h // 2), fill=(224, 172, 130))
    draw.rectangle((w // 20, h // 20, w // 6, h // 6), fill=(128, 128, 128))
    photo = sky.filter(ImageFilter.GaussianBlur(2)).resize(
        (WIDTH, HEIGHT), Image.Resampling.BICUBIC
    )
    noise = Image.merge("RGB", [Image.effect_noise((WIDTH, HEIGHT), 6)] * 3)
    ImageChops.add(photo, noise, offset=-128).save(path, "JPEG", quality=90)


def make_reference(path: Path) -> None:
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((1600, 1067))
    sunset = Image.merge(
        "RGB",
        [
            gradient.point(lambda v: 250 - v // 6),
            gradient.point(lambda v: 110 + v // 3),
            gradient.point(lambda v: 40 + v // 4),
        ],
    )
    sunset.save(path, "JPEG", quality=90)


def make_inputs(photo_path: str, ref_path: str) -> None:
    make_photo(Path(photo_path))
    make_reference(Path(ref_path))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_case(params: dict[str, Any], photo_path: str, ref_path: str) -> tuple[float, float, int]:
    """In a fresh process: (seconds, peak MB over the baseline, result bytes)."""
    import gc

    import numpy  # noqa: F401  (both kinds of case pay for the same imports)
    from PIL import Image

    from editor.vendors.base import InputImage, VendorRequest
    from editor.vendors.local.adapter import LocalAdapter

    photo = Path(photo_path).read_bytes()
    ref = Path(ref_path).read_bytes()
    gc.collect()
    baseline = peak_mb()
    started = time.perf_counter()
    if not params:
        image = Image.open(io.BytesIO(photo))
        image.load()
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=95, icc_profile=image.info.get("icc_profile"))
        size = len(buffer.getvalue())
    elif params["mode"] == "NAIVE":
        size = len(naive_ref_pic(photo, ref, DEGREE))
    else:
        files = {"image": InputImage(photo, "image/jpeg"), "ref": InputImage(ref, "image/jpeg")}
        request = VendorRequest("color_migration", files, {**params, "degree": DEGREE})
        done = LocalAdapter(api_key="").submit(request)
        size = sum(len(image.data) for image in done.images)
    return time.perf_counter() - started, peak_mb() - baseline, size


def naive_ref_pic(photo: bytes, ref: bytes, degree: float) -> bytes:
    """The straightforward way: both images whole, in float32 OKLab, Reinhard mean/std transfer."""
    import numpy as np
    from PIL import Image

    from editor.vendors.local import color

    def to_lab(image: Image.Image) -> npt.NDArray[np.float32]:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
        linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        lms = np.cbrt(linear @ color._RGB_TO_LMS_T.astype(np.float32))
        result: npt.NDArray[np.float32] = lms @ color._LMS_TO_LAB_T.astype(np.float32)
        return result

    source = to_lab(Image.open(io.BytesIO(photo)))
    target = to_lab(Image.open(io.BytesIO(ref)))
    source_mean, source_std = source.mean(axis=(0, 1)), source.std(axis=(0, 1))
    target_mean, target_std = target.mean(axis=(0, 1)), target.std(axis=(0, 1))
    moved = (source - source_mean) / np.maximum(source_std, 1e-6) * target_std + target_mean
    lab = source + degree * (moved - source)
    linear = (lab @ color._LAB_TO_LMS_T.astype(np.float32)) ** 3 @ color._LMS_TO_RGB_T.astype(
        np.float32
    )
    linear = np.clip(linear, 0, 1)
    rgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    result = Image.fromarray((rgb * 255 + 0.5).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    result.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def main() -> None:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as folder:
        photo, ref = Path(folder) / "photo.jpg", Path(folder) / "reference.jpg"
        started = time.perf_counter()
        # Made in a child too: a child's peak starts from its parent's resident size at fork
        # (Linux keeps it across exec), so the parent must stay small.
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            pool.submit(make_inputs, str(photo), str(ref)).result()
        print(
            f"\nColor migration on a {WIDTH}x{HEIGHT} ({WIDTH * HEIGHT / 1e6:.0f} MP) JPEG of "
            f"{photo.stat().st_size / 1e6:.1f} MB, degree {DEGREE} "
            f"(made in {time.perf_counter() - started:.1f} s); one fresh process per case"
        )
        print(f"{'case':<30}{'seconds':>9}{'peak MB':>10}{'output MB':>11}")
        for name, params in CASES.items():
            # A new pool per case: a fresh process, so each peak is that case's alone.
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                seconds, peak, size = pool.submit(run_case, params, str(photo), str(ref)).result()
            print(f"{name:<30}{seconds:>9.2f}{peak:>10.0f}{size / 1e6:>11.1f}")
            figures.record(f"engine_{FIGURE_NAMES[name]}_48mp_s", round(seconds, 3))
            figures.record(f"engine_{FIGURE_NAMES[name]}_48mp_peak_mb", round(peak, 1))
            if name == HEADLINE:
                figures.record("engine_48mp_s", round(seconds, 3))
                figures.record("engine_48mp_peak_mb", round(peak, 1))
        print("peak MB: highest resident memory above the same process after imports and reading")


if __name__ == "__main__":
    main()
