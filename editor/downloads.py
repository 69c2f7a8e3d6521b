"""Downloads of a result, for the pages and the API alike: the original file, or a copy as
PNG, JPEG or WebP, with the photo's details the person chooses.

Whatever leaves the studio this way has its EXIF (the GPS position included), XMP and comments
removed and keeps its ICC color profile (``editor.metadata.strip_metadata`` for the original,
whose pixels are copied byte for byte; ``images.convert`` for the copies). Then, by the
``metadata`` choice, the details kept of the job's photo at submit (``Job.photo_exif``) are
written back: its capture date and camera (the default), nothing, or all the studio kept ("as
uploaded": date, camera, lens and exposure settings). The location is never among them: it was
dropped when the photo was uploaded. The download name is ours (``Result.download_name``).

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
# What of the photo's details a download carries (``metadata``).
CAPTURE = "camera"
NO_METADATA = "none"
AS_UPLOADED = "uploaded"
METADATA_CHOICES = (
    (CAPTURE, gettext_lazy("Keep capture date and camera, drop location")),
    (NO_METADATA, gettext_lazy("Drop all metadata")),
    (AS_UPLOADED, gettext_lazy("As uploaded (what the studio kept: no location)")),
)
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
    metadata = forms.ChoiceField(
        label=gettext_lazy("Photo details"),
        choices=METADATA_CHOICES,
        required=False,
        error_messages={
            "invalid_choice": gettext_lazy(
                "Choose camera (keep capture date and camera), none or uploaded."
            ),
        },
    )

    def clean_format(self) -> str:
        return str(self.cleaned_data.get("format") or ORIGINAL)

    def clean_metadata(self) -> str:
        return str(self.cleaned_data.get("metadata") or CAPTURE)

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
    details = details_of(result, choice)
    if choice["format"] == ORIGINAL:
        body = metadata.strip_metadata(read(result), details)  # a container edit: no decode
        return body, images.format_of(body)
    fmt = CONVERSIONS[choice["format"]]
    name = conversion_name(result, choice, details)
    kept = storage.read_whole(name)
    if kept is not None:
        return kept, fmt
    body = images.convert(read(result), fmt, choice["quality"], exif=details)
    _keep(result, name, body)
    return body, fmt


def details_of(result: Result, choice: dict[str, Any]) -> bytes:
    """The photo details (EXIF, as a TIFF structure) the chosen download carries."""
    wanted = choice.get("metadata") or CAPTURE
    if wanted == NO_METADATA:
        return b""
    kept = bytes(result.job.photo_exif or b"")
    return metadata.details_for(kept, everything=wanted == AS_UPLOADED)


def conversion_name(result: Result, choice: dict[str, Any], details: bytes = b"") -> str:
    """Where the copy a choice makes of this result is kept; the quality only names lossy ones,
    and the details only copies that carry some (a copy without is the same for every
    choice)."""
    key = choice["format"]
    if key in LOSSY:
        key = f"{key}-q{choice['quality']}"
    if details:
        key = f"{key}-{choice.get('metadata') or CAPTURE}"
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
