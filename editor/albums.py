"""Albums: a person collects finished results from any jobs or batches, puts them in order and
shares the album by link (editor.shares, the same links as one result's). The pages and the API
both go through here.

A visitor of an album link sees its photos only, never anything else of the owner's; every
photo leaves through ``editor.metadata.strip_metadata`` (no EXIF, no GPS), one at a time or the
whole album as a ZIP that is streamed (``zip_stream``): each photo is read, stripped and written
out before the next is read, so memory stays that of one photo whatever the album's size.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import Any

from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from editor import images, metadata
from editor.models import Album, AlbumItem, JobStatus, Result, plain_text

# A person's albums are listed newest first, this many a page; an album holds at most this many.
PAGE_SIZE = 25
MAX_ITEMS = 1000
TITLE_MAX = 120
# The ZIP's pieces are handed to the response in chunks of about this size.
ZIP_CHUNK = 256 * 1024


class AlbumError(ValueError):
    """A change to an album that cannot be made, with a message for the person."""


def clean_title(title: str) -> str:
    cleaned = plain_text(title).strip()
    if not cleaned:
        raise AlbumError(_("An album needs a title."))
    if len(cleaned) > TITLE_MAX:
        raise AlbumError(_("A title has at most %(count)d characters.") % {"count": TITLE_MAX})
    return cleaned


def create(owner: User, title: str) -> Album:
    return Album.objects.create(owner=owner, title=clean_title(title))


def rename(album: Album, title: str) -> None:
    album.title = clean_title(title)
    album.save(update_fields=["title"])


def items(album: Album) -> models.QuerySet[AlbumItem]:
    """The album's results in its order, with what a page needs to show them."""
    return album.items.select_related("result__job").order_by("position", "added_at")


def add(album: Album, result: Result) -> AlbumItem:
    """Put a finished result of the album's owner at the end of the album; a result already in
    it stays where it is."""
    if result.job.owner_id != album.owner_id or result.job.status != JobStatus.SUCCEEDED:
        raise AlbumError(_("Only your own finished results can go in an album."))
    with transaction.atomic():
        # Lock the album so that two adds at once get different places.
        Album.objects.select_for_update().filter(pk=album.pk).first()
        found = album.items.filter(result=result).first()
        if found is not None:
            return found
        if album.items.count() >= MAX_ITEMS:
            raise AlbumError(_("An album holds at most %(count)d photos.") % {"count": MAX_ITEMS})
        last = album.items.aggregate(last=models.Max("position"))["last"]
        try:
            with transaction.atomic():
                return AlbumItem.objects.create(
                    album=album, result=result, position=0 if last is None else last + 1
                )
        except IntegrityError:  # added meanwhile by another request
            return album.items.get(result=result)


def remove(album: Album, result: Result) -> bool:
    """Take a result out of the album (the result itself stays); False when it was not in it."""
    deleted, _ = album.items.filter(result=result).delete()
    return deleted > 0


def move(album: Album, result: Result, step: int) -> bool:
    """Move a result one place up (``step`` -1) or down (+1); False at either end or when the
    result is not in the album."""
    if step not in (-1, 1):
        raise AlbumError(_("A photo moves one place up or down."))
    with transaction.atomic():
        ordered = list(items(album).select_for_update())
        at = next((i for i, item in enumerate(ordered) if item.result_id == result.pk), None)
        if at is None or not 0 <= at + step < len(ordered):
            return False
        ordered[at], ordered[at + step] = ordered[at + step], ordered[at]
        _renumber(ordered)
    return True


def reorder(album: Album, result_ids: list[str]) -> None:
    """Put the album in the order given: every result of the album exactly once."""
    with transaction.atomic():
        ordered = {str(item.result_id): item for item in items(album).select_for_update()}
        if sorted(result_ids) != sorted(ordered) or len(set(result_ids)) != len(result_ids):
            raise AlbumError(_("The order must name every photo of the album exactly once."))
        _renumber([ordered[result_id] for result_id in result_ids])


def _renumber(ordered: list[AlbumItem]) -> None:
    for position, item in enumerate(ordered):
        item.position = position
    AlbumItem.objects.bulk_update(ordered, ["position"])


def result_deleted(sender: type[Result], instance: Result, **kwargs: Any) -> None:
    """pre_delete receiver for Result: the albums it is in remember that a photo of theirs was
    deleted (the row itself goes with the result), so an emptied album can say so."""
    Album.objects.filter(items__result=instance).update(
        deleted_results=models.F("deleted_results") + 1
    )


# --- What a visitor gets -----------------------------------------------------------------------


def read_stripped(result: Result) -> tuple[bytes, str] | None:
    """A result's bytes without EXIF or GPS and its format, or None when its file is gone or
    not an image we can clean (then it is not handed out at all)."""
    name = result.file.name
    if not name or not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    try:
        body = metadata.strip_metadata(data)
    except images.ImageRejected:
        return None
    return body, images.format_of(body)


class _Pipe:
    """A file zipfile writes into that cannot seek: what is written waits here until the
    response takes it. zipfile then writes each entry's sizes after its data (a data
    descriptor), so nothing has to be gone back to and nothing is kept once handed on."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> int:
        self._pieces.append(bytes(data))
        self._size += len(data)
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data = b"".join(self._pieces)
        self._pieces.clear()
        return data


def zip_stream(album: Album) -> Iterator[bytes]:
    """The album as a ZIP, piece by piece, each photo without EXIF or GPS and as stored
    otherwise (ZIP_STORED: images are compressed already). Photos whose files are gone are left
    out. Reads the items lazily, so a long album never sits in memory either."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_STORED) as archive:
        # Numbered in the album's order, so that the files sort as the album does.
        for number, item in enumerate(items(album).iterator(chunk_size=100), start=1):
            found = read_stripped(item.result)
            if found is None:
                continue
            body, fmt = found
            name = item.result.download_name(images.EXTENSIONS[fmt])
            info = zipfile.ZipInfo(f"{number:04d}-{name}")
            info.compress_type = zipfile.ZIP_STORED
            with archive.open(info, mode="w") as entry:
                for start in range(0, len(body), ZIP_CHUNK):
                    entry.write(body[start : start + ZIP_CHUNK])
                    yield from _pieces(pipe)
            del body
            yield from _pieces(pipe)  # the entry's data descriptor
    yield from _pieces(pipe)  # the central directory


def _pieces(pipe: _Pipe) -> Iterator[bytes]:
    """What the pipe holds, if anything (an empty piece would be sent as nothing anyway)."""
    data = pipe.take()
    if data:
        yield data
