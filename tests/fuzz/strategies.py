"""What the property-based tier sends (text an attacker controls, JSON of any shape, file
names, URLs) and how each example stays on its own: a savepoint rolled back and an empty cache,
so nothing one example stores (a job, a draft, a wrong password's delay) changes the next."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from hypothesis import strategies as st

# Every code point a request can carry: surrogates alone cannot be encoded as UTF-8.
CHARACTERS = st.characters(exclude_categories=["Cs"])

# What attackers try first, besides random text.
SPECIAL_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u202eexe.jpg",
        "\u2066\u2067\u2068\u2069\u200f\u200e",
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "%00",
        "%",
        "%zz",
        "%2e%2e%2f",
        "\r\nX-Injected: 1",
        '"quoted"',
        "<script>alert(1)</script>",
        "{{ 7*7 }}",
        "é" * 300,
        "a" * 5000,
        "\U0001f600" * 200,
        "ﷺ" * 100,
        "NaN",
        "Infinity",
        "-0",
        "1e309",
        "9" * 5000,
    ]
)

text = st.one_of(SPECIAL_TEXT, st.text(CHARACTERS, max_size=300))

# Numbers as a form sends them, including the ways a parser can be surprised.
NUMBERISH = st.one_of(
    st.integers().map(str),
    st.floats().map(str),
    st.decimals(allow_nan=True).map(str),
    st.sampled_from(
        ["0x10", "1_000", "\uff11\uff12", "\u0663", " 5 ", "5.", ".5", "1e-400", "+-1", "0" * 400]
    ),
)

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(),
    text,
)
# Any JSON value: what a script can send as a field.
json_value: st.SearchStrategy[Any] = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=10,
)


def _forget_rate_budgets() -> None:
    """The limiter's budgets on Redis (CI) outlive a rolled-back savepoint, as they outlive a
    test's transaction (tests/conftest.py forgets them per test; here, per example)."""
    url = settings.RATE_LIMIT_URL
    if url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(url)
        names = list(client.scan_iter("limiter:*", count=1000))
        if names:
            client.delete(*names)


@contextlib.contextmanager
def isolated() -> Iterator[None]:
    """One example: whatever it writes to the database is rolled back, and it starts with an
    empty cache and no rate budgets spent (a webhook receiver's, a share password's)."""
    cache.clear()
    _forget_rate_budgets()
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- Multipart bodies --------------------------------------------------------------------------

BOUNDARY = "fuzzboundary7MA4YWxkTrZu0gW"

# File names as people and attackers send them.
file_name = st.one_of(
    SPECIAL_TEXT,
    st.text(CHARACTERS, max_size=80),
    st.sampled_from(
        [
            "photo.jpg",
            "../../../../etc/passwd",
            "C:\\Users\\me\\photo.jpg",
            "/photo.jpg",
            ".",
            "..",
            "photo\x00.jpg",
            "\u202egpj.exe",
            "photo.jpg\u202e",
            "ph\u200foto\u2066.png",
            "photo." + "x" * 300,
            "p" * 300 + ".jpg",
            "photo." + "é" * 200,
            "photo." + "\U0001f600" * 100,
            "a\r\nContent-Type: text/html\r\n\r\n.jpg",
            "&quot;.jpg",
            "&#x2F;..&#x2F;x.jpg",
        ]
    ),
)


@st.composite
def disposition_file_name(draw: st.DrawFn) -> bytes:
    """The ``filename`` parameter of a part's Content-Disposition, written one of the ways
    clients write it: quoted UTF-8 (escaped or not), Latin-1, RFC 2231, or bare."""
    name = draw(file_name)
    way = draw(st.sampled_from(["utf-8", "escaped", "latin-1", "rfc2231", "bare", "both"]))
    if way == "escaped":
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return b'filename="' + escaped.encode() + b'"'
    if way == "latin-1":
        return b'filename="' + name.encode("latin-1", "replace") + b'"'
    if way == "rfc2231":
        return b"filename*=UTF-8''" + quote(name).encode()
    if way == "bare":
        return b"filename=" + name.encode()
    if way == "both":
        return b"filename=\"x.jpg\"; filename*=UTF-8''" + quote(name).encode()
    return b'filename="' + name.encode() + b'"'


content_type = st.one_of(
    st.sampled_from(
        [
            "image/jpeg",
            "image/png",
            "text/html",
            "application/octet-stream",
            "image/jpeg; charset=utf-16",
            "image/svg+xml",
            "",
            "multipart/form-data; boundary=x",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)


@dataclass(frozen=True)
class FilePart:
    field: str
    file_name: bytes  # the Content-Disposition parameter, as written
    content_type: str
    content: bytes


def multipart(fields: dict[str, str], files: list[FilePart]) -> bytes:
    """A multipart/form-data body with ``BOUNDARY``, built by hand so that file names and types
    reach the server exactly as written (Django's test client would clean them first)."""
    lines: list[bytes] = []
    for name, value in fields.items():
        lines += [
            f"--{BOUNDARY}".encode(),
            f'Content-Disposition: form-data; name="{name}"'.encode(),
            b"",
            value.encode(),
        ]
    for part in files:
        lines += [
            f"--{BOUNDARY}".encode(),
            f'Content-Disposition: form-data; name="{part.field}"; '.encode() + part.file_name,
            f"Content-Type: {part.content_type}".encode(),
            b"",
            part.content,
        ]
    lines += [f"--{BOUNDARY}--".encode(), b""]
    return b"\r\n".join(lines)


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


# --- URLs --------------------------------------------------------------------------------------

HOST_CHARACTERS = st.sampled_from(list("abcxyz0189.-_:[]%@ éß\u202e\x00/\\?#"))
host = st.one_of(
    st.sampled_from(
        [
            "example.com",
            "hooks.example.com.",
            "0177.0.0.1",
            "0x7f.1",
            "2130706433",
            "127.1",
            "127.0.0.1",
            "8.8.8.8",
            "08.8.8.8",
            "1.2.3",
            "8.8.8.8.",
            "[::1]",
            "[::ffff:7f00:1]",
            "[::ffff:8.8.8.8]",
            "[64:ff9b::808:808]",
            "[2002:808:808::]",
            "[2001:4860:4860::8888]",
            "[fe80::1%25eth0]",
            "[v1.x]",
            "[::1",
            "xn--nxasmq6b.com",
            "xn--.com",
            "ex ample.com",
            "exa%41mple.com",
            "éxample.com",
            "\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com",
            "a" * 64 + ".com",
            ("a" * 60 + ".") * 5 + "com",
            "localhost",
            "LOCALHOST.",
            "metadata.google.internal",
            "",
        ]
    ),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
    st.text(HOST_CHARACTERS, min_size=1, max_size=30),
)
# Names and addresses the check should take, written in the ways that still parse.
public_host = st.one_of(
    st.from_regex(
        r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?(?:\.[a-z0-9-_]{1,20}){0,3}\.[a-z]{2,6}",
        fullmatch=True,
    ),
    st.sampled_from(
        ["8.8.8.8", "[2001:4860:4860::8888]", "Example.COM", "b\u00fccher.de", "xn--bcher-kva.de"]
    ),
)
path = st.one_of(
    st.sampled_from(["", "/", "/hook?secret=s3cr3t", "/%zz", "/ space", "/%", "/a%00b", "#f"]),
    st.text(CHARACTERS, max_size=40).map(lambda tail: "/" + tail),
)
# Mostly URLs the check should take (so that delivery is reached), then anything at all.
plausible_url = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["https://", "https://", "HTTPS://", "http://"]),
    public_host,
    st.sampled_from(["", "", ":443", ":8443", ":1", ":65535", ":65536", ":0"]),
    path,
)
url = st.one_of(
    plausible_url,
    plausible_url,
    st.builds(
        "{}{}{}{}{}".format,
        st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", "//", "https:", ""]),
        st.sampled_from(["", "user:pass@", "@", "a@b@"]),
        host,
        st.sampled_from(["", ":443", ":0", ":8443", ":65536", ":99999999999", ":-1", ":abc", ":"]),
        path,
    ),
    text,
)
