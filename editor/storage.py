"""Counted storage: every file kept for a person is counted in their ``Quota.stored_bytes``
when it is written and given back when it is deleted, by the bytes actually there
(accounts.quotas). Jobs, their worker steps and the form's drafts all store through here.

Storage is not transactional: a caller that writes a file inside a transaction that may roll
back deletes it again itself (see editor.jobs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.files.storage import default_storage

from accounts import quotas

logger = logging.getLogger(__name__)


def save(owner_id: int, name: str, content: Any) -> str:
    """Store one file of a person's under ``name`` and count it; returns the name it got.
    Where the storage overwrites a file of the same name, the bytes it replaced are given
    back."""
    replaced = default_storage.size(name) if default_storage.exists(name) else 0
    stored = default_storage.save(name, content)
    if stored != name:
        replaced = 0  # kept beside the other file, under a name of its own
    quotas.add_storage(owner_id, default_storage.size(stored) - replaced)
    return stored


def discard(owner_id: int, names: Iterable[str]) -> int:
    """Delete files of a person's now and give their bytes back; returns the bytes freed. A
    file already gone counts nothing; one that cannot be deleted is logged and still counted
    as stored."""
    freed = 0
    for name in set(names):
        if not name:
            continue
        try:
            size = default_storage.size(name)
            default_storage.delete(name)
        except FileNotFoundError:
            continue
        except Exception:
            logger.exception("could not delete the file %s", name)
            continue
        freed += size
    quotas.free_storage(owner_id, freed)
    return freed


def size_of(names: Iterable[str]) -> int:
    """The bytes the stored files among ``names`` take."""
    return sum(default_storage.size(name) for name in names if default_storage.exists(name))


def files_in(folder: str) -> set[str]:
    """The names of the files directly in ``folder`` (ending in "/"); none when it is gone."""
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return set()
    return {folder + name for name in files}
