"""What the property-based tier sends (text an attacker controls, JSON of any shape, file
names, URLs) and how each example stays on its own: a savepoint rolled back and an empty cache,
so nothing one example stores (a job, a draft, a wrong password's delay) changes the next."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.core.cache import cache
from django.db import transaction
from hypothesis import strategies as st

# Every code point a request can carry: surrogates alone cannot be encoded as UTF-8.
CHARACTERS = st.characters(exclude_categories=["Cs"])

# What attackers try first, besides random text.
SPECIAL_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\u202eexe.jpg",
        "\u2066\u2067\u2068\u2069\u200f\u200e",
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "%00",
        "%",
        "%zz",
        "%2e%2e%2f",
        "\r\nX-Injected: 1",
        '"quoted"',
        "<script>alert(1)</script>",
        "{{ 7*7 }}",
        "é" * 300,
        "a" * 5000,
        "\U0001f600" * 200,
        "ﷺ" * 100,
        "NaN",
        "Infinity",
        "-0",
        "1e309",
        "9" * 5000,
    ]
)

text = st.one_of(SPECIAL_TEXT, st.text(CHARACTERS, max_size=300))

# Numbers as a form sends them, including the ways a parser can be surprised.
NUMBERISH = st.one_of(
    st.integers().map(str),
    st.floats().map(str),
    st.decimals(allow_nan=True).map(str),
    st.sampled_from(
        ["0x10", "1_000", "\uff11\uff12", "\u0663", " 5 ", "5.", ".5", "1e-400", "+-1", "0" * 400]
    ),
)

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(),
    text,
)
# Any JSON value: what a script can send as a field.
json_value: st.SearchStrategy[Any] = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=10,
)


@contextlib.contextmanager
def isolated() -> Iterator[None]:
    """One example: whatever it writes to the database is rolled back, and it starts with an
    empty cache (the limiter's budgets, sessions' throttles)."""
    cache.clear()
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
