"""The one contract every vendor adapter speaks.

Adapters take plain dataclasses and bytes and return plain dataclasses; they import nothing from
``editor.models`` and never sleep or loop waiting: an asynchronous vendor answers ``Pending`` and
the job pipeline schedules the next ``poll``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import httpx
from django.conf import settings

from editor.images import ImageLimits

ParamValue = str | int | float | bool | tuple[str, ...]


class VendorError(Exception):
    """A vendor call failed.

    ``message`` is written for the person who ran the job (never contains a key or a signed
    URL); ``code`` is the vendor's error code string (or one of ours, lower-case, such as
    ``timeout``); ``retryable`` says whether the same call may succeed later; ``retry_after``
    is a hint in seconds when the vendor or our rate limiter knows better than a backoff.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"VendorError({self.message!r}, retryable={self.retryable}, code={self.code!r}, "
            f"retry_after={self.retry_after!r})"
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

    def __init__(
        self, api_key: str, *, client: httpx.Client | None = None, base_url: str | None = None
    ) -> None:
        self._api_key = api_key
        self._client = client
        # Overrides the vendor's configured base URL for this adapter only (sandbox keys).
        self._base_url = base_url.rstrip("/") if base_url else None

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(api_key='••••')"

    @classmethod
    @abstractmethod
    def limits(cls, operation: str, role: str) -> ImageLimits:
        """The input limits for one file role of one operation."""

    @abstractmethod
    def submit(self, request: VendorRequest) -> Done | Pending: ...

    @abstractmethod
    def poll(self, task_ref: str) -> Done | Pending: ...


AdapterT = TypeVar("AdapterT", bound=VendorAdapter)


def adapter_for(adapter: Callable[..., AdapterT], secret: str) -> AdapterT:
    """The adapter for a decrypted key: sandbox keys go to the sandbox (when it is enabled),
    real keys to the vendor, side by side."""
    if settings.SANDBOX_ENABLED and secret.startswith(settings.SANDBOX_KEY_PREFIX):
        return adapter(api_key=secret, base_url=settings.SANDBOX_URL)
    return adapter(api_key=secret)
