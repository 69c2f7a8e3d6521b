"""The readers both vendor adapters use on answers, and the sandbox routing of keys."""

from __future__ import annotations

import base64

import pytest
from pytest_django import Settings as SettingsWrapper

from editor.vendors.ailabtools.adapter import AILabToolsAdapter
from editor.vendors.base import (
    adapter_for,
    decode_base64,
    read_int,
    read_json_object,
    read_number,
    read_object,
    read_text,
)
from editor.vendors.picwish import PicWishAdapter

PNG_START = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        (-3, -3),
        (4.0, 4),
        (" 12 ", 12),
        ("-5", -5),
        ("123456789", 123456789),
        ("1234567890", None),  # longer than any status or count a vendor sends
        (4.5, None),
        ("4.0", None),
        ("", None),
        (True, None),
        (None, None),
        ([1], None),
    ],
)
def test_read_int(value: object, expected: int | None) -> None:
    assert read_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.25, 0.25),
        (3, 3.0),
        (" 0.4 ", 0.4),
        ("1e-1", 0.1),
        ("soon", None),
        (float("inf"), None),
        ("nan", None),
        (False, None),
        (None, None),
        ((0.1,), None),
    ],
)
def test_read_number(value: object, expected: float | None) -> None:
    assert read_number(value) == expected


def test_read_text_and_read_object() -> None:
    assert read_text("  t-1 \n") == "t-1"
    assert read_text(5) == ""
    assert read_object({"a": 1}) == {"a": 1}
    assert read_object([("a", 1)]) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"status": 200}', {"status": 200}),
        (b"[1, 2]", None),
        (b"not json", None),
        (b"\xff\xfe\x00", None),
        (b"[" * 100_000, None),
    ],
)
def test_read_json_object(body: bytes, expected: dict[str, object] | None) -> None:
    assert read_json_object(body) == expected


def test_decode_base64_takes_a_data_uri_line_breaks_and_missing_padding() -> None:
    text = base64.b64encode(PNG_START).decode().rstrip("=")
    assert decode_base64(text) == PNG_START
    assert decode_base64(f" data:image/png;base64,{text[:4]}\n{text[4:]} ") == PNG_START
    assert decode_base64("") == b""
    assert decode_base64("data:image/png;base64,") == b""
    assert decode_base64("not*base64!") is None
    assert decode_base64("données") is None


def test_decode_base64_takes_the_url_safe_alphabet_only_when_asked() -> None:
    data = b"\xfb\xff\xbf"  # "+/+/" in the standard alphabet
    text = base64.urlsafe_b64encode(data).decode()
    assert text == "-_-_"
    assert decode_base64(text) is None
    assert decode_base64(text, url_safe=True) == data


@pytest.mark.parametrize("enabled", [True, False])
def test_adapter_for_sends_sandbox_keys_to_the_sandbox_when_it_is_enabled(
    settings: SettingsWrapper, enabled: bool
) -> None:
    settings.SANDBOX_ENABLED = enabled
    settings.SANDBOX_URL = "http://127.0.0.1:9000"
    sandboxed = adapter_for(AILabToolsAdapter, f"{settings.SANDBOX_KEY_PREFIX}alice")
    assert isinstance(sandboxed, AILabToolsAdapter)
    assert sandboxed._base_url == ("http://127.0.0.1:9000" if enabled else None)
    real = adapter_for(PicWishAdapter, "pw-real-key")
    assert isinstance(real, PicWishAdapter)
    assert real._base_url is None
