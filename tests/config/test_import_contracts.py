"""The layering is a checked rule: `make lint` runs the import contracts in pyproject.toml.

These tests run the same contracts on a copy of the code in which one import that the
restructuring removed is put back: each must break a contract. The unchanged copy keeps them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("accounts", "api", "config", "editor", "limiter")
LINT = (
    "import sys; from importlinter.cli import lint_imports_command; "
    "sys.exit(lint_imports_command())"
)


def copy_of_the_code(into: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, into / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", into / "pyproject.toml")
    return into


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over ``tree``, which comes first on the path (not the installed code)."""
    return subprocess.run(
        [sys.executable, "-c", LINT],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def add_import(tree: Path, module: str, statement: str) -> None:
    """Put ``statement`` back at the end of ``module``, inside a function where the old code
    hid its circles (a function-level import counts as much as one at the top)."""
    path = tree / (module.replace(".", "/") + ".py")
    with path.open("a") as handle:
        handle.write(f"\n\ndef _put_back() -> None:\n    {statement}  # noqa\n")


def test_the_code_as_it_is_keeps_every_contract(tmp_path: Path) -> None:
    result = lint(copy_of_the_code(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        # The API borrowed page modules: now it uses the domain modules.
        (
            "api.jobs",
            "from editor.pages import downloads",
            "The pages, the API and the admin are independent siblings",
        ),
        (
            "api.keys",
            "from editor.pages import vault",
            "The pages, the API and the admin are independent siblings",
        ),
        # The admin borrowed the vault page's secret checks: now editor.keys has them.
        (
            "editor.admin",
            "from editor.pages import vault",
            "The pages, the API and the admin are independent siblings",
        ),
        # Page modules imported editor/views.py as a library.
        (
            "editor.pages.gallery",
            "from editor.pages import jobs",
            "No page module imports another",
        ),
        # The webhooks took their HTTP client from the vendor layer, and were in a circle
        # with the API's jobs and tasks.
        ("api.webhooks", "from api import jobs", "No import circles"),
        # editor/jobs.py -> tasks.py -> jobs.py: now the job's step is sent by its name.
        ("editor.jobs", "from editor import tasks", "editor in layers"),
        ("editor.jobs", "from editor import pipeline", "No import circles"),
        # The domain must not reach up to the edges, nor the vendors into the domain.
        ("editor.submissions", "from editor import forms", "No import circles"),
        ("editor.jobs", "from editor.pages import studio", "editor in layers"),
        ("editor.vendors.picwish", "from editor import models", "editor in layers"),
        ("editor.sandbox.faults", "from editor import images", "editor in layers"),
        ("editor.images", "from editor.vendors import base", "editor in layers"),
        ("accounts.quotas", "from editor import models", "accounts knows nothing of editor"),
    ],
)
def test_an_import_put_back_breaks_a_contract(
    tmp_path: Path, module: str, statement: str, contract: str
) -> None:
    tree = copy_of_the_code(tmp_path)
    add_import(tree, module, statement)
    result = lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(line.startswith(contract) for line in broken), result.stdout
