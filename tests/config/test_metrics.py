"""GET /metrics: Prometheus's page, behind its token; the counters of every process and the
figures read from the database."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import health, metrics
from editor.models import Job, JobStatus
from editor.vendors import http
from editor.vendors.base import VendorError
from tests.factories import make_job_row

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def _token(settings: SettingsWrapper) -> None:
    settings.METRICS_TOKEN = TOKEN


def scrape(client: Client) -> str:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def test_no_token_set_means_no_page_and_a_wrong_token_is_refused(
    client: Client, settings: SettingsWrapper
) -> None:
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics").status_code == 401
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", headers=AUTH).status_code == 404


def test_jobs_the_line_storage_and_workers_are_read_from_the_database(
    client: Client, alice: User
) -> None:
    make_job_row(alice, JobStatus.RUNNING)
    waiting = make_job_row(alice, JobStatus.PENDING)
    Job.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - dt.timedelta(minutes=2))
    make_job_row(alice, JobStatus.FAILED, finished=timezone.now())
    make_job_row(alice, JobStatus.SUCCEEDED, finished=timezone.now() - dt.timedelta(hours=3))
    health.beat("io", "io@host")
    page = scrape(client)
    assert 'studio_jobs{operation="colorize",provider="picwish",state="running"} 1.0' in page
    assert 'studio_jobs{operation="colorize",provider="picwish",state="pending"} 1.0' in page
    ended = 'studio_jobs_ended_last_hour{operation="colorize",provider="picwish",state="%s"} 1.0'
    assert ended % "failed" in page
    assert ended % "succeeded" not in page  # three hours ago
    assert 'studio_queue_jobs{waiting_for="slot"} 1.0' in page
    oldest = next(
        line
        for line in page.splitlines()
        if line.startswith('studio_queue_oldest_wait_seconds{waiting_for="slot"}')
    )
    assert 115 < float(oldest.split()[-1]) < 300
    assert "studio_storage_bytes " in page
    assert 'studio_worker_up{queue="io"} 1.0' in page
    assert 'studio_worker_up{queue="cpu"} 0.0' in page


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_view_and_status(client: Client) -> None:
    before = count("studio_http_requests_total", view="healthz", method="GET", status="200")
    missing = count("studio_http_requests_total", view="unmatched", method="GET", status="404")
    client.get("/healthz")
    client.get("/no/such/page/")
    assert count("studio_http_requests_total", view="healthz", method="GET", status="200") == (
        before + 1
    )
    assert count("studio_http_requests_total", view="unmatched", method="GET", status="404") == (
        missing + 1
    )
    assert 'studio_http_requests_total{method="GET",status="200",view="healthz"}' in scrape(client)


def test_vendor_calls_are_counted_with_their_outcome_and_429s() -> None:
    answers = iter([httpx.Response(429, json={}), httpx.Response(200, json={"ok": True})])
    client = httpx.Client(transport=httpx.MockTransport(lambda request: next(answers)))
    labels = {"vendor": "picwish", "endpoint": "poll"}
    throttled = count("studio_vendor_throttled_total", vendor="picwish")
    before = {
        status: count("studio_vendor_calls_total", **labels, status=status)
        for status in ("429", "200")
    }
    for _ in range(2):
        http.call(
            client,
            "GET",
            "https://vendor.test/task",
            kind=http.CallKind.POLL,
            vendor_label="PicWish",
        )
    for status in ("429", "200"):
        assert count("studio_vendor_calls_total", **labels, status=status) == before[status] + 1
    assert count("studio_vendor_throttled_total", vendor="picwish") == throttled + 1
    assert count("studio_vendor_call_seconds_count", **labels) >= 2


def test_vendor_calls_that_never_got_an_answer_are_counted_by_what_happened() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    before = count(
        "studio_vendor_calls_total", vendor="ailabtools", endpoint="submit", status="network"
    )
    with pytest.raises(VendorError):
        http.call(
            client,
            "POST",
            "https://vendor.test/x",
            kind=http.CallKind.SUBMIT,
            vendor_label="AILabTools",
        )
    assert count(
        "studio_vendor_calls_total", vendor="ailabtools", endpoint="submit", status="network"
    ) == (before + 1)


COUNTING = """
from editor import instruments
instruments.vendor_call("PicWish", "submit", "200", 0.5)
"""


def test_with_a_shared_folder_the_page_adds_up_every_processs_counters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two worker processes count a call each; the web process's page shows both."""
    folder = tmp_path / "metrics"
    folder.mkdir()
    environment = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "PATH": "/usr/bin:/bin"}
    root = Path(__file__).resolve().parents[2]
    for _ in range(2):
        subprocess.run([sys.executable, "-c", COUNTING], cwd=root, env=environment, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    page = metrics.page().decode()
    assert 'studio_vendor_calls_total{endpoint="submit",status="200",vendor="picwish"} 2.0' in page
