"""Fixtures every test of the editor may use: the pipeline driven step by step."""

from tests.editor.pipeline_driver import (  # noqa: F401 (fixtures, found by name)
    picwish_key,
    script,
    sent,
    step,
    submit,
)
