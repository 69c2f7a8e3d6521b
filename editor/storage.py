"""Counted storage: every file kept for a person has a row in their ledger and its bytes on
their ``Quota.stored_bytes``, written together (accounts.quotas), and both go before the file
does. Jobs, their worker steps and the form's drafts all store through here.

Storage is not transactional, so the order matters: a file is written before its row, and its
row goes (committed) before the file. A process that dies in between leaves a file without a
row, never a count without its file's bytes: a retried step that finds such a file deletes it
knowing it was never counted, and ``editor.reconcile`` deletes any that nobody came back for.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from accounts import quotas

logger = logging.getLogger(__name__)


class StorageUnavailable(Exception):
    """The storage would not take a file (a full volume, a bucket that does not answer): passing
    trouble on our side, never the person's fault. ``message`` is for people."""

    def __init__(self, error: Exception) -> None:
        self.message = _(
            "The studio cannot store photos right now (its storage is full or not answering). "
            "Nothing was charged; please try again in a few minutes."
        )
        super().__init__(f"{type(error).__name__}: {error}")


def write(name: str, content: Any) -> str:
    """Write a file under ``name``, not counted (the caller counts it); returns the name it
    got. Raises StorageUnavailable when the storage will not take it."""
    try:
        return default_storage.save(name, content)
    except (OSError, BotoCoreError, ClientError) as error:  # a full disk; S3 down or refusing
        logger.warning("storage refused %s: %s", name, error)
        raise StorageUnavailable(error) from error


def save(owner_id: int, name: str, content: Any) -> str:
    """Store one file of a person's under ``name`` and count it; returns the name it got.
    Where the storage writes over a file of the same name, the bytes it replaced are given
    back (the ledger knows them). Raises StorageUnavailable when the storage will not take
    it."""
    stored = write(name, content)
    quotas.count_file(owner_id, stored, default_storage.size(stored))
    return stored


def read_whole(name: str) -> bytes | None:
    """A stored file's bytes once it is whole, or None. Its ledger row is written only after
    the file was, with its size, so a file with no row (not there yet, or still being written
    by another process) or with other bytes than its row says is not read as whole."""
    size = quotas.counted_bytes(name)
    if size is None:
        return None
    try:
        with default_storage.open(name, "rb") as handle:
            data: bytes = handle.read()
    except FileNotFoundError:
        return None
    return data if len(data) == size else None


def counted(owner_id: int, sizes: Mapping[str, int]) -> None:
    """Ledger rows for files just stored whose bytes the caller counted itself (a job's
    photos, in the charge that accepted the job). Call in the transaction of that charge."""
    quotas.ledger_counted(owner_id, sizes)


def discard(owner_id: int, names: Iterable[str]) -> int:
    """Delete files of a person's and give back the bytes they were counted at; returns the
    bytes given back. The files go once that has committed; a file never counted (left by a
    step that died before counting it) is deleted and gives back nothing."""
    doomed = {name for name in names if name}
    freed = sum(quotas.uncount_files(owner_id, doomed).values())
    transaction.on_commit(lambda: delete_files(doomed))
    return freed


def uncount(owner_id: int, names: Collection[str], *, named: Collection[str] = ()) -> int:
    """Give back the bytes of files about to be deleted by the caller once its transaction
    commits (a deleted job's or draft's). ``named``: the files its rows named; one of them with
    no ledger row was kept before the ledger existed and counted then, so it gives back the
    bytes it takes now. Returns the bytes given back."""
    freed = quotas.uncount_files(owner_id, names)
    before_ledger = [name for name in named if name and name not in freed]
    legacy = sum(
        default_storage.size(name) for name in before_ledger if default_storage.exists(name)
    )
    quotas.free_storage(owner_id, legacy)
    return sum(freed.values()) + legacy


def delete_files(names: Iterable[str]) -> int:
    """Delete stored files whose bytes were given back already; returns how many went. One
    that cannot be deleted is logged, and left for the reconcile to find."""
    removed = 0
    for name in sorted(names):
        try:
            default_storage.delete(name)
        except FileNotFoundError:
            continue
        except Exception:
            logger.exception("could not delete the file %s", name)
            continue
        removed += 1
    return removed


def files_in(folder: str) -> set[str]:
    """The names of the files directly in ``folder`` (ending in "/"); none when it is gone."""
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return set()
    return {folder + name for name in files}
