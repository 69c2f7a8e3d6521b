"""A URL that answers a fragment to HTMX and a whole page to a browser must say so in
``Vary: HX-Request``, or a cache (the browser's back button included) can show a bare fragment
where a page belongs. Every view that reads ``request.htmx`` declares it with
``@vary_on_headers("HX-Request")``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User
from editor.models import JobStatus
from tests.factories import make_job

ROOT = Path(__file__).resolve().parents[2]
EDGES = [*sorted((ROOT / "editor" / "pages").glob("*.py")), ROOT / "api" / "views.py"]


def _reads_htmx(function: ast.FunctionDef) -> bool:
    return any(
        isinstance(node, ast.Attribute)
        and node.attr == "htmx"
        and isinstance(node.value, ast.Name)
        and node.value.id == "request"
        for node in ast.walk(function)
    )


def _varies_on_htmx(function: ast.FunctionDef) -> bool:
    for decorator in function.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Name)
            and decorator.func.id == "vary_on_headers"
            and any(
                isinstance(arg, ast.Constant) and arg.value == "HX-Request"
                for arg in decorator.args
            )
        ):
            return True
    return False


def test_every_view_that_reads_htmx_varies_on_it() -> None:
    readers: list[str] = []
    missing: list[str] = []
    for path in EDGES:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and _reads_htmx(node):
                where = f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
                readers.append(where)
                if not _varies_on_htmx(node):
                    missing.append(where)
    assert len(readers) >= 10  # the check still finds the views it is about
    assert missing == []


@pytest.mark.django_db
def test_a_job_page_and_its_fragment_vary_on_the_htmx_header(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    job = make_job(alice, JobStatus.RUNNING)
    page = client.get(f"/jobs/{job.pk}/")
    fragment = client.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true")
    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.content.decode()
    assert "<html" not in fragment.content.decode()
    for response in (page, fragment):
        assert "HX-Request" in response["Vary"]
