"""Uploads streamed to temporary files, each cut off at ``UPLOAD_MAX_BYTES`` while the body
streams in: past the limit nothing more of that file is written (its temporary file goes at
once), the rest of its part is read and dropped, and the view gets a ``TooLarge`` stand-in
that the one validator (editor.submissions) refuses by name. Pages, the API, batches and drafts
all read their uploads through this handler (``FILE_UPLOAD_HANDLERS``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.utils.translation import gettext as _


class TooLarge(SimpleUploadedFile):
    """A file that was over the limit: its name, its type and how many bytes came, no
    content."""

    def __init__(self, name: str, content_type: str, received: int) -> None:
        super().__init__(name, b"", content_type)
        self.size = received


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file handler, with the per-file limit."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
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
