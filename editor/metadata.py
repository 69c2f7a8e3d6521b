"""Image files at the level of their containers (JPEG segments, PNG chunks, the WebP RIFF):
what the studio keeps of an upload, and what leaves it as the original file.

Both carry no EXIF (so no GPS position, camera serial or time) but the orientation, no XMP and
no text comments, and keep their ICC color profile: ``strip_metadata`` edits the container and
copies the compressed pixels byte for byte, so an original is never re-encoded. Copies in
another format are stripped while re-encoding, by ``images.convert``.

``clean_upload`` first decodes an upload whole, refusing one that is cut short, pads its
picture out or fails a checksum, and cuts off whatever follows the picture's end (a ZIP or
HTML file stuck on behind it), then strips it: the inputs the studio stores, sends to vendors
and shows are what it returns.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PIL import Image

from editor import images
from editor.images import EXIF_ERRORS, ORIENTATION_TAG, UPRIGHT, check_upload, damaged

# The formats in an ISO base media file (a HEIC, an AVIF).
ISOBMFF = frozenset({"HEIF", "AVIF"})


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


# --- Photo details: what the studio keeps of a photo's EXIF beside it -------------------------
#
# At submit, the capture date, the camera and its settings are read from the upload and kept
# on the job (``Job.photo_exif``), never its location, serial numbers, owner's name or the
# maker's private notes; the stored input itself keeps none of them (``clean_upload``). A
# download puts them back on the result when the person asks (editor.downloads).

# IFD0 tags and the Exif sub-IFD's, by what they say.
_EXIF_IFD = 0x8769
_CAMERA_TAGS = frozenset({0x010F, 0x0110})  # Make, Model
_DATE_TAGS = frozenset({0x0132})  # DateTime
_EXIF_DATE_TAGS = frozenset(
    # DateTimeOriginal, DateTimeDigitized, OffsetTime(Original, Digitized), SubSecTime*
    {0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0x9290, 0x9291, 0x9292}
)
_LENS_TAGS = frozenset({0xA433, 0xA434})  # LensMake, LensModel
_SETTINGS_TAGS = frozenset(
    # ExposureTime, FNumber, ExposureProgram, ISO, ExposureBias, MeteringMode, Flash,
    # FocalLength, WhiteBalance, FocalLengthIn35mmFilm
    {0x829A, 0x829D, 0x8822, 0x8827, 0x9204, 0x9207, 0x9209, 0x920A, 0xA403, 0xA405}
)
_SOFTWARE_TAGS = frozenset({0x0131})  # Software
# What a download keeping "capture date and camera" carries, and what the studio keeps at all
# ("as uploaded"): (IFD0 tags, Exif sub-IFD tags).
CAPTURE_TAGS = (_CAMERA_TAGS | _DATE_TAGS, _EXIF_DATE_TAGS | _LENS_TAGS)
KEPT_TAGS = (
    _CAMERA_TAGS | _DATE_TAGS | _SOFTWARE_TAGS,
    _EXIF_DATE_TAGS | _LENS_TAGS | _SETTINGS_TAGS,
)


def _picked(exif: Image.Exif, tags: tuple[frozenset[int], frozenset[int]]) -> bytes:
    """The TIFF structure (no ``Exif`` prefix) of the tags of ``exif`` named in ``tags``; b""
    when none of them is there."""
    top, sub = tags
    picked = Image.Exif()
    for tag in top:
        if tag in exif:
            picked[tag] = exif[tag]
    found = exif.get_ifd(_EXIF_IFD)
    inner = {tag: found[tag] for tag in sub if tag in found}
    if inner:
        picked.get_ifd(_EXIF_IFD).update(inner)
    if not len(picked) and not inner:
        return b""
    return picked.tobytes()[len(b"Exif\0\0") :]


def photo_details(data: bytes) -> bytes:
    """What the studio keeps of an upload's EXIF (``KEPT_TAGS``: date, camera, lens and
    exposure settings; never the location), as a TIFF structure; b"" when it has none or
    none we can read. Reads the header only."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return _picked(image.getexif(), KEPT_TAGS)
    except (*EXIF_ERRORS, RuntimeError, Image.DecompressionBombError):
        return b""


def details_for(kept: bytes, *, everything: bool) -> bytes:
    """Of the details kept with a photo (``photo_details``): all of them (``everything``), or
    the capture date and camera only."""
    if not kept:
        return b""
    exif = Image.Exif()
    try:
        exif.load(kept)
        return _picked(exif, KEPT_TAGS if everything else CAPTURE_TAGS)
    except EXIF_ERRORS:
        return b""


def _exif_block(orientation: int, details: bytes) -> bytes | None:
    """The EXIF a stripped file keeps (no ``Exif`` prefix): its orientation when it has one,
    and ``details`` (a TIFF structure from ``details_for``); None when that is nothing."""
    if not details:
        return _orientation_exif(orientation) if orientation != 1 else None
    exif = Image.Exif()
    exif.load(details)
    if orientation != 1:
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


# A piece of a JPEG walk that is not a marker segment: the compressed data after a scan header
# (restart markers included).
_ENTROPY = -1
# What ends a scan's compressed data: a marker, that is 0xFF followed by anything but a stuffed
# zero byte or a restart marker (searched for in C: a photo's scan is megabytes long).
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")
# Markers with no length after them: restart markers and TEM.
_BARE_MARKERS = frozenset({*range(0xD0, 0xD8), 0x01})


@dataclass(frozen=True)
class _Piece:
    """One piece of a JPEG file: a marker (with its segment when it has one) or compressed
    data. A segment's payload is ``data[start + 4 : end]``."""

    marker: int
    start: int
    end: int


def _walk_jpeg(data: bytes) -> list[_Piece]:
    """The pieces of a JPEG after its start-of-image marker, up to and including the
    end-of-image marker that ends the picture. Segments are stepped over by their length and
    compressed data up to the marker that ends it, so an FFD9 inside a segment (the end of the
    thumbnail an EXIF block carries) is not taken for the end; whatever follows the real end
    (the extra pictures of a multi-picture file, or a ZIP or HTML file stuck on behind) is not
    part of the walk."""
    size = len(data)
    pieces: list[_Piece] = []
    position = 2
    while True:
        if position >= size or data[position] != 0xFF:
            raise damaged()
        while position < size and data[position] == 0xFF:  # fill bytes before a marker
            position += 1
        if position >= size:
            raise damaged()
        marker = data[position]
        start = position - 1
        position += 1
        if marker == 0xD9:  # end of image
            pieces.append(_Piece(marker, start, position))
            return pieces
        if marker in _BARE_MARKERS:
            pieces.append(_Piece(marker, start, position))
            continue
        if marker in {0x00, 0xD8} or position + 2 > size:
            raise damaged()
        length = int.from_bytes(data[position : position + 2], "big")
        end = position + length
        if length < 2 or end > size:
            raise damaged()
        pieces.append(_Piece(marker, start, end))
        position = end
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next real marker
            found = _SCAN_END.search(data, position)
            if found is None:
                raise damaged()
            pieces.append(_Piece(_ENTROPY, position, found.start()))
            position = found.start()


def _strip_jpeg(data: bytes, pieces: list[_Piece], details: bytes = b"") -> bytes:
    """Copy the segments that describe the pixels and the color profile; the compressed scan
    data is copied byte for byte. Whatever follows the end-of-image marker is left out."""
    kept: list[bytes] = [b"\xff\xd8"]
    exif_at: int | None = None
    exif: bytes | None = None
    for piece in pieces:
        whole = data[piece.start : piece.end]
        if piece.marker == _ENTROPY or piece.marker in _BARE_MARKERS or piece.marker == 0xD9:
            kept.append(whole)
            continue
        payload = whole[4:]
        if exif_at is None and piece.marker != 0xE0:
            exif_at = len(kept)  # a new EXIF goes after JFIF, before everything else
        if piece.marker == 0xE1 and exif is None and payload.startswith(b"Exif\0\0"):
            exif = payload
        if _keep_jpeg_segment(piece.marker, payload):
            kept.append(whole)
    block = _exif_block(_orientation_of(exif), details)
    if block is not None:
        payload = b"Exif\0\0" + block
        segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
        kept.insert(exif_at if exif_at is not None else 1, segment)
    return b"".join(kept)


# Start-of-frame markers of Huffman-coded JPEGs whose blocks we can count: baseline, extended
# sequential and progressive. (Arithmetic coding can spend less than a bit on a block.)
_HUFFMAN_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_SEQUENTIAL_HUFFMAN = frozenset({0xC0, 0xC1})
# Every start-of-frame marker (C4, C8 and CC are other segments in the same range).
_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _ceil(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _blocks_in_scan(frame: bytes, scan: bytes) -> int:
    """How many 8×8 blocks a scan codes, from the frame header (the picture's size and its
    components' sampling factors) and the scan header (its components), payloads as stored."""
    if len(frame) < 6 or len(frame) < 6 + 3 * frame[5]:
        raise damaged()
    height = int.from_bytes(frame[1:3], "big")
    width = int.from_bytes(frame[3:5], "big")
    sampling = {
        frame[6 + 3 * index]: (frame[7 + 3 * index] >> 4, frame[7 + 3 * index] & 0x0F)
        for index in range(frame[5])
    }
    h_max = max((h for h, _v in sampling.values()), default=0)
    v_max = max((v for _h, v in sampling.values()), default=0)
    components = [scan[1 + 2 * index] for index in range(scan[0])]
    if not h_max or not v_max or not components or not set(components) <= set(sampling):
        raise damaged()
    if len(components) == 1:  # not interleaved: the component's own blocks, row by row
        h, v = sampling[components[0]]
        return _ceil(_ceil(width * h, h_max), 8) * _ceil(_ceil(height * v, v_max), 8)
    mcus = _ceil(width, 8 * h_max) * _ceil(height, 8 * v_max)
    return mcus * sum(h * v for h, v in (sampling[c] for c in components))


def _check_jpeg_pixels(data: bytes, pieces: list[_Piece]) -> None:
    """Refuse a JPEG whose compressed data ends before its picture does. libjpeg does not: it
    fills what is missing with flat gray and only warns, which Pillow does not pass on, so a
    header declaring 10,000×10,000 pixels over a 320×240 scan decodes without an error.

    A baseline JPEG (one scan) is decoded whole with its scan's end made the end of the file
    (``images.check_pixels``): a short scan then runs out of data, which is an error. A
    progressive one is decoded whole as it is, and each scan that codes every block's first
    (DC) value must hold at least a bit per block, its least possible size: a lying header
    fails that by orders of magnitude."""
    frames = [piece for piece in pieces if piece.marker in _FRAMES]
    scans = [index for index, piece in enumerate(pieces) if piece.marker == 0xDA]
    if len(frames) != 1 or not scans:
        raise damaged()
    frame = frames[0]
    frame_header = data[frame.start + 4 : frame.end]
    if frame.marker in _HUFFMAN_FRAMES:
        for index in scans:
            header = data[pieces[index].start + 4 : pieces[index].end]
            if len(header) < 4 or len(header) < 1 + 2 * header[0] + 3:
                raise damaged()
            spectral_start, approximation_high = header[-3], header[-1] >> 4
            if spectral_start != 0 or approximation_high != 0:
                continue  # an AC or refining scan: a run of empty blocks can take a few bits
            coded = pieces[index + 1]
            if (coded.end - coded.start) * 8 < _blocks_in_scan(frame_header, header):
                raise images.incomplete()
    if frame.marker in _SEQUENTIAL_HUFFMAN and len(scans) == 1:
        images.check_pixels(data, scan_end=pieces[scans[0] + 1].end)
    else:
        images.check_pixels(data[: pieces[-1].end])


# PNG chunks that go: EXIF, the three kinds of text (which hold XMP, comments, camera and
# software notes) and the last-modified time. Everything else, iCCP included, stays.
_PNG_DROPPED = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"})


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def _strip_png(data: bytes, details: bytes = b"") -> bytes:
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
    block = _exif_block(_orientation_of(exif), details)
    if block is not None:
        # Right after IHDR: eXIf must come before the image data.
        kept.insert(2, _png_chunk(b"eXIf", block))
    return b"".join(kept)


# Bits per pixel of each PNG color type, per bit of depth: its number of channels.
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# The seven passes of Adam7 interlacing: first column and row, then the steps between them.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def _png_raw_size(header: bytes) -> int:
    """How many bytes the picture's data inflates to, from its IHDR payload: a filter byte
    and the packed pixels of each row, of each interlacing pass."""
    if len(header) != 13 or header[9] not in _PNG_CHANNELS or header[12] > 1:
        raise damaged()
    width = int.from_bytes(header[0:4], "big")
    height = int.from_bytes(header[4:8], "big")
    bits = header[8] * _PNG_CHANNELS[header[9]]
    passes = _ADAM7 if header[12] else ((0, 0, 1, 1),)
    total = 0
    for column, row, step_x, step_y in passes:
        columns, rows = _ceil(width - column, step_x), _ceil(height - row, step_y)
        if columns > 0 and rows > 0:
            total += rows * (1 + _ceil(columns * bits, 8))
    return total


# How much compressed data is fed to zlib at a time (what it gives back is capped at 16 times
# that, 1 MB).
_SLICE = 1 << 16


def _inflate(inflater: Any, body: memoryview, wanted: int) -> int:
    """Inflate ``body`` (one IDAT chunk's data) into nothing, counting the bytes it gives, until
    the stream ends or more than ``wanted`` came out (too much data: the rest need not be
    read). Fed and drained in slices, so no slice of pixels or of a huge chunk is copied
    whole."""
    inflated = 0
    try:
        for offset in range(0, len(body), _SLICE):
            pending: bytes | memoryview = body[offset : offset + _SLICE]
            while pending and not inflater.eof:
                inflated += len(inflater.decompress(pending, 16 * _SLICE))
                if inflated > wanted:
                    return inflated
                pending = inflater.unconsumed_tail
    except zlib.error:
        raise damaged() from None
    return inflated


def _check_png_pixels(data: bytes) -> None:
    """Refuse a PNG with a chunk that fails its checksum (Pillow checks only a few of them
    while decoding, not the image data's) or whose image data is cut short: every chunk's
    CRC is checked, and the compressed data inflated in slices (its own Adler-32 checked by
    zlib) and counted against what the header says the picture needs, so no picture is held
    in memory."""
    size = len(data)
    position = 8
    raw_size = 0
    inflater = zlib.decompressobj()
    inflated = 0
    while True:
        if position + 12 > size:
            raise damaged()
        length = int.from_bytes(data[position : position + 4], "big")
        end = position + 12 + length
        if end > size:
            raise damaged()
        kind = data[position + 4 : position + 8]
        body = memoryview(data)[position + 8 : end - 4]
        if zlib.crc32(body, zlib.crc32(kind)) != int.from_bytes(data[end - 4 : end], "big"):
            raise images.bad_checksum()
        if kind == b"IHDR":
            raw_size = _png_raw_size(bytes(body))
        elif kind == b"IDAT" and inflated <= raw_size:
            inflated += _inflate(inflater, body, raw_size - inflated)
        position = end
        if kind == b"IEND":
            break
    if inflated < raw_size or not (inflater.eof or inflated > raw_size):
        raise images.incomplete()


# VP8X flags (https://developers.google.com/speed/webp/docs/riff_container#extended_file_format).
_WEBP_EXIF_FLAG = 0x08
_WEBP_XMP_FLAG = 0x04


def _webp_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + len(body).to_bytes(4, "little") + body + (b"\0" if len(body) % 2 else b"")


def _strip_webp(data: bytes, details: bytes = b"") -> bytes:
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
    block = _exif_block(_orientation_of(exif), details)
    if chunks[0][0] == b"VP8X" and len(chunks[0][1]) >= 10:
        header = bytearray(chunks[0][1])
        header[0] &= ~(_WEBP_EXIF_FLAG | _WEBP_XMP_FLAG) & 0xFF
        if block is not None:
            header[0] |= _WEBP_EXIF_FLAG
            chunks.append((b"EXIF", block))
        chunks[0] = (b"VP8X", bytes(header))
    # A simple (lossy or lossless) WebP without VP8X cannot carry metadata at all: nothing to
    # keep, since a file that had an EXIF chunk there was not valid to begin with. (Details a
    # download would add are then left out: the file's pixels are not re-encoded for them.)
    body = b"WEBP" + b"".join(_webp_chunk(kind, chunk) for kind, chunk in chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


# --- HEIF and AVIF (ISO-BMFF): metadata items overwritten where they lie ----------------------
#
# A HEIC or AVIF keeps its EXIF and XMP as items of its ``meta`` box, located by ``iloc``
# (ISO/IEC 23008-12, 14496-12). Rather than rebuild the container (every offset in iloc would
# move), each metadata item is overwritten in place, at its own length: the EXIF with one that
# holds only the orientation (or none), zero-padded, and the XMP with spaces. The coded picture
# and its colour profile (``colr``, an item property) are not touched.

_HEIF_EXIF = b"Exif"
_HEIF_MIME = b"mime"
_XMP_TYPE = b"application/rdf+xml"


class _NotEditable(Exception):
    """A container this editor does not follow (the upload is then re-encoded instead)."""


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes between ``start`` and ``end``: (type, where its payload starts, its end)."""
    position = start
    while position + 8 <= end:
        size = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        header = 8
        if size == 1:
            size = int.from_bytes(data[position + 8 : position + 16], "big")
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise _NotEditable
        yield kind, position + header, position + size
        position += size


def _number(data: bytes, at: int, size: int) -> tuple[int, int]:
    """A big-endian number of ``size`` bytes at ``at``, and where the next field starts."""
    if at + size > len(data):
        raise _NotEditable
    return int.from_bytes(data[at : at + size], "big"), at + size


def _metadata_items(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """Item id -> "exif" or "xmp", from an ``iinf`` box's payload (a full box)."""
    version = data[start]
    position = start + 4 + (2 if version == 0 else 4)
    found: dict[int, bytes] = {}
    for kind, payload, box_end in _boxes(data, position, end):
        if kind != b"infe" or data[payload] < 2:
            continue
        item_id, at = _number(data, payload + 4, 2 if data[payload] == 2 else 4)
        item_type = data[at + 2 : at + 6]
        name_end = data.find(b"\0", at + 6, box_end)
        content_type = data[name_end + 1 : box_end].split(b"\0")[0] if name_end >= 0 else b""
        if item_type == _HEIF_EXIF:
            found[item_id] = b"exif"
        elif item_type == _HEIF_MIME and content_type == _XMP_TYPE:
            found[item_id] = b"xmp"
    return found


def _item_ranges(data: bytes, start: int, idat: int | None) -> dict[int, list[tuple[int, int]]]:
    """Item id -> the (start, end) file ranges of its data, from an ``iloc`` box's payload."""
    version = data[start]
    sizes = data[start + 4]
    offset_size, length_size = sizes >> 4, sizes & 0x0F
    more = data[start + 5]
    base_size, index_size = more >> 4, (more & 0x0F) if version in {1, 2} else 0
    count, at = _number(data, start + 6, 2 if version < 2 else 4)
    ranges: dict[int, list[tuple[int, int]]] = {}
    for _item in range(count):
        item_id, at = _number(data, at, 2 if version < 2 else 4)
        method = 0
        if version in {1, 2}:
            method, at = _number(data, at, 2)
            method &= 0x0F
        at += 2  # data_reference_index
        base, at = _number(data, at, base_size)
        extents, at = _number(data, at, 2)
        spans: list[tuple[int, int]] = []
        for _extent in range(extents):
            at += index_size
            offset, at = _number(data, at, offset_size)
            length, at = _number(data, at, length_size)
            origin = 0 if method == 0 else (idat if method == 1 and idat is not None else None)
            if origin is None or length == 0:
                spans.append((-1, -1))  # by reference, or "to the end of the file"
                continue
            spans.append((origin + base + offset, origin + base + offset + length))
        ranges[item_id] = spans
    return ranges


def _blank_exif(raw: bytes, size: int) -> bytes:
    """An EXIF item's new content of ``size`` bytes: only the orientation, or an empty EXIF."""
    orientation = 1
    if len(raw) >= 4:
        skip = int.from_bytes(raw[:4], "big")
        orientation = _orientation_of(raw[4 + skip :])
    tiff = _orientation_exif(orientation) if orientation != 1 else _EMPTY_TIFF
    body = b"\0\0\0\0" + tiff
    if len(body) > size:
        raise _NotEditable
    return body.ljust(size, b"\0")


# A big-endian TIFF header and an IFD with no entries.
_EMPTY_TIFF = b"MM\0*\0\0\0\x08" + b"\0\0" + b"\0\0\0\0"


def _strip_isobmff(data: bytes) -> bytes:
    """A HEIC or AVIF with its EXIF (but the orientation) and XMP items overwritten in place.
    Raises _NotEditable for a layout this does not follow."""
    try:
        meta = next((box for box in _boxes(data, 0, len(data)) if box[0] == b"meta"), None)
        if meta is None:
            raise _NotEditable
        children = list(_boxes(data, meta[1] + 4, meta[2]))
        infos = [box for box in children if box[0] == b"iinf"]
        locations = [box for box in children if box[0] == b"iloc"]
        idat = next((box[1] for box in children if box[0] == b"idat"), None)
        if not infos or not locations:
            raise _NotEditable
        kinds = _metadata_items(data, infos[0][1], infos[0][2])
        ranges = _item_ranges(data, locations[0][1], idat)
    except IndexError:
        raise _NotEditable from None
    edited = bytearray(data)
    for item_id, kind in kinds.items():
        spans = ranges.get(item_id, [])
        if any(start < 0 or end > len(data) for start, end in spans):
            raise _NotEditable
        raw = b"".join(data[start:end] for start, end in spans)
        new = _blank_exif(raw, len(raw)) if kind == b"exif" else b" " * len(raw)
        position = 0
        for start, end in spans:
            edited[start:end] = new[position : position + end - start]
            position += end - start
    return bytes(edited)


def _clean_isobmff(data: bytes) -> bytes:
    """A HEIC or AVIF upload decoded whole (refused when damaged), then stripped in place; one
    whose container this does not follow is re-encoded as a JPEG instead (no metadata)."""
    images.check_pixels(data)
    try:
        return _strip_isobmff(data)
    except _NotEditable:
        return images.convert(data, "JPEG", 95)


def clean_upload(data: bytes) -> bytes:
    """An upload as the studio keeps it, or ImageRejected with why not.

    Its pixels are decoded whole first: a file that is cut short, pads its picture out (a
    header promising more pixels than the data holds) or fails a checksum is refused here,
    before it costs a vendor credit. Then whatever follows the picture's end is cut off (a
    ZIP or HTML file stuck on behind a JPEG or PNG) and the metadata that says where and with
    what it was taken goes, as ``strip_metadata`` does; the compressed pixels, the ICC color
    profile and the orientation stay byte for byte, never re-encoded."""
    header = check_upload(io.BytesIO(data))
    if header.format == "JPEG":
        pieces = _walk_jpeg(data)
        _check_jpeg_pixels(data, pieces)
        return _strip_jpeg(data, pieces)
    if header.format == "PNG":
        _check_png_pixels(data)
        return _strip_png(data)
    if header.format in ISOBMFF:
        return _clean_isobmff(data)
    stripped = _strip_webp(data)
    images.check_pixels(stripped)
    return stripped


def strip_metadata(data: bytes, details: bytes = b"") -> bytes:
    """The same picture with its EXIF (GPS included), XMP and comments removed, by editing the
    file's container: the compressed pixels are copied byte for byte, never re-encoded, and the
    ICC color profile stays. A photo whose EXIF said to rotate it keeps an EXIF block with that
    one tag, so it displays as before (dropping the tag would turn it sideways; rotating the
    pixels would mean re-encoding the original). ``details`` (``details_for``): EXIF tags to
    write back, the capture date and camera for example. Raises ImageRejected for what we
    cannot read."""
    header = check_upload(io.BytesIO(data))  # header only: the format, and a sane size
    if header.format == "JPEG":
        return _strip_jpeg(data, _walk_jpeg(data), details)
    if header.format in ISOBMFF:
        try:
            return _strip_isobmff(data)
        except _NotEditable:
            return images.convert(data, "JPEG", 95)
    return _strip_png(data, details) if header.format == "PNG" else _strip_webp(data, details)
