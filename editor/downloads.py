"""Downloads of a result, for the pages and the API alike: the original file, or a copy as
PNG, JPEG or WebP.

Whatever leaves the studio this way has its EXIF (the GPS position included), XMP and comments
removed and keeps its ICC color profile (``editor.metadata.strip_metadata`` for the original,
whose pixels are copied byte for byte; ``images.convert`` for the copies). The download name is
ours (``Result.download_name``).

A converted copy is made once: the first request decodes and encodes it (within the memory
budget of ``editor.images``) and keeps it in the job's folder, counted in the person's storage
like the result itself and deleted with the job; later requests send the kept bytes without
decoding anything. The original is never decoded.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.utils.translation import gettext_lazy

from editor import images, media, metadata, storage
from editor.models import Result

ORIGINAL = "original"
# Query value -> Pillow format name.
CONVERSIONS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
# Formats whose quality setting means something.
LOSSY = frozenset({"jpeg", "webp"})
DEFAULT_QUALITY = 90
QUALITY_ERROR = gettext_lazy("Quality is a whole number from 1 to 100.")


class DownloadForm(forms.Form):
    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=(
            (ORIGINAL, gettext_lazy("Original")),
            ("png", "PNG"),
            ("jpeg", "JPEG"),
            ("webp", "WebP"),
        ),
        required=False,
        error_messages={
            "invalid_choice": gettext_lazy("Choose the original, PNG, JPEG or WebP."),
        },
    )
    # Text, checked below: a quality is only an error when the chosen format uses it (the form
    # always sends the field, hidden for the original and PNG).
    quality = forms.CharField(label=gettext_lazy("Quality"), required=False)

    def clean_format(self) -> str:
        return str(self.cleaned_data.get("format") or ORIGINAL)

    def clean_quality(self) -> int:
        raw = str(self.cleaned_data.get("quality") or "").strip()
        if self.cleaned_data.get("format", ORIGINAL) not in LOSSY or not raw:
            return DEFAULT_QUALITY
        try:
            quality = int(raw)
        except ValueError:
            raise forms.ValidationError(QUALITY_ERROR) from None
        if not 1 <= quality <= 100:
            raise forms.ValidationError(QUALITY_ERROR)
        return quality


def encode(result: Result, choice: dict[str, Any]) -> tuple[bytes, str]:
    """A DownloadForm's cleaned choice applied to a stored result: the bytes to send and their
    Pillow format. Raises images.ImageRejected when the stored file cannot be read, Http404
    when it is gone."""
    if choice["format"] == ORIGINAL:
        body = metadata.strip_metadata(read(result))  # a container edit: no decode
        return body, images.format_of(body)
    fmt = CONVERSIONS[choice["format"]]
    name = conversion_name(result, choice)
    kept = storage.read_whole(name)
    if kept is not None:
        return kept, fmt
    body = images.convert(read(result), fmt, choice["quality"])
    _keep(result, name, body)
    return body, fmt


def conversion_name(result: Result, choice: dict[str, Any]) -> str:
    """Where the copy a choice makes of this result is kept; the quality only names lossy ones."""
    key = choice["format"]
    if key in LOSSY:
        key = f"{key}-q{choice['quality']}"
    return result.conversion_name(key, images.EXTENSIONS[CONVERSIONS[choice["format"]]])


def _keep(result: Result, name: str, body: bytes) -> None:
    """Store a converted copy, counted. Requests converting the same copy at once each write
    their own file (the storage gives a taken name another one, or, overwriting, writes the
    same bytes); the ledger row comes after the bytes, so no request reads a half-written
    copy (``storage.read_whole``), and one that did not get the name gives its file back."""
    owner_id = result.job.owner_id
    stored = storage.save(owner_id, name, ContentFile(body))
    if stored != name:
        storage.discard(owner_id, [stored])


def attachment(result: Result, body: bytes, fmt: str) -> HttpResponse:
    """The download response: our own file name, a fixed type, not kept by shared caches."""
    response = HttpResponse(body, content_type=images.MEDIA_TYPES[fmt])
    response["Cache-Control"] = "private"
    # The name is ours (operation slug, date, hex digits): plain ASCII, nothing to escape.
    media.protect(response, download_name=result.download_name(images.EXTENSIONS[fmt]))
    return response


def read(result: Result) -> bytes:
    """The stored result's bytes; Http404 when the file is gone."""
    name = result.file.name
    if not name or not default_storage.exists(name):
        raise Http404
    with default_storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data
