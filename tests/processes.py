"""What tests need to start other processes against the test's own database."""

from __future__ import annotations

from django.db import connection


def database_url() -> str:
    """The URL of the database this test sees, for a worker or helper process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
