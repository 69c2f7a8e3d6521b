"""Text a person gives us never reorders how the page around it reads: the bidirectional
controls (U+202E and friends) are removed from file names, preset names, prompts and labels."""

from __future__ import annotations

import pytest

from editor import operations, submissions
from editor.models import display_name, plain_text

OVERRIDES = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_every_control_goes_and_nothing_else() -> None:
    assert plain_text(f"a{OVERRIDES}b שלום") == "ab שלום"


def test_a_file_name_shows_as_it_is_named() -> None:
    assert display_name("C:\\photos\\invoice\u202egpj.exe") == "invoicegpj.exe"


@pytest.mark.django_db
def test_a_prompt_is_sent_without_them() -> None:
    extend = operations.get("extend")
    provider = extend.default_provider
    params, _errors = submissions.clean_params(
        extend, provider, {"custom_prompt": "a \u202eblue sky"}, failed={}
    )
    assert params["custom_prompt"] == "a blue sky"
