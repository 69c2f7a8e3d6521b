"""Re-encrypt every stored vendor key under the newest ``VAULT_KEYS`` entry.

Rotating the vault key: put a new key first in ``VAULT_KEYS`` (keep the old ones after it), run
this command, then drop the old keys. Keys that no configured key can decrypt are counted and
left as they are; their owners have to add them again.
"""

from __future__ import annotations

import uuid
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from editor import vault
from editor.models import VendorKey


class Command(BaseCommand):
    help = "Re-encrypt every stored vendor key under the first (newest) of VAULT_KEYS."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=200,
            help="Keys re-encrypted per transaction (default 200).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size: int = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        rotated = failed = 0
        after: uuid.UUID | None = None
        while True:
            with transaction.atomic():
                keys = VendorKey.objects.select_for_update().only("pk", "ciphertext").order_by("pk")
                if after is not None:
                    keys = keys.filter(pk__gt=after)
                batch = list(keys[:batch_size])
                if not batch:
                    break
                changed = []
                for key in batch:
                    try:
                        key.ciphertext = vault.rotate(key.ciphertext)
                    except vault.VaultError:
                        failed += 1
                        if options["verbosity"] > 1:
                            self.stderr.write(f"Cannot decrypt VendorKey id={key.pk}.")
                        continue
                    changed.append(key)
                VendorKey.objects.bulk_update(changed, ["ciphertext"])
                rotated += len(changed)
                after = batch[-1].pk
        summary = f"Rotated {rotated} key(s); {failed} could not be decrypted."
        if not failed:
            self.stdout.write(self.style.SUCCESS(summary))
            return
        self.stdout.write(self.style.WARNING(summary))
        self.stdout.write(
            "Those were left unchanged: no key in VAULT_KEYS opens them, so their owners need "
            "to add them again (run with -v 2 to list their ids)."
        )
