"""Signals editor sends for whoever wants to follow its jobs without editor importing them.

``job_ended`` is sent once each time a job ends (succeeded, failed or canceled), after the
transaction that ended it has committed, with ``job_id`` (str) and ``status``. A job that is
retried and ends again sends it again.
"""

from __future__ import annotations

from django.dispatch import Signal

job_ended = Signal()
