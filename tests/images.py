"""Small images made by the tests themselves: plain ones, a camera photo with GPS EXIF, an ICC
profile and XMP (what must never leave the studio), and uploads for forms."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageCms, ImageDraw

from editor import images, metadata


def make_image(
    size: tuple[int, int] = (64, 48),
    fmt: str = "JPEG",
    mode: str = "RGB",
    color: tuple[int, ...] | int = (120, 80, 200),
    **save: object,
) -> bytes:
    image = Image.new(mode, size, color)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- A camera photo ----------------------------------------------------------------------------

GPS_IFD = 0x8825
EXIF_IFD = 0x8769
BODY_SERIAL = 0xA431
SERIAL = "SN-4417-0042"
MAKE = 0x010F
ORIENTATION = 0x0112
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>Secret place</rdf:RDF></x:xmpmeta>'
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif(orientation: int | None = None) -> Image.Exif:
    """Camera EXIF with a GPS position and the camera's serial number, as a phone writes it."""
    data = Image.Exif()
    data[MAKE] = "PhoneCorp"
    data.get_ifd(EXIF_IFD)[BODY_SERIAL] = SERIAL
    if orientation is not None:
        data[ORIENTATION] = orientation
    gps = data.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.0)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.0)
    return data


def picture(size: tuple[int, int] = (96, 64), mode: str = "RGB") -> Image.Image:
    """Not flat: a gradient and a shape, so re-encoding would show in the bytes."""
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (gradient, gradient.rotate(90), gradient.point(lambda v: 255 - v)))
    ImageDraw.Draw(image).ellipse((10, 10, size[0] // 2, size[1] // 2), fill=(250, 200, 40))
    return image.convert(mode)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def camera_jpeg(orientation: int | None = 6, **options: object) -> bytes:
    return encode(
        picture(),
        "JPEG",
        quality=90,
        exif=exif(orientation),
        icc_profile=SRGB,
        comment=b"shot at home",
        xmp=XMP,
        **options,
    )


def has_gps(data: bytes) -> bool:
    image = Image.open(io.BytesIO(data))
    found = image.getexif()
    return bool(found.get_ifd(GPS_IFD)) or GPS_IFD in found


def private_metadata(data: bytes) -> set[str]:
    """What of a photo's private metadata ``data`` still carries: "gps", "serial", "comment"
    (JPEG COM or a PNG text chunk) or "xmp"."""
    image = Image.open(io.BytesIO(data))
    found: set[str] = set()
    if has_gps(data):
        found.add("gps")
    if SERIAL.encode() in data or BODY_SERIAL in image.getexif().get_ifd(EXIF_IFD):
        found.add("serial")
    if "comment" in image.info or b"shot at home" in data:
        found.add("comment")
    if "xmp" in image.info or b"Secret place" in data:
        found.add("xmp")
    return found


# --- Damaged files and polyglots ---------------------------------------------------------------


def lying_jpeg(
    declared: tuple[int, int] = (10_000, 10_000),
    actual: tuple[int, int] = (320, 240),
    **options: object,
) -> bytes:
    """A JPEG whose frame header declares ``declared`` pixels over the data of ``actual``:
    libjpeg pads the rest with gray and only warns."""
    data = bytearray(encode(picture(actual), "JPEG", quality=85, **options))
    frame = next(data.find(marker) for marker in (b"\xff\xc0", b"\xff\xc2") if marker in data)
    # marker (2), length (2), precision (1), then height and width
    data[frame + 5 : frame + 9] = struct.pack(">HH", declared[1], declared[0])
    return bytes(data)


def cut_jpeg(fraction: float = 0.5) -> bytes:
    """A JPEG cut short inside its compressed data and closed with an end-of-image marker,
    as a broken copy or upload leaves it."""
    whole = encode(picture((320, 240)), "JPEG", quality=90)
    scan = whole.index(b"\xff\xda")
    return whole[: scan + int((len(whole) - scan) * fraction)] + b"\xff\xd9"


def png_with_bad_crc() -> bytes:
    """A PNG whose pixel data is intact but whose IDAT checksum is not."""
    data = bytearray(encode(picture(), "PNG"))
    idat = data.index(b"IDAT")
    length = int.from_bytes(data[idat - 4 : idat], "big")
    data[idat + 4 + length] ^= 0x01  # the first byte of its CRC
    return bytes(data)


def png_cut_data() -> bytes:
    """A PNG whose chunks and checksums are all correct but whose image data stops halfway."""
    whole = encode(picture(), "PNG")
    idat = whole.index(b"IDAT")
    length = int.from_bytes(whole[idat - 4 : idat], "big")
    half = whole[idat + 4 : idat + 4 + length // 2]
    chunk = struct.pack(">I", len(half)) + b"IDAT" + half
    chunk += struct.pack(">I", zlib.crc32(b"IDAT" + half))
    return whole[: idat - 4] + chunk + whole[idat + 8 + length :]


HTML_TAIL = b"<html><script>alert(document.cookie)</script></html>"


def zip_tail() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", HTML_TAIL)
    return buffer.getvalue()


# --- Uploads -----------------------------------------------------------------------------------


def photo(
    size: tuple[int, int] = (200, 150), fmt: str = "JPEG", name: str = "p.jpg"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, make_image(size, fmt), content_type="image/jpeg")


def photos(count: int) -> list[SimpleUploadedFile]:
    return [photo(size=(200 + index, 150), name=f"holiday {index}.jpg") for index in range(count)]


def huge_png(size: tuple[int, int], *, bits: int = 16) -> bytes:
    """An RGBA PNG of ``size`` at 8 or 16 bits a channel, all zeros: megapixels that compress to
    a few kilobytes and are made in milliseconds, the shape of a picture that costs far more
    memory to decode than its file suggests."""
    width, height = size
    row = b"\0" + bytes(width * 4 * bits // 8)  # filter type 0, then the pixels
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, bits, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def count_conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the format of every ``editor.images.convert`` call from now on (the list grows
    as they happen): a converted download must be made once, then sent as kept."""
    made: list[str] = []
    convert = images.convert

    def counting(data: bytes, fmt: str, quality: int, *, exif: bytes = b"") -> bytes:
        made.append(fmt)
        return convert(data, fmt, quality, exif=exif)

    monkeypatch.setattr(images, "convert", counting)
    return made


# --- Phone photos: HEIC and AVIF -------------------------------------------------------------

MODEL = 0x0110
DATE_TAKEN = 0x9003
F_NUMBER = 0x829D
TAKEN_ON = "2026:07:14 18:30:05"
BLUE = (20, 40, 230)
RED = (230, 30, 20)


def upright_picture(size: tuple[int, int] = (48, 96)) -> Image.Image:
    """A portrait picture, blue on top and red below: which way is up shows in two pixels."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (0, 0, size[0], size[1] // 2))
    return image


def is_upright(image: Image.Image) -> bool:
    """Portrait, with blue on top and red below (``upright_picture`` turned back up)."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    top, bottom = (
        rgb.getpixel((width // 2, height // 8)),
        rgb.getpixel((width // 2, height * 7 // 8)),
    )
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    return height > width and top[2] > 150 > top[0] and bottom[0] > 150 > bottom[2]


def phone_exif() -> Image.Exif:
    """What a phone writes: ``exif(6)`` (GPS, serial, orientation "turn 90° clockwise") with
    the camera's model, the capture date and an aperture."""
    data = exif(6)
    data[MODEL] = "Phone 15"
    data.get_ifd(EXIF_IFD)[DATE_TAKEN] = TAKEN_ON
    data.get_ifd(EXIF_IFD)[F_NUMBER] = 1.8
    return data


def phone_photo(fmt: str = "HEIF", size: tuple[int, int] = (48, 96), **options: object) -> bytes:
    """A photo taken sideways, as phones store one: the sensor's pixels a quarter turn off
    (landscape) and an EXIF orientation that says to turn them back (a HEIC keeps it as an
    ``irot`` box too), with ``phone_exif``, XMP and an ICC profile. ``fmt``: "HEIF" or
    "AVIF"."""
    sideways = upright_picture(size).transpose(Image.Transpose.ROTATE_90)
    return encode(
        sideways,
        fmt,
        quality=90,
        exif=phone_exif().tobytes(),
        xmp=XMP,
        icc_profile=SRGB,
        **options,
    )


def cut_heic() -> bytes:
    """A HEIC whose header is whole but whose coded picture stops halfway, as an interrupted
    copy leaves it (a noisy picture: the coded data of a flat one is too short to cut)."""
    noise = Image.frombytes("RGB", (128, 96), bytes((i * 7919) % 251 for i in range(128 * 96 * 3)))
    whole = encode(noise, "HEIF", quality=80)
    coded = whole.index(b"mdat") + 4
    return whole[: coded + (len(whole) - coded) // 2]


def phone_details() -> bytes:
    """What the studio keeps beside a phone photo (``metadata.photo_details``) of
    ``phone_exif``."""
    return metadata.photo_details(encode(Image.new("RGB", (8, 8)), "JPEG", exif=phone_exif()))


DAMAGED_HEIC = (
    "IMG_0042.HEIC: This image is damaged or incomplete: its data ends before the picture does."
)


def gray_jpeg(size: tuple[int, int], *, progressive: bool = False) -> bytes:
    """A real YCbCr 4:2:0 JPEG of ``size``, flat mid-gray, written without any pixels in
    memory: megapixels in about a quarter of a bit each, so a 200 MP photo is a 1 MB file made
    in milliseconds that libjpeg decodes like any other of its size (a small JPEG cannot fake
    one: the decoder reads the size from the frame header and the data must cover it).

    Every block's DC difference is 0 (gray 128 after the level shift) and it has no AC
    coefficients. Huffman tables of one code each ("0": DC category 0, AC end-of-block) make
    each block two bits in a baseline scan, zero bits all through, then 1-bits padding the last
    byte. ``progressive``: a progressive frame with a single DC scan (a bit per block), which
    is valid: coefficients no scan codes stay zero."""
    width, height = size
    mcus = -(-width // 16) * -(-height // 16)
    blocks = mcus * 6  # four Y blocks, one Cb, one Cr

    def segment(marker: int, body: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body

    def scan_data(bits: int) -> bytes:
        data = bytearray(-(-bits // 8))
        if bits % 8:
            data[-1] = (1 << (8 - bits % 8)) - 1
        return bytes(data)

    one_code = bytes([1] + [0] * 15)  # one code of length 1, for the symbol that follows
    tables = segment(0xC4, b"\x00" + one_code + b"\x00" + b"\x10" + one_code + b"\x00")
    quantization = segment(0xDB, b"\x00" + bytes([1] * 64))
    components = b"\x01\x22\x00" + b"\x02\x11\x00" + b"\x03\x11\x00"
    frame = segment(
        0xC2 if progressive else 0xC0, struct.pack(">BHHB", 8, height, width, 3) + components
    )
    selectors = b"\x03" + b"\x01\x00\x02\x00\x03\x00"
    if progressive:
        scan = segment(0xDA, selectors + b"\x00\x00\x00") + scan_data(blocks)
    else:
        scan = segment(0xDA, selectors + b"\x00\x3f\x00") + scan_data(blocks * 2)
    return b"\xff\xd8" + quantization + frame + tables + scan + b"\xff\xd9"
