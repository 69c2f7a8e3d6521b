"""The property-based tier's one budget: every test here runs a fixed number of examples,
derandomized (the same examples on every run, so CI is deterministic), with no example database
and no per-example deadline (the first example warms caches)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    # Fixtures (a person, their keys, a link) are made once per test and shared by its
    # examples; each example runs in a savepoint that is rolled back (strategies.isolated).
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
