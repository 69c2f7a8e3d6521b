"""The bench's figures as JSON: every script records its numbers here, beside its printed table.

``record(key, value)`` appends one line ``{"key": ..., "value": ...}`` to the file named by the
environment variable ``BENCH_FIGURES`` (bench/run.py sets it for every section it runs, so the
scripts it starts inherit it); without it, a script run by hand only prints. One line per
figure, appended and flushed at once: a section that crashes keeps what it recorded before, and
a torn last line costs only that figure. ``collect()`` reads such a file back into one flat
object (the last value of a key wins) and ``write()`` stores it, replaced whole or not at all.

Keys are snake_case (``async300_p50_s``: unit last), values plain numbers, never NaN or infinite
(JSON has no spelling for them).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

ENVIRONMENT = "BENCH_FIGURES"
KEY = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


def check(key: str, value: float) -> float:
    """``value`` as a JSON number for ``key``, or ValueError: a bench's mistake, said loudly."""
    if not KEY.fullmatch(key):
        raise ValueError(f"bench figure {key!r}: keys are snake_case")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"bench figure {key}: {value!r} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"bench figure {key}: {value!r} is not a finite number")
    return value


def record(key: str, value: float) -> None:
    """Keep ``key = value`` for this run's JSON (nothing happens outside bench/run.py)."""
    check(key, value)
    path = os.environ.get(ENVIRONMENT)
    if not path:
        return
    line = json.dumps({"key": key, "value": value}) + "\n"
    # One write of one short line in append mode: lines of several writers never interleave.
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)


def collect(path: Path) -> dict[str, float]:
    """The figures recorded in ``path`` (missing: none), in the order first recorded."""
    figures: dict[str, float] = {}
    if not path.exists():
        return figures
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            item = json.loads(line)
            figures[item["key"]] = check(item["key"], item["value"])
        except (ValueError, TypeError, KeyError):
            print(f"bench figures: line {number} of {path} skipped: {line[:80]!r}", file=sys.stderr)
    return figures


def write(figures: Mapping[str, float], path: Path) -> None:
    """Store ``figures`` as one flat JSON object at ``path``, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(dict(figures), handle, indent=2)
            handle.write("\n")
        os.chmod(temporary, 0o644)  # mkstemp makes it private; figures are not secret
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
