"""Compare stored files, the storage ledger and each person's stored-bytes count, and mend
them: what beat runs every ``STORAGE_RECONCILE_SECONDS`` (editor.reconcile), run now."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from editor import reconcile


class Command(BaseCommand):
    help = (
        "Compare stored files, the storage ledger and every person's stored-bytes count; adopt "
        "files kept before the ledger, drop rows whose file is gone, delete orphan files and "
        "set each count to its ledger's sum."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be mended; change nothing."
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help="Leave files younger than this many seconds alone (default "
            "STORAGE_RECONCILE_GRACE_SECONDS). 0 only when no job or upload is under way.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        grace: float | None = options["grace"]
        if grace is not None and grace < 0:
            raise CommandError("--grace cannot be negative.")
        report = reconcile.reconcile(dry_run=options["dry_run"], grace_seconds=grace)
        prefix = "Would mend (dry run): " if options["dry_run"] else "Reconciled: "
        self.stdout.write(self.style.SUCCESS(prefix + str(report)))
