"""What leaves the studio as the original file carries no EXIF (so no GPS position, camera
serial or time), no XMP and no text comments, and keeps its ICC color profile.

``strip_metadata`` edits the file's container (JPEG segments, PNG chunks, the WebP RIFF) and
copies the compressed pixels byte for byte: an original download is never re-encoded. Copies
in another format are stripped while re-encoding, by ``images.convert``.
"""

from __future__ import annotations

import io
import zlib

from PIL import Image

from editor.images import EXIF_ERRORS, ORIENTATION_TAG, UPRIGHT, check_upload, damaged


def _orientation_of(exif: bytes | None) -> int:
    """The Orientation tag of raw EXIF (with or without the ``Exif\\0\\0`` prefix), 1 if none."""
    if not exif:
        return 1
    parsed = Image.Exif()
    try:
        parsed.load(exif)
        value = int(parsed.get(ORIENTATION_TAG, 1))
    except EXIF_ERRORS:
        return 1
    return value if value in UPRIGHT else 1


def _orientation_exif(orientation: int) -> bytes:
    """A minimal TIFF structure holding only the Orientation tag (no ``Exif`` prefix)."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()[len(b"Exif\0\0") :]


# JPEG segments that stay: JFIF (APP0), the ICC profile (APP2 "ICC_PROFILE") and Adobe (APP14,
# which says how to read CMYK/YCCK pixels). Every other APPn (Exif and XMP in APP1, MPF, IPTC in
# APP13...) and comments (COM) go. Markers that are not APPn or COM describe the pixels: kept.
_JPEG_ICC = b"ICC_PROFILE\0"


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xFE:
        return False
    if 0xE0 <= marker <= 0xEF:
        return marker in {0xE0, 0xEE} or (marker == 0xE2 and payload.startswith(_JPEG_ICC))
    return True


def _strip_jpeg(data: bytes) -> bytes:
    """Copy the segments that describe the pixels and the color profile; the compressed scan
    data is copied byte for byte. Whatever follows the end-of-image marker (the extra pictures
    of a multi-picture file, which carry their own EXIF) is left out."""
    size = len(data)
    kept: list[bytes] = [b"\xff\xd8"]
    exif_at: int | None = None
    exif: bytes | None = None
    position = 2
    while True:
        if position >= size or data[position] != 0xFF:
            raise damaged()
        while position < size and data[position] == 0xFF:  # fill bytes before a marker
            position += 1
        if position >= size:
            raise damaged()
        marker = data[position]
        position += 1
        if marker == 0xD9:  # end of image
            kept.append(b"\xff\xd9")
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # restart markers, TEM: no length
            kept.append(bytes((0xFF, marker)))
            continue
        if marker in {0x00, 0xD8} or position + 2 > size:
            raise damaged()
        length = int.from_bytes(data[position : position + 2], "big")
        end = position + length
        if length < 2 or end > size:
            raise damaged()
        payload = data[position + 2 : end]
        if exif_at is None and marker != 0xE0:
            exif_at = len(kept)  # a new EXIF goes after JFIF, before everything else
        if marker == 0xE1 and exif is None and payload.startswith(b"Exif\0\0"):
            exif = payload
        if _keep_jpeg_segment(marker, payload):
            kept.append(data[position - 2 : end])
        position = end
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next real marker
            scan = position
            while True:
                found = data.find(b"\xff", scan)
                if found < 0 or found + 1 >= size:
                    raise damaged()
                following = data[found + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte, restart
                    scan = found + 2
                    continue
                break
            kept.append(data[position:found])
            position = found
    orientation = _orientation_of(exif)
    if orientation != 1:
        payload = b"Exif\0\0" + _orientation_exif(orientation)
        segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
        kept.insert(exif_at if exif_at is not None else 1, segment)
    return b"".join(kept)


# PNG chunks that go: EXIF, the three kinds of text (which hold XMP, comments, camera and
# software notes) and the last-modified time. Everything else, iCCP included, stays.
_PNG_DROPPED = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"})


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _strip_png(data: bytes) -> bytes:
    size = len(data)
    kept: list[bytes] = [data[:8]]
    exif: bytes | None = None
    position = 8
    while True:
        if position + 12 > size:
            raise damaged()
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > size or (position == 8 and kind != b"IHDR"):
            raise damaged()
        if kind not in _PNG_DROPPED:
            kept.append(data[position:end])
        elif kind == b"eXIf" and exif is None:
            exif = data[position + 8 : end - 4]
        position = end
        if kind == b"IEND":
            break
    orientation = _orientation_of(exif)
    if orientation != 1:
        # Right after IHDR: eXIf must come before the image data.
        kept.insert(2, _png_chunk(b"eXIf", _orientation_exif(orientation)))
    return b"".join(kept)


# VP8X flags (https://developers.google.com/speed/webp/docs/riff_container#extended_file_format).
_WEBP_EXIF_FLAG = 0x08
_WEBP_XMP_FLAG = 0x04


def _webp_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + len(body).to_bytes(4, "little") + body + (b"\0" if len(body) % 2 else b"")


def _strip_webp(data: bytes) -> bytes:
    if len(data) < 12:
        raise damaged()
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    if riff_end > len(data) or riff_end < 12:
        raise damaged()
    chunks: list[tuple[bytes, bytes]] = []
    exif: bytes | None = None
    position = 12
    while position < riff_end:
        if position + 8 > riff_end:
            raise damaged()
        kind = data[position : position + 4]
        length = int.from_bytes(data[position + 4 : position + 8], "little")
        end = position + 8 + length
        if end > riff_end:
            raise damaged()
        body = data[position + 8 : end]
        if kind == b"EXIF":
            exif = exif if exif is not None else body
        elif kind != b"XMP ":
            chunks.append((kind, body))
        position = end + length % 2
    if not chunks:
        raise damaged()
    orientation = _orientation_of(exif)
    if chunks[0][0] == b"VP8X" and len(chunks[0][1]) >= 10:
        header = bytearray(chunks[0][1])
        header[0] &= ~(_WEBP_EXIF_FLAG | _WEBP_XMP_FLAG) & 0xFF
        if orientation != 1:
            header[0] |= _WEBP_EXIF_FLAG
            chunks.append((b"EXIF", _orientation_exif(orientation)))
        chunks[0] = (b"VP8X", bytes(header))
    # A simple (lossy or lossless) WebP without VP8X cannot carry metadata at all: nothing to
    # keep, since a file that had an EXIF chunk there was not valid to begin with.
    body = b"WEBP" + b"".join(_webp_chunk(kind, chunk) for kind, chunk in chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def strip_metadata(data: bytes) -> bytes:
    """The same picture with its EXIF (GPS included), XMP and comments removed, by editing the
    file's container: the compressed pixels are copied byte for byte, never re-encoded, and the
    ICC color profile stays. A photo whose EXIF said to rotate it keeps an EXIF block with that
    one tag, so it displays as before (dropping the tag would turn it sideways; rotating the
    pixels would mean re-encoding the original). Raises ImageRejected for what we cannot read."""
    header = check_upload(io.BytesIO(data))  # header only: the format, and a sane size
    strip = {"JPEG": _strip_jpeg, "PNG": _strip_png, "WEBP": _strip_webp}[header.format]
    return strip(data)
