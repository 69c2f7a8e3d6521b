"""The one contract every vendor adapter speaks, and the readers of vendor answers they share.

Adapters take plain dataclasses and bytes and return plain dataclasses; they import nothing from
``editor.models`` and never sleep or loop waiting: an asynchronous vendor answers ``Pending`` and
the job pipeline schedules the next ``poll``.
"""

from __future__ import annotations

import base64
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import httpx
from django.conf import settings

from editor.images import ImageLimits
from editor.outbound import shared_client

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise as StrPromise

ParamValue = str | int | float | bool | tuple[str, ...]
# VendorError.code of a successful (HTTP 200) answer that could not be read: not JSON, cut off,
# or without the fields the contract promises. The adapter cannot tell whether repeating the call
# is free (a poll) or pays again (a submit): it says retryable, and the pipeline decides.
BAD_RESPONSE = "bad_response"


class VendorError(Exception):
    """A vendor call failed.

    ``message`` is written for the person who ran the job (never contains a key or a signed
    URL), in the language active where it is raised (the worker speaks the job owner's: a lazy
    translation is worded at once); ``code`` is the vendor's error code string (or one of ours,
    lower-case, such as ``timeout``); ``retryable`` says whether the same call may succeed
    later; ``retry_after`` is a hint in seconds when the vendor knows better than a backoff;
    ``throttled`` says the vendor is limiting this key's request rate (the caller holds the key's
    budget for a while).
    """

    def __init__(
        self,
        message: str | StrPromise,
        *,
        retryable: bool,
        code: str = "",
        retry_after: float | None = None,
        throttled: bool = False,
    ) -> None:
        self.message = str(message)
        super().__init__(self.message)
        self.retryable = retryable
        self.code = code
        self.retry_after = retry_after
        self.throttled = throttled

    def __repr__(self) -> str:
        return (
            f"VendorError({self.message!r}, retryable={self.retryable}, code={self.code!r}, "
            f"retry_after={self.retry_after!r}, throttled={self.throttled!r})"
        )


@dataclass(frozen=True)
class InputImage:
    """One uploaded file as the vendor will receive it (already fitted to its limits)."""

    data: bytes = field(repr=False)
    media_type: str  # "image/jpeg", "image/png", "image/webp"
    filename: str = "image"

    def __repr__(self) -> str:
        return f"InputImage({self.media_type}, {len(self.data)} bytes, {self.filename!r})"


@dataclass(frozen=True)
class VendorRequest:
    """What to run: an operation name, its files by field role, and its parameters.

    File roles are the studio's names: ``image`` (the photo), ``style``, ``ref`` and ``mask``.
    Parameter names are the vendor's documented field names.
    """

    operation: str
    files: Mapping[str, InputImage]
    params: Mapping[str, ParamValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultImage:
    data: bytes = field(repr=False)
    media_type: str

    def __repr__(self) -> str:
        return f"ResultImage({self.media_type}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Done:
    """The vendor finished. Most operations give one image; AUTO color migration gives one per
    color family."""

    images: tuple[ResultImage, ...]

    @property
    def data(self) -> bytes:
        return self.images[0].data

    @property
    def media_type(self) -> str:
        return self.images[0].media_type


@dataclass(frozen=True)
class Pending:
    """The vendor accepted the work; ask again with ``task_ref`` after ``poll_after`` seconds.

    ``task_ref`` is opaque to the pipeline (the adapter may encode which contract it used) and
    must be stored before anything else so a restarted worker resumes instead of resubmitting.
    """

    task_ref: str
    progress: int | None = None  # 0-100 when the vendor reports it
    poll_after: float = 5.0


class VendorAdapter(ABC):
    """One vendor. Subclasses declare what they run and implement ``submit`` and ``poll``."""

    vendor: ClassVar[str]
    label: ClassVar[str]
    operations: ClassVar[frozenset[str]]
    # The documented time between two polls of one task: never asked more often.
    poll_every: ClassVar[float] = 5.0

    def __init__(
        self, api_key: str, *, client: httpx.Client | None = None, base_url: str | None = None
    ) -> None:
        self._api_key = api_key
        self._client = client
        # Overrides the vendor's configured base URL for this adapter only (sandbox keys).
        self._base_url = base_url.rstrip("/") if base_url else None

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(api_key='••••')"

    def _http(self) -> httpx.Client:
        return self._client or shared_client()

    @classmethod
    @abstractmethod
    def limits(cls, operation: str, role: str) -> ImageLimits:
        """The input limits for one file role of one operation."""

    @abstractmethod
    def submit(self, request: VendorRequest) -> Done | Pending: ...

    @abstractmethod
    def poll(self, task_ref: str) -> Done | Pending: ...


AdapterT = TypeVar("AdapterT", bound=VendorAdapter)


def adapter_for(adapter_class: type[AdapterT], secret: str) -> AdapterT:
    """The adapter for a decrypted key: sandbox keys go to the sandbox (when it is enabled),
    real keys to the vendor, side by side."""
    if settings.SANDBOX_ENABLED and secret.startswith(settings.SANDBOX_KEY_PREFIX):
        return adapter_class(api_key=secret, base_url=settings.SANDBOX_URL)
    return adapter_class(api_key=secret)


# --- Reading answers -------------------------------------------------------------------------
# JSON gives numbers as numbers or as strings depending on the vendor's serializer, and a field
# of the wrong type is the vendor's glitch, not ours: each reader answers None (or "") instead of
# raising, and the adapter says what was missing in its own words.

_DATA_URI_PREFIX = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)


def read_json_object(body: bytes) -> dict[str, Any] | None:
    """A body that is a JSON object; None for anything else (not JSON, not UTF-8, too deep)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return read_object(parsed)


def read_object(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def read_text(value: object) -> str:
    """A string without its surrounding whitespace; "" for anything that is not a string."""
    return value.strip() if isinstance(value, str) else ""


def read_int(value: object) -> int | None:
    """A whole number sent as a number or as text; never a bool or a fractional float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()):
        return int(value.strip())
    return None


def read_number(value: object) -> float | None:
    """A finite number sent as a number or as text; never a bool, NaN or an infinity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def decode_base64(text: str, *, url_safe: bool = False) -> bytes | None:
    """Base64 image text, with or without a ``data:image/...;base64,`` prefix, line breaks and
    missing padding; None when it is not base64. Empty text gives empty bytes.

    ``url_safe`` also takes the URL-safe alphabet (``-`` and ``_``) when the text uses it.
    """
    payload = "".join(_DATA_URI_PREFIX.sub("", text.strip()).split())
    payload += "=" * (-len(payload) % 4)
    altchars = b"-_" if url_safe and ("-" in payload or "_" in payload) else None
    try:
        return base64.b64decode(payload, altchars=altchars, validate=True)
    except ValueError:  # binascii.Error, or text that is not ASCII
        return None
