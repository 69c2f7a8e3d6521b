"""Logging filters attached to every handler in ``settings.LOGGING``."""

from __future__ import annotations

import logging
import re

# A share link's token is the whole secret of a public address (/s/<token>/...). Request lines
# (runserver's "GET /s/... 200", "Not Found: /s/...") would otherwise carry it into log files.
SHARE_PATH = re.compile(r"/s/[A-Za-z0-9_-]+")
REDACTED = "/s/[token]"


class RedactShareTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SHARE_PATH.sub(REDACTED, message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True
