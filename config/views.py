"""Infrastructure endpoints that are not part of any app."""

from __future__ import annotations

import hmac
import logging
import os
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from config.celery import app as celery_app
from editor import health, metrics

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
        return row is not None and row[0] == 1
    except Exception:
        logger.warning("healthz: database check failed", exc_info=True)
        return False


def broker_url() -> str:
    return str(celery_app.conf.broker_url)


def broker_answers() -> bool:
    url = broker_url()
    if url.startswith("filesystem://"):
        options = celery_app.conf.broker_transport_options or {}
        folder = Path(options.get("data_folder_out", ""))
        return folder.is_dir() and os.access(folder, os.W_OK)
    try:
        with celery_app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            # Open a channel too: some transports connect lazily.
            conn.default_channel  # noqa: B018
        return True
    except Exception:
        logger.warning("healthz: broker check failed", exc_info=True)
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """503 when the web process cannot serve (database, broker or storage down); 200 otherwise,
    "degraded" when a queue has no worker taking its tasks (the pages still work, jobs wait)."""
    checks = {
        "database": database_answers(),
        "broker": broker_answers(),
        "storage": health.storage_answers(),
    }
    down = sorted(name for name, ok in checks.items() if not ok)
    workers = health.workers()
    slow = sorted(queue for queue, seen in workers.items() if seen["status"] != "ok")
    status = "down" if down else "degraded" if slow else "ok"
    body = {
        "status": status,
        "checks": {name: ("ok" if ok else "down") for name, ok in checks.items()},
        "down": down,
        "workers": workers,
    }
    return JsonResponse(body, status=503 if down else 200)


@never_cache
@require_GET
def metrics_page(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape (editor.metrics), for a scraper that sends ``METRICS_TOKEN`` as a
    bearer token. Without a token set there is no such page: a 404, as for any unknown path."""
    token = str(settings.METRICS_TOKEN)
    if not token:
        raise Http404
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(sent.encode(), token.encode()):
        refused = HttpResponse("A bearer token is needed.\n", status=401, content_type="text/plain")
        refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused
    return HttpResponse(metrics.page(), content_type=CONTENT_TYPE_LATEST)
