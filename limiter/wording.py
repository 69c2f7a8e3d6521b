"""How long a refused caller must wait, in words for a person ("in 5 minutes")."""

from __future__ import annotations

import math

from django.utils.translation import ngettext


def retry_after(wait: float) -> int:
    """Whole seconds to wait, for a ``Retry-After`` header: rounded up, at least 1."""
    return max(1, math.ceil(wait))


def in_words(wait: float) -> str:
    """``wait`` seconds as "in 40 seconds" or, from a minute on, "in 5 minutes" (rounded up:
    a person who comes back at the time said is let in)."""
    seconds = retry_after(wait)
    if seconds < 60:
        return ngettext("in %(count)d second", "in %(count)d seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("in %(count)d minute", "in %(count)d minutes", minutes) % {"count": minutes}
