"""Storage against its ledger and its counts: what a killed process, an operator or a failed
delete left behind, found and mended. Beat runs it every ``STORAGE_RECONCILE_SECONDS``; an
operator runs ``manage.py reconcile_storage`` (``--dry-run`` to look first).

The ledger (accounts.StoredFile) is the truth for the counts: each person's
``Quota.stored_bytes`` is set to the sum of their rows. The rows are mended from storage first:
- a file named by a job or a draft but with no row was kept before the ledger existed: it gets
  a row (adopted);
- a row whose file is gone no longer counts; a row whose file changed size counts what it has;
- a file that nothing names and no row counts was left by a step that died between writing it
  and counting it: it is deleted (an orphan).
Files younger than the grace period are left alone: their row, or the job that names them, may
still be on its way in a transaction of another process.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts import quotas
from accounts.models import Quota, StoredFile
from editor import storage
from editor.models import Draft, Job, Result

logger = logging.getLogger(__name__)

# Where people's files live: every job's under jobs/<owner>/<job>/, drafts under drafts/<owner>/.
FOLDERS = ("jobs/", "drafts/")


@dataclass(frozen=True)
class Report:
    """What one reconcile found (and, unless it was a dry run, mended)."""

    files: int  # files found in storage
    adopted: int  # named by a job or draft but not in the ledger: given a row
    vanished: int  # rows whose file is gone: removed
    resized: int  # rows whose file's size differs: set to the size it has
    orphans: int  # files nothing names or counts: deleted
    orphan_bytes: int
    recounted: int  # people whose count was not the sum of their rows: set to it
    drift_bytes: int  # how far those counts were off, all together

    def __str__(self) -> str:
        return (
            f"{self.files} files; {self.adopted} adopted, {self.vanished} vanished, "
            f"{self.resized} resized, {self.orphans} orphans deleted ({self.orphan_bytes} bytes); "
            f"{self.recounted} people recounted ({self.drift_bytes} bytes of drift)"
        )


def reconcile(*, dry_run: bool = False, grace_seconds: float | None = None) -> Report:
    """Compare storage, the ledger and the counts, and mend them (nothing, on a dry run)."""
    grace = dt.timedelta(
        seconds=settings.STORAGE_RECONCILE_GRACE_SECONDS if grace_seconds is None else grace_seconds
    )
    settled = timezone.now() - grace
    present = {name: default_storage.size(name) for folder in FOLDERS for name in _walk(folder)}
    named = _named()
    ledger = dict(StoredFile.objects.values_list("name", "bytes"))
    adopted: dict[int, dict[str, int]] = {}
    vanished: list[str] = []
    resized: dict[str, int] = {}
    orphans: dict[str, int] = {}
    for name, size in present.items():
        if name in ledger:
            if ledger[name] != size:
                resized[name] = size
        elif _settled(name, settled):
            if name in named:
                adopted.setdefault(named[name], {})[name] = size
            else:
                orphans[name] = size
    for name in ledger.keys() - present.keys():
        # Looked at again: a file written after the walk has its row by now.
        if not default_storage.exists(name):
            vanished.append(name)
    if not dry_run:
        _mend(adopted, vanished, resized)
        storage.delete_files(orphans)
    recounted, drift = _recount(dry_run=dry_run)
    report = Report(
        files=len(present),
        adopted=sum(len(files) for files in adopted.values()),
        vanished=len(vanished),
        resized=len(resized),
        orphans=len(orphans),
        orphan_bytes=sum(orphans.values()),
        recounted=recounted,
        drift_bytes=drift,
    )
    if any((report.adopted, report.vanished, report.resized, report.orphans, report.recounted)):
        logger.warning("storage reconcile%s: %s", " (dry run)" if dry_run else "", report)
    return report


def _walk(folder: str) -> Iterator[str]:
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield folder + name
    for child in folders:
        yield from _walk(f"{folder}{child}/")


def _settled(name: str, settled: dt.datetime) -> bool:
    try:
        return default_storage.get_modified_time(name) < settled
    except (FileNotFoundError, NotImplementedError):
        return False


def _named() -> dict[str, int]:
    """Every stored file a row names, with its owner."""
    named: dict[str, int] = {}
    for owner_id, inputs, prepared in Job.objects.values_list(
        "owner_id", "inputs", "prepared"
    ).iterator():
        for name in (*inputs.values(), *prepared.values()):
            named[name] = owner_id
    for owner_id, file, thumbnail in Result.objects.values_list(
        "job__owner_id", "file", "thumbnail"
    ).iterator():
        named.update((name, owner_id) for name in (file, thumbnail) if name)
    for owner_id, file in Draft.objects.values_list("owner_id", "file").iterator():
        if file:
            named[file] = owner_id
    return named


def _mend(adopted: dict[int, dict[str, int]], vanished: list[str], resized: dict[str, int]) -> None:
    """Rows only: the counts follow them in ``_recount``."""
    with transaction.atomic():
        for owner_id, sizes in adopted.items():
            quotas.ledger_counted(owner_id, sizes)
        StoredFile.objects.filter(name__in=vanished).delete()
        for name, size in resized.items():
            StoredFile.objects.filter(name=name).update(bytes=size)


def _recount(*, dry_run: bool) -> tuple[int, int]:
    """Set each count that is not the sum of its person's rows to that sum. Each person's is
    set under a lock on their quota row, which every count change takes too, so a file counted
    meanwhile is neither lost nor counted twice."""
    sums = dict(
        StoredFile.objects.values("user_id")
        .annotate(total=Sum("bytes"))
        .values_list("user_id", "total")
    )
    off = [
        user_id
        for user_id, counted in Quota.objects.values_list("user_id", "stored_bytes")
        if counted != sums.get(user_id, 0)
    ]
    recounted = drift = 0
    for user_id in off:
        with transaction.atomic():
            quota = Quota.objects.select_for_update().get(user_id=user_id)
            total = StoredFile.objects.filter(user_id=user_id).aggregate(total=Sum("bytes"))
            due = total["total"] or 0
            if quota.stored_bytes == due:
                continue
            recounted += 1
            drift += abs(quota.stored_bytes - due)
            if not dry_run:
                Quota.objects.filter(user_id=user_id).update(stored_bytes=due)
    return recounted, drift
