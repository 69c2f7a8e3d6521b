"""Simulated AILabTools and PicWish APIs over real HTTP, for demos and tests (off in production).

Same paths, key headers, multipart fields, envelopes and error codes as the vendors document, so
the real adapters run against it unchanged: point ``AILABTOOLS_BASE_URL`` and
``PICWISH_BASE_URL`` at it and use keys starting with ``sandbox-``. Images are made by simple
classical processing and carry a "SANDBOX" mark. ``manage.py runsandbox`` serves it;
``editor.sandbox.server.start()`` runs it in a background thread for tests. Markers in the key
select the legacy envelope, the retired color migration and injected faults (see ``faults``).

Settings (config/settings.py): SANDBOX_ENABLED, SANDBOX_KEY_PREFIX, SANDBOX_RESULT_TTL,
SANDBOX_URL, SANDBOX_TASK_MS, SANDBOX_PICWISH_QPS and SANDBOX_PICWISH_WINDOW (how the QPS is
counted, see ``rates``), and the fault markers' SANDBOX_FAULT_TIMEOUT_S, SANDBOX_FAULT_DRIP_BYTES
and SANDBOX_FAULT_DRIP_INTERVAL_S (tests shorten them).
"""
