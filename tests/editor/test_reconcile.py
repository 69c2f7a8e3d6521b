"""The storage reconcile: the ledger mended from what storage holds, orphans deleted, and
every count set to the sum of its person's ledger; with the files a worker is still writing
left alone."""

from __future__ import annotations

import os
import time
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from accounts import quotas
from accounts.models import Quota, StoredFile, User
from editor import jobs, reconcile, storage
from tests.factories import disk_bytes, make_job, stored

pytestmark = pytest.mark.django_db


def age(name: str, seconds: float = 7200) -> None:
    """Make a stored file look written ``seconds`` ago."""
    path = Path(settings.MEDIA_ROOT) / name
    then = time.time() - seconds
    os.utime(path, (then, then))


def aged_job(owner: User) -> set[str]:
    job = make_job(owner)
    names = jobs._files_of(job)
    for name in names:
        age(name)
    return names


def ledger(user: User) -> dict[str, int]:
    return dict(StoredFile.objects.filter(user=user).values_list("name", "bytes"))


def test_files_kept_before_the_ledger_are_adopted_and_counted(alice: User) -> None:
    names = aged_job(alice)  # files written without rows, as before the ledger
    Quota.objects.filter(user=alice).update(stored_bytes=1)
    report = reconcile.reconcile()
    assert report.adopted == len(names) == 3
    assert (report.orphans, report.vanished, report.recounted) == (0, 0, 1)
    assert set(ledger(alice)) == names
    assert stored(alice) == disk_bytes(alice) == sum(ledger(alice).values())
    assert reconcile.reconcile().recounted == 0  # mended once, nothing the second time


def test_an_orphan_is_deleted_but_a_file_still_being_written_is_left_alone(alice: User) -> None:
    names = aged_job(alice)
    reconcile.reconcile()
    counted = stored(alice)
    folder = f"jobs/{alice.pk}/{next(iter(names)).split('/')[2]}/"
    # A worker died after writing this, before counting it: nothing names it.
    orphan = default_storage.save(folder + "result-1.png", ContentFile(b"x" * 500))
    age(orphan)
    # Another worker is writing this one now: its row is on its way.
    fresh = default_storage.save(folder + "prepared-image.jpg", ContentFile(b"y" * 300))
    report = reconcile.reconcile()
    assert (report.orphans, report.orphan_bytes) == (1, 500)
    assert not default_storage.exists(orphan)
    assert default_storage.exists(fresh)
    assert stored(alice) == counted


def test_a_row_whose_file_is_gone_or_changed_is_mended(alice: User, bob: User) -> None:
    gone = storage.save(alice.pk, f"jobs/{alice.pk}/a/result-0.png", ContentFile(b"a" * 100))
    changed = storage.save(bob.pk, f"jobs/{bob.pk}/b/result-0.png", ContentFile(b"b" * 100))
    assert stored(alice) == stored(bob) == 100
    default_storage.delete(gone)  # an operator cleaned up by hand
    (Path(settings.MEDIA_ROOT) / changed).write_bytes(b"b" * 250)
    report = reconcile.reconcile()
    assert (report.vanished, report.resized, report.recounted) == (1, 1, 2)
    assert report.drift_bytes == 100 + 150
    assert ledger(alice) == {}
    assert ledger(bob) == {changed: 250}
    assert (stored(alice), stored(bob)) == (0, 250)


def test_a_count_that_drifted_is_set_to_its_ledger(alice: User) -> None:
    storage.save(alice.pk, f"drafts/{alice.pk}/x-image.png", ContentFile(b"d" * 64))
    quotas.add_storage(alice.pk, 1000)  # counted with no file and no row
    report = reconcile.reconcile()
    assert (report.recounted, report.drift_bytes) == (1, 1000)
    assert stored(alice) == 64


def test_a_dry_run_reports_and_changes_nothing(alice: User) -> None:
    names = aged_job(alice)
    orphan = default_storage.save(f"jobs/{alice.pk}/lost/result-0.png", ContentFile(b"z"))
    age(orphan)
    out = StringIO()
    call_command("reconcile_storage", "--dry-run", stdout=out)
    assert "Would mend (dry run): " in out.getvalue()
    assert "3 adopted" in out.getvalue()
    assert "1 orphans deleted" in out.getvalue()
    assert default_storage.exists(orphan)
    assert not StoredFile.objects.exists()
    out = StringIO()
    call_command("reconcile_storage", stdout=out)
    assert "Reconciled: " in out.getvalue()
    assert not default_storage.exists(orphan)
    assert set(ledger(alice)) == names
    assert stored(alice) == disk_bytes(alice)


def test_the_command_refuses_a_negative_grace() -> None:
    with pytest.raises(CommandError, match="--grace cannot be negative"):
        call_command("reconcile_storage", "--grace", "-1")
