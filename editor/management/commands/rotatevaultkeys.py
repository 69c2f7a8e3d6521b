"""Re-encrypt every stored vendor key and share-link token under the newest ``VAULT_KEYS`` entry.

Rotating the vault key: put a new key first in ``VAULT_KEYS`` (keep the old ones after it), run
this command, then drop the old keys. Keys that no configured key can decrypt are counted and
left as they are; their owners have to add them again. (A share link whose token cannot be
decrypted still opens, since it is found by its hash; only its owner can no longer copy it.)
"""

from __future__ import annotations

import uuid
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Model

from editor import vault
from editor.models import ShareLink, VendorKey


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored vendor key and share-link token under the first (newest) "
        "of VAULT_KEYS."
    )

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
        verbose = options["verbosity"] > 1
        keys, bad_keys = self._rotate(VendorKey, "ciphertext", batch_size, verbose)
        links, bad_links = self._rotate(ShareLink, "token_ciphertext", batch_size, verbose)
        summary = (
            f"Rotated {keys} key(s); {bad_keys} could not be decrypted. "
            f"Rotated {links} share link(s); {bad_links} could not be decrypted."
        )
        if not bad_keys and not bad_links:
            self.stdout.write(self.style.SUCCESS(summary))
            return
        self.stdout.write(self.style.WARNING(summary))
        self.stdout.write(
            "Those were left unchanged: no key in VAULT_KEYS opens them, so their owners need "
            "to add keys again or make new links (run with -v 2 to list their ids)."
        )

    def _rotate(
        self, model: type[Model], field: str, batch_size: int, verbose: bool
    ) -> tuple[int, int]:
        """Re-encrypt ``field`` on every row of ``model``, a batch per transaction, in primary
        key order; returns (rotated, undecryptable)."""
        rotated = failed = 0
        after: uuid.UUID | None = None
        while True:
            with transaction.atomic():
                rows = model._default_manager.select_for_update().only("pk", field).order_by("pk")
                if after is not None:
                    rows = rows.filter(pk__gt=after)
                batch = list(rows[:batch_size])
                if not batch:
                    break
                changed = []
                for row in batch:
                    try:
                        setattr(row, field, vault.rotate(getattr(row, field)))
                    except vault.VaultError:
                        failed += 1
                        if verbose:
                            self.stderr.write(f"Cannot decrypt {model.__name__} id={row.pk}.")
                        continue
                    changed.append(row)
                model._default_manager.bulk_update(changed, [field])
                rotated += len(changed)
                after = batch[-1].pk
        return rotated, failed
