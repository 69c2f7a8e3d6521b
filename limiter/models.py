from __future__ import annotations

from django.db import models


class Window(models.Model):
    """One budget's recent calls, for the database store (editor-less deployments: SQLite or
    PostgreSQL without Redis). Times are seconds on the store's clock."""

    name = models.CharField(max_length=200, primary_key=True)
    # The times of the last N calls (or reserved slots), oldest first.
    stamps = models.JSONField(default=list)
    # No call before this time: a vendor asked us to back off (429, Retry-After).
    held_until = models.FloatField(default=0.0)
    # When the row says nothing any more (its newest stamp and its hold have left the window).
    expires_at = models.FloatField(default=0.0, db_index=True)

    class Meta:
        db_table = "limiter_window"

    def __str__(self) -> str:
        return self.name
