"""Fixtures every test of the editor may use: the pipeline driven step by step with a scripted
vendor (tests/scripted.py, which the S3 tier uses too)."""

from tests.scripted import (  # noqa: F401 (fixtures, found by name)
    picwish_key,
    script,
    sent,
    step,
    submit,
)
