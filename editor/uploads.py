"""Uploads streamed to temporary files, each cut off at ``UPLOAD_MAX_BYTES`` while the body
streams in: past the limit nothing more of that file is written (its temporary file goes at
once), the rest of its part is read and dropped, and the view gets a ``TooLarge`` stand-in
that the one validator (editor.submissions) refuses by name. Pages, the API, batches and drafts
all read their uploads through this handler (``FILE_UPLOAD_HANDLERS``)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import (
    SimpleUploadedFile,
    TemporaryUploadedFile,
    UploadedFile,
)
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.utils.translation import gettext as _


class TooLarge(SimpleUploadedFile):
    """A file that was over the limit: its name, its type and how many bytes came, no
    content."""

    def __init__(self, name: str, content_type: str, received: int) -> None:
        super().__init__(name, b"", content_type)
        self.size = received


# The most of a file name's extension that its temporary file's name takes (in UTF-8 bytes).
MAX_SUFFIX_BYTES = 16


def temporary_name(name: str) -> str:
    """``name`` for naming a temporary file after: Django ends a temporary upload's file name
    with the upload's extension, however long, and a file system refuses a name over 255
    bytes (an OSError, a server error). A longer extension is left out; the upload keeps its
    whole name (UploadedFile.name) for display."""
    stem, extension = os.path.splitext(name)
    return name if len(extension.encode()) <= MAX_SUFFIX_BYTES else stem


def temporary_upload(
    name: str, content_type: str | None, size: int, charset: str | None, **extra: Any
) -> TemporaryUploadedFile:
    """A TemporaryUploadedFile called ``name``, whatever its extension (temporary_name)."""
    upload = TemporaryUploadedFile(temporary_name(name), content_type, size, charset, **extra)
    upload.name = name
    return upload


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file handler, with the per-file limit and a temporary file named
    safely whatever the upload's name (temporary_name)."""

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, temporary_name(file_name), *args, **kwargs)
        self.file_name = self.file.name = file_name
        self.received = 0
        self.over = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.over:
            return None
        if self.received > settings.UPLOAD_MAX_BYTES:
            self.over = True
            self.file.close()  # a temporary file: closing it deletes it
            return None
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.over:
            return TooLarge(self.file_name or "", self.content_type or "", self.received)
        return super().file_complete(file_size)


def too_large(upload: object) -> bool:
    """Whether an upload came over the limit (cut off while it streamed in, or built in
    memory by a caller and bigger than the limit)."""
    size = len(upload) if isinstance(upload, bytes) else getattr(upload, "size", 0) or 0
    return isinstance(upload, TooLarge) or size > settings.UPLOAD_MAX_BYTES


def limit_message() -> str:
    return _("This file is larger than %(limit)d MB, the most one photo may be.") % {
        "limit": settings.UPLOAD_MAX_MB
    }
