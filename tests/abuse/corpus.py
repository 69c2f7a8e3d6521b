"""An upload abuse corpus: bad and odd files, made by code at test time (no binary fixtures).

Each ``Case`` has a name (the test id), the bytes, the file name the upload claims, a kind (to
count the corpus by) and the outcome the upload form and the API must give:

- "rejected": a clear error on the photo field (the header checks of editor.images.check_upload,
  or Django's own empty-file check) and no job;
- "damaged": the header passes but the content does not (cut short, a picture larger than its
  data, a failed checksum): every upload is decoded whole (editor.metadata.clean_upload), so it
  is refused on the photo field too, naming the file, and no job; the worker's image steps,
  which see whatever a vendor sends back, still say "damaged or incomplete" for it;
- "accepted": a job.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from PIL import Image

Outcome = Literal["rejected", "damaged", "accepted"]


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    filename: str
    expected: Outcome
    kind: str


# --- Builders --------------------------------------------------------------------------------


def noisy(size: tuple[int, int], mode: str = "RGB", seed: int = 1) -> Image.Image:
    """A picture of random pixels: its compressed data is large and touches every code."""
    image = Image.new("RGB", size)
    rng = random.Random(seed)
    image.frombytes(rng.randbytes(size[0] * size[1] * 3))
    return image if mode == "RGB" else image.convert(mode)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def png_declaring(
    width: int, height: int, depth: int = 8, color: int = 2, idat: bytes | None = None
) -> bytes:
    """A PNG whose IHDR declares ``width``×``height`` but whose data is a few bytes."""
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    data = zlib.compress(b"\0" * 64) if idat is None else idat
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", data)
        + png_chunk(b"IEND", b"")
    )


def sof_offset(jpeg: bytes) -> int:
    """Where the first SOFn marker (baseline or progressive) starts."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        found = jpeg.find(marker)
        if found > 0:
            return found
    raise ValueError("no SOF")


def sos_offset(jpeg: bytes) -> int:
    return jpeg.index(b"\xff\xda")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG with the dimensions in its SOF marker rewritten."""
    data = bytearray(encode(noisy((16, 16)), "JPEG"))
    at = sof_offset(bytes(data)) + 5  # marker(2) length(2) precision(1), then height, width
    data[at : at + 4] = struct.pack(">HH", height, width)
    return bytes(data)


def flip(data: bytes, offset: int, mask: int = 0xFF) -> bytes:
    changed = bytearray(data)
    changed[offset] ^= mask
    return bytes(changed)


def zeroed(data: bytes, offset: int, count: int) -> bytes:
    return data[:offset] + b"\0" * count + data[offset + count :]


def with_exif(image: Image.Image, fmt: str, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, fmt, exif=exif.tobytes())


def jpeg_with_app1(payload: bytes) -> bytes:
    """A JPEG with an APP1 segment holding ``payload`` right after its SOI."""
    plain = encode(noisy((40, 30)), "JPEG")
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return plain[:2] + segment + plain[2:]


def zip_bytes() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", "<script>alert(document.cookie)</script>")
    return buffer.getvalue()


def animated(fmt: str) -> bytes:
    frames = [noisy((40, 30), seed=seed) for seed in range(3)]
    if fmt == "GIF":
        frames = [frame.convert("P") for frame in frames]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


# --- The corpus ------------------------------------------------------------------------------


def _truncated() -> Iterator[Case]:
    jpeg = encode(noisy((120, 90)), "JPEG", quality=90)
    png = encode(noisy((120, 90)), "PNG")
    webp = encode(noisy((120, 90)), "WEBP", quality=80)
    sof = sof_offset(jpeg)
    # Cut before the frame header: nothing says what the picture is. After it: the header
    # checks pass, and the full decode at upload finds the data incomplete.
    for label, cut, expected in [
        ("soi-only", 2, "rejected"),
        ("in-app0", 11, "rejected"),
        ("before-sof", sof, "rejected"),
        ("in-sof", sof + 6, "rejected"),
        ("at-sos", sos_offset(jpeg), "damaged"),
        ("quarter", len(jpeg) // 4, "damaged"),
        ("half", len(jpeg) // 2, "damaged"),
        ("no-eoi", len(jpeg) - 2, "damaged"),
    ]:
        yield Case(f"jpeg-truncated-{label}", jpeg[:cut], "cut.jpg", expected, "truncated")  # type: ignore[arg-type]
    for label, cut, expected in [
        ("signature-only", 8, "rejected"),
        ("in-ihdr", 20, "rejected"),
        ("after-ihdr", 33, "rejected"),
        ("in-idat", 33 + 40, "damaged"),
        ("half", len(png) // 2, "damaged"),
        ("no-iend", len(png) - 12, "damaged"),
    ]:
        yield Case(f"png-truncated-{label}", png[:cut], "cut.png", expected, "truncated")  # type: ignore[arg-type]
    for label, cut, expected in [
        ("riff-only", 12, "rejected"),
        ("in-vp8-header", 24, "rejected"),
        # libwebp reads the whole RIFF container on open: any cut is refused at upload.
        ("half", len(webp) // 2, "rejected"),
        ("last-bytes", len(webp) - 4, "rejected"),
    ]:
        yield Case(f"webp-truncated-{label}", webp[:cut], "cut.webp", expected, "truncated")  # type: ignore[arg-type]


def _corrupt() -> Iterator[Case]:
    jpeg = encode(noisy((120, 90)), "JPEG", quality=90)
    png = encode(noisy((120, 90)), "PNG")
    webp = encode(noisy((120, 90)), "WEBP", quality=80)
    sof, sos = sof_offset(jpeg), sos_offset(jpeg)
    dqt = jpeg.index(b"\xff\xdb")
    dht = jpeg.index(b"\xff\xc4")
    cases: list[tuple[str, bytes, str, Outcome]] = [
        ("jpeg-flipped-soi", flip(jpeg, 1), "bad.jpg", "rejected"),
        ("jpeg-flipped-sof-marker", flip(jpeg, sof + 1), "bad.jpg", "rejected"),
        ("jpeg-zero-height", zeroed(jpeg, sof + 5, 2), "bad.jpg", "rejected"),
        ("jpeg-zero-width", zeroed(jpeg, sof + 7, 2), "bad.jpg", "rejected"),
        ("jpeg-flipped-dqt", flip(jpeg, dqt + 10), "bad.jpg", "accepted"),
        ("jpeg-flipped-dht", flip(jpeg, dht + 8), "bad.jpg", "damaged"),
        ("jpeg-flipped-sos-length", flip(jpeg, sos + 3), "bad.jpg", "damaged"),
        ("jpeg-flipped-entropy-start", flip(jpeg, sos + 20), "bad.jpg", "accepted"),
        ("jpeg-flipped-entropy-middle", flip(jpeg, (sos + len(jpeg)) // 2), "bad.jpg", "accepted"),
        (
            "jpeg-zeroed-entropy",
            jpeg[: sos + 14] + b"\0" * (len(jpeg) - sos - 16) + jpeg[-2:],
            "bad.jpg",
            "accepted",
        ),
        ("png-flipped-signature", flip(png, 1), "bad.png", "rejected"),
        ("png-bad-ihdr-crc", flip(png, 29), "bad.png", "rejected"),
        ("png-bad-bit-depth", png[:24] + b"\x03" + png[25:], "bad.png", "rejected"),
        ("png-flipped-idat-data", flip(png, 33 + 100), "bad.png", "damaged"),
        ("png-flipped-idat-middle", flip(png, len(png) // 2), "bad.png", "damaged"),
        ("webp-flipped-riff", flip(webp, 0), "bad.webp", "rejected"),
        ("webp-flipped-vp8-tag", flip(webp, 15), "bad.webp", "rejected"),
        ("webp-flipped-data", flip(webp, len(webp) // 2), "bad.webp", "accepted"),
    ]
    for name, data, filename, expected in cases:
        yield Case(name, data, filename, expected, "corrupt")


def _bombs() -> Iterator[Case]:
    cases: list[tuple[str, bytes, str, Outcome]] = [
        ("png-ihdr-100000x100000", png_declaring(100_000, 100_000), "bomb.png", "rejected"),
        ("png-ihdr-2147483647x1", png_declaring(2**31 - 1, 1), "bomb.png", "rejected"),
        # Just above the 100 MP cap: below Pillow's own error threshold (twice its limit).
        ("png-ihdr-10001x10000", png_declaring(10_001, 10_000), "bomb.png", "rejected"),
        ("png-ihdr-zero-width", png_declaring(0, 100), "bomb.png", "rejected"),
        ("jpeg-sof-65000x65000", jpeg_declaring(65_000, 65_000), "bomb.jpg", "rejected"),
        ("jpeg-sof-65535x2000", jpeg_declaring(65_535, 2_000), "bomb.jpg", "rejected"),
        # Real pixels, all zero: 120 MP of 1-bit PNG compresses to a few kilobytes.
        (
            "png-real-bomb-1bit-12000x10000",
            encode(Image.new("1", (12_000, 10_000)), "PNG"),
            "bomb.png",
            "rejected",
        ),
        # Under the cap but with almost no data behind the header (libjpeg would pad it out
        # with gray): the full decode at upload refuses it.
        ("png-ihdr-7000x7000-tiny-data", png_declaring(7_000, 7_000), "big.png", "damaged"),
        ("jpeg-sof-9000x9000-tiny-data", jpeg_declaring(9_000, 9_000), "big.jpg", "damaged"),
    ]
    webp_canvas = bytearray(encode(noisy((16, 16)), "WEBP", lossless=True))
    # A VP8X header declaring a 16384×16384 canvas (268 MP) around a 16×16 bitstream.
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x10\0\0\0" + (16383).to_bytes(3, "little") * 2
    body = bytes(webp_canvas[12:])
    forged = b"WEBP" + vp8x + body
    cases.append(
        (
            "webp-vp8x-16384x16384",
            b"RIFF" + struct.pack("<I", len(forged)) + forged,
            "bomb.webp",
            "rejected",
        )
    )
    for name, data, filename, expected in cases:
        yield Case(name, data, filename, expected, "bomb")


def _not_images() -> Iterator[Case]:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(document.domain)</script></svg>"
    )
    cases: list[tuple[str, bytes, str]] = [
        ("zero-bytes", b"", "empty.jpg"),
        ("one-byte", b"\xff", "one.jpg"),
        ("two-bytes-soi", b"\xff\xd8", "two.jpg"),
        ("png-signature-only", b"\x89PNG\r\n\x1a\n", "sig.png"),
        ("text-as-jpg", b"just some text, honestly\n" * 10, "notes.jpg"),
        (
            "html-as-jpg",
            b"<!doctype html><html><body><script>alert(1)</script></body></html>",
            "page.jpg",
        ),
        ("html-as-png", b"<html><img src=x onerror=alert(1)></html>", "page.png"),
        ("json-as-webp", b'{"not": "an image"}', "data.webp"),
        ("svg-script-as-png", svg, "vector.png"),
        ("svg-script-as-svg", svg, "vector.svg"),
        ("svg-with-xml-declaration", b'<?xml version="1.0"?>\n' + svg, "vector.jpg"),
        ("pdf-as-jpg", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "doc.jpg"),
        ("zip-as-jpg", zip_bytes(), "archive.jpg"),
        ("exe-as-png", b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run", "a.png"),
        ("shell-script-as-jpg", b"#!/bin/sh\nrm -rf /\n", "run.jpg"),
        ("riff-wave-as-webp", b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 28, "sound.webp"),
        ("random-noise", random.Random(7).randbytes(4096), "noise.jpg"),
    ]
    for name, data, filename in cases:
        yield Case(name, data, filename, "rejected", "not-an-image")


def _polyglots() -> Iterator[Case]:
    jpeg = encode(noisy((40, 30)), "JPEG")
    png = encode(noisy((40, 30)), "PNG")
    html = b"<html><script>alert(document.cookie)</script></html>"
    gif_js = b"GIF89a/*\x0a\x00\x0a\x00\x00\x00\x00;*/=1;alert(document.domain);//" + b"\0" * 16
    text_chunk = png_chunk(b"tEXt", b"Comment\0<?php system($_GET['c']); ?>")
    cases: list[tuple[str, bytes, str, Outcome]] = [
        ("jpeg-then-zip", jpeg + zip_bytes(), "poly.jpg", "accepted"),
        ("jpeg-then-html", jpeg + html, "poly.jpg", "accepted"),
        ("png-then-html-after-iend", png + html, "poly.png", "accepted"),
        ("png-with-php-in-text-chunk", png[:33] + text_chunk + png[33:], "poly.png", "accepted"),
        (
            "jpeg-comment-with-html",
            encode(noisy((40, 30)), "JPEG", comment=html),
            "c.jpg",
            "accepted",
        ),
        ("gif-js-polyglot", gif_js, "poly.png", "rejected"),
        ("soi-then-html", b"\xff\xd8\xff\xe0" + html, "poly.jpg", "rejected"),
        ("html-then-jpeg", html + jpeg, "poly.jpg", "rejected"),
    ]
    for name, data, filename, expected in cases:
        yield Case(name, data, filename, expected, "polyglot")


def _unsupported() -> Iterator[Case]:
    picture = noisy((40, 30))
    cases: list[tuple[str, bytes, str]] = [
        ("gif", encode(picture.convert("P"), "GIF"), "a.gif"),
        ("gif-named-png", encode(picture.convert("P"), "GIF"), "a.png"),
        ("bmp", encode(picture, "BMP"), "a.bmp"),
        ("bmp-named-jpg", encode(picture, "BMP"), "a.jpg"),
        ("tiff", encode(picture, "TIFF"), "a.tiff"),
        ("tiff-named-jpg", encode(picture, "TIFF", compression="tiff_lzw"), "a.jpg"),
        ("ico", encode(picture, "ICO", sizes=[(16, 16)]), "favicon.ico"),
        ("ico-named-png", encode(picture.convert("RGBA"), "ICO", sizes=[(16, 16)]), "favicon.png"),
        ("ppm", encode(picture, "PPM"), "a.ppm"),
        ("pcx", encode(picture, "PCX"), "a.png"),
        ("tga", encode(picture, "TGA"), "a.jpg"),
        ("animated-gif", animated("GIF"), "anim.gif"),
    ]
    for name, data, filename in cases:
        yield Case(name, data, filename, "rejected", "unsupported-format")


def _modes() -> Iterator[Case]:
    picture = noisy((60, 40))
    cmyk = picture.convert("CMYK")
    palette = picture.convert("P")
    cases: list[tuple[str, Callable[[], bytes], str]] = [
        ("animated-png", lambda: animated("PNG"), "anim.png"),
        ("animated-webp", lambda: animated("WEBP"), "anim.webp"),
        ("cmyk-jpeg", lambda: encode(cmyk, "JPEG"), "cmyk.jpg"),
        ("gray-jpeg", lambda: encode(picture.convert("L"), "JPEG"), "gray.jpg"),
        ("progressive-jpeg", lambda: encode(picture, "JPEG", progressive=True), "p.jpg"),
        (
            "jpeg-with-restart-markers",
            lambda: encode(picture, "JPEG", restart_marker_blocks=1),
            "r.jpg",
        ),
        (
            "jpeg-4-2-0-quality-1",
            lambda: encode(picture, "JPEG", quality=1, subsampling=2),
            "q.jpg",
        ),
        ("png-16-bit-gray", lambda: encode(Image.new("I;16", (60, 40), 40_000), "PNG"), "deep.png"),
        ("png-palette-transparency", lambda: encode(palette, "PNG", transparency=0), "pal.png"),
        ("png-palette", lambda: encode(palette, "PNG"), "pal.png"),
        ("png-la", lambda: encode(picture.convert("LA"), "PNG"), "la.png"),
        ("png-rgba", lambda: encode(picture.convert("RGBA"), "PNG"), "rgba.png"),
        ("png-1-bit", lambda: encode(picture.convert("1"), "PNG"), "bits.png"),
        ("png-gray", lambda: encode(picture.convert("L"), "PNG"), "gray.png"),
        ("png-interlaced-rgb-16-bit", lambda: png_16_bit_rgb(60, 40), "deep.png"),
        (
            "webp-lossless-alpha",
            lambda: encode(picture.convert("RGBA"), "WEBP", lossless=True),
            "alpha.webp",
        ),
        (
            "webp-lossy-alpha",
            lambda: encode(picture.convert("RGBA"), "WEBP", quality=50),
            "alpha.webp",
        ),
        (
            "jpeg-with-icc-profile",
            lambda: encode(picture, "JPEG", icc_profile=b"\0" * 200),
            "icc.jpg",
        ),
    ]
    for name, make, filename in cases:
        yield Case(name, make(), filename, "accepted", "mode")


def png_16_bit_rgb(width: int, height: int) -> bytes:
    """A 48-bit RGB PNG (Pillow reads it as 8-bit RGB but cannot write it)."""
    rng = random.Random(3)
    rows = b"".join(b"\0" + rng.randbytes(width * 6) for _ in range(height))
    return png_declaring(width, height, depth=16, color=2, idat=zlib.compress(rows))


def _shapes() -> Iterator[Case]:
    cases: list[tuple[str, tuple[int, int], str]] = [
        ("jpeg-1x4000", (1, 4000), "JPEG"),
        ("jpeg-4000x1", (4000, 1), "JPEG"),
        ("png-1x4000", (1, 4000), "PNG"),
        ("png-4000x1", (4000, 1), "PNG"),
        ("png-1x10000", (1, 10_000), "PNG"),
        ("png-10000x1", (10_000, 1), "PNG"),
        ("webp-1x4000", (1, 4000), "WEBP"),
        ("jpeg-1x1", (1, 1), "JPEG"),
        ("png-1x1", (1, 1), "PNG"),
        ("webp-1x1", (1, 1), "WEBP"),
        ("jpeg-2x2", (2, 2), "JPEG"),
        ("png-2x2", (2, 2), "PNG"),
        ("jpeg-5000x100-over-vendor-limit", (5000, 100), "JPEG"),
    ]
    for name, size, fmt in cases:
        data = encode(noisy(size), fmt)
        yield Case(name, data, f"shape.{fmt.lower()}", "accepted", "shape")


def _exif() -> Iterator[Case]:
    picture = noisy((48, 32))
    for orientation in range(1, 9):
        yield Case(
            f"jpeg-exif-orientation-{orientation}",
            with_exif(picture, "JPEG", orientation),
            "o.jpg",
            "accepted",
            "exif",
        )
    yield Case(
        "webp-exif-orientation-6", with_exif(picture, "WEBP", 6), "o.webp", "accepted", "exif"
    )
    yield Case("png-exif-orientation-8", with_exif(picture, "PNG", 8), "o.png", "accepted", "exif")
    yield Case(
        "jpeg-exif-orientation-0", with_exif(picture, "JPEG", 0), "o.jpg", "accepted", "exif"
    )
    yield Case(
        "jpeg-exif-orientation-65535",
        with_exif(picture, "JPEG", 65535),
        "o.jpg",
        "accepted",
        "exif",
    )
    broken: list[tuple[str, bytes]] = [
        ("jpeg-exif-garbage", b"Exif\0\0" + random.Random(5).randbytes(64)),
        ("jpeg-exif-bad-byte-order", b"Exif\0\0XX\0\x2a\0\0\0\x08"),
        # An IFD claiming 65535 entries, and one whose first IFD lies past the end.
        ("jpeg-exif-huge-entry-count", b"Exif\0\0MM\0\x2a\0\0\0\x08\xff\xff" + b"\0" * 12),
        ("jpeg-exif-ifd-offset-past-end", b"Exif\0\0II\x2a\0\xff\xff\xff\x7f"),
        # Orientation stored as ASCII text rather than SHORT.
        (
            "jpeg-exif-orientation-as-text",
            b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x02\0\0\0\x02" + b"6\0\0\0" + b"\0\0\0\0",
        ),
        ("jpeg-exif-empty", b"Exif\0\0"),
    ]
    for name, payload in broken:
        yield Case(name, jpeg_with_app1(payload), "e.jpg", "accepted", "exif")


def _names() -> Iterator[Case]:
    jpeg = encode(noisy((40, 30)), "JPEG")
    png = encode(noisy((40, 30)), "PNG")
    webp = encode(noisy((40, 30)), "WEBP")
    cases: list[tuple[str, bytes, str]] = [
        ("name-path-traversal", jpeg, "../../etc/passwd.jpg"),
        ("name-windows-traversal", jpeg, "..\\..\\windows\\win.ini.jpg"),
        ("name-absolute-path", jpeg, "/etc/shadow.jpg"),
        ("name-control-characters", jpeg, "ph\x01o\x1bto\x7f\t.jpg"),
        ("name-nul-byte", jpeg, "photo.php\x00.jpg"),
        ("name-rtl-override", jpeg, "photo\u202egpj.exe"),
        ("name-html", jpeg, "<img src=x onerror=alert(1)>.jpg"),
        ("name-very-long", jpeg, "a" * 400 + ".jpg"),
        ("name-no-extension", jpeg, "photo"),
        ("name-double-extension", jpeg, "photo.php.jpg"),
        ("png-named-jpg", png, "really-a-png.jpg"),
        ("webp-named-png", webp, "really-a-webp.png"),
        ("jpeg-named-exe", jpeg, "setup.exe"),
    ]
    for name, data, filename in cases:
        yield Case(name, data, filename, "accepted", "file-name")
    # Django drops a file whose name is nothing once cleaned: the form asks for a photo.
    for name, filename in [("name-dot-only", "."), ("name-dot-dot", ".."), ("name-empty", "")]:
        yield Case(name, jpeg, filename, "rejected", "file-name")


def build() -> list[Case]:
    cases = [
        *_truncated(),
        *_corrupt(),
        *_bombs(),
        *_not_images(),
        *_polyglots(),
        *_unsupported(),
        *_modes(),
        *_shapes(),
        *_exif(),
        *_names(),
    ]
    names = [case.name for case in cases]
    if len(set(names)) != len(names):
        raise ValueError("case names must be unique")
    return cases


CASES = build()
