"""`.env.example` lists every variable config/settings.py reads (the README promises it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_read_from_the_environment_is_in_env_example() -> None:
    settings = (ROOT / "config" / "settings.py").read_text()
    read = set(re.findall(r"""env_\w+\(\s*["']([A-Z][A-Z0-9_]*)["']""", settings))
    listed = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    assert len(read) > 40  # the pattern still finds the settings
    assert sorted(read - listed) == []
