"""An account's remaining AILabTools credits, as the credit query answers them (§1.5)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from editor.vendors.ailabtools.errors import bad_response
from editor.vendors.base import read_number, read_object, read_text

UNIVERSAL_CREDITS = "common"  # §1.5: the `unique_sign` of the credits every API spends


@dataclass(frozen=True)
class CreditPool:
    """One row of the credit query's ``data[]`` (§1.5): a kind of credits and what is left."""

    unique_sign: str  # "common" for the universal credits
    name: str
    balance: int
    total: int | None = None


@dataclass(frozen=True)
class CreditBalance:
    """Every credit pool of the account behind a key."""

    pools: tuple[CreditPool, ...]

    @classmethod
    def from_data(cls, rows: object) -> CreditBalance:
        """The answer's ``data``: a list of pools, each with ``unique_sign``, ``name``,
        ``balance`` and ``total``. A row without a sign or a balance is skipped."""
        if isinstance(rows, dict):  # one pool, not wrapped in a list
            rows = [rows]
        if not isinstance(rows, list):
            raise bad_response(_("no credit list"))
        pools: list[CreditPool] = []
        for row in rows:
            pool = read_object(row) or {}
            sign = read_text(pool.get("unique_sign"))
            balance = read_number(pool.get("balance"))
            if not sign or balance is None:
                continue
            total = read_number(pool.get("total"))
            pools.append(
                CreditPool(
                    unique_sign=sign,
                    name=read_text(pool.get("name")),
                    balance=max(0, int(balance)),
                    total=max(0, int(total)) if total is not None else None,
                )
            )
        if rows and not pools:
            raise bad_response(_("a credit list without balances"))
        return cls(tuple(pools))

    @property
    def universal(self) -> CreditPool | None:
        """The universal credits (``unique_sign`` "common"), which every operation here spends;
        None when the account has none on record."""
        return next((pool for pool in self.pools if pool.unique_sign == UNIVERSAL_CREDITS), None)
