"""Share-link tokens never reach a log line, whichever logger writes the request path."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from config.log_filters import RedactShareTokens

TOKEN = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr"


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("django.server", logging.INFO, __file__, 1, message, args, None)


def test_a_request_line_loses_the_token_and_keeps_the_rest() -> None:
    entry = record('"%s" %s %s', f"GET /s/{TOKEN}/result/?download=1 HTTP/1.1", "200", "512")
    assert RedactShareTokens().filter(entry)
    assert entry.getMessage() == '"GET /s/[token]/result/?download=1 HTTP/1.1" 200 512'


def test_other_lines_are_left_as_they_are() -> None:
    entry = record("Not Found: %s", "/jobs/feed/")
    RedactShareTokens().filter(entry)
    assert entry.msg == "Not Found: %s"
    assert entry.getMessage() == "Not Found: /jobs/feed/"


@pytest.mark.django_db
def test_a_not_found_share_link_is_logged_without_its_token(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """Django logs every 404 on django.request with its path; the configured filter on that
    logger rewrites the record before any handler sees it."""
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(f"/s/{TOKEN}/")
    assert response.status_code == 404
    assert caplog.records, "Django should log the 404"
    for entry in caplog.records:
        assert TOKEN not in entry.getMessage()
    assert "/s/[token]/" in caplog.text
