"""Tests share helpers through modules made for it (tests/factories.py for rows, tests/images.py
for pictures and uploads, tests/pages.py for reading pages...), never by importing another test
module: a test module can then move, split or go without breaking others."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(module: str) -> bool:
    return module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_")


def test_no_module_imports_a_test_module() -> None:
    found: list[str] = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and _is_test_module(node.module):
                found.append(f"{path.relative_to(TESTS.parent)}:{node.lineno} {node.module}")
            elif isinstance(node, ast.Import):
                found += [
                    f"{path.relative_to(TESTS.parent)}:{node.lineno} {alias.name}"
                    for alias in node.names
                    if _is_test_module(alias.name)
                ]
    assert found == []
