"""The admin dashboard: staff only, the right figures, and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Quota, User
from editor.models import Job, JobStatus
from tests.factories import make_admin, make_user

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
URL = "/admin/dashboard/"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(make_admin())
    return client


class _Tables(HTMLParser):
    """Every table of a page by id: its rows, each a list of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table is not None and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(content: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(content)
    return parser.tables


def row(table: list[list[str]], first: str) -> list[str]:
    return next(cells for cells in table if cells and cells[0] == first)


def job(owner: User, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "operation": "colorize",
        "provider": "picwish",
        "status": JobStatus.SUCCEEDED,
        "credits": 1,
        "created_at": NOW - dt.timedelta(hours=1),
    }
    values |= fields
    values.setdefault("charged_on", timezone.localdate(values["created_at"]))
    values.setdefault("deadline", values["created_at"] + dt.timedelta(minutes=10))
    return Job(owner=owner, **values)


def several(owner: User, count: int) -> None:
    Job.objects.bulk_create(
        job(owner, created_at=NOW - dt.timedelta(hours=number % 700)) for number in range(count)
    )


def test_staff_only(client: Client, alice: User) -> None:
    assert client.get(URL).status_code == 302
    client.force_login(alice)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_admin_index_links_to_the_dashboard(admin_client: Client) -> None:
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert f'href="{URL}"' in index
    assert reverse("admin:accounts_auditevent_changelist") in index
    assert "app-accounts" in index  # the apps are still listed below


def test_an_empty_studio(admin_client: Client) -> None:
    response = admin_client.get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert "Studio dashboard" in content
    assert "No job failed." in content
    assert "No job is waiting." in content
    assert "<svg" in content


def test_the_figures(admin_client: Client, alice: User, bob: User) -> None:
    yesterday = NOW - dt.timedelta(days=1)
    last_month = dt.datetime(2026, 2, 20, 12, 0, tzinfo=dt.UTC)
    Job.objects.bulk_create(
        [
            job(alice),
            job(alice, house_key=True),
            job(alice, operation="extend", provider="ailabtools", credits=25),
            job(alice, status=JobStatus.FAILED, error_code="ERROR_NO_FACE", created_at=yesterday,
                operation="expression", provider="ailabtools", credits=12),
            job(bob, status=JobStatus.FAILED, error_code="ERROR_NO_FACE", created_at=yesterday,
                operation="expression", provider="ailabtools", credits=12),
            job(bob, status=JobStatus.FAILED, error_code="deadline", credits=1),
            job(bob, status=JobStatus.CANCELED),
            job(bob, status=JobStatus.QUEUED, created_at=NOW - dt.timedelta(minutes=5)),
            job(bob, status=JobStatus.WAITING, operation="extend", provider="ailabtools",
                credits=25, created_at=NOW - dt.timedelta(hours=3)),
            # Last month: in the 30 days, not in this month's credits.
            job(alice, created_at=last_month),
            # Older than 30 days: in neither.
            job(alice, created_at=NOW - dt.timedelta(days=40)),
        ]
    )  # fmt: skip
    oldest = Job.objects.get(status=JobStatus.WAITING)
    Quota.objects.create(user=alice, stored_bytes=3 * 1024 * 1024)
    Quota.objects.create(user=bob, stored_bytes=1024 * 1024)

    content = admin_client.get(URL).content.decode()
    found = tables(content)

    by_operation = found["by-operation"]
    assert by_operation[0] == [
        "Operation",
        "Succeeded",
        "Failed",
        "Canceled",
        "In progress",
        "Total",
    ]
    assert row(by_operation, "Colorize")[1:] == ["3", "1", "1", "1", "6"]
    assert row(by_operation, "Image extender")[1:] == ["1", "0", "0", "1", "2"]
    assert row(by_operation, "Facial expression")[1:] == ["0", "2", "0", "0", "2"]

    by_day = found["by-day"]
    days = [cells for cells in by_day if len(cells) > 1][1:]
    assert len(days) == 30
    assert days[0][0] == "Sun 15 Mar"  # newest first
    assert days[0][-5:] == ["3", "1", "1", "2", "7"]
    assert days[1][-5:] == ["0", "2", "0", "0", "2"]
    assert row(by_day, "Fri 20 Feb")[-1] == "1"

    failures = found["failures"]
    assert failures[1][:4] == ["AILabTools", "ailabtools", "ERROR_NO_FACE", "2"]
    assert failures[2][:4] == ["PicWish", "picwish", "deadline", "1"]

    credits = found["credits"]
    # Spent: succeeded only; in progress: still active; failed and canceled were refunded.
    assert row(credits, "Image extender")[1:] == ["2", "25", "0", "25"]
    assert row(credits, "Colorize")[1:] == ["5", "2", "1", "1"]
    assert row(credits, "Total")[1:] == ["", "27", "1", "26"]
    assert '<li id="credits-spent">Credits spent in March 2026<strong>27</strong>' in content

    assert '<li id="stored-bytes">Stored<strong>4.0\xa0MB</strong>' in content

    by_jobs = found["busiest-by-jobs"]
    assert [cells[0] for cells in by_jobs[1:]] == ["bob", "alice"]
    assert row(by_jobs, "bob")[1:] == ["5", "26"]
    assert row(by_jobs, "alice")[1:] == ["4", "27"]
    by_credits = found["busiest-by-credits"]
    assert [cells[0] for cells in by_credits[1:]] == ["alice", "bob"]

    assert '<li data-status="queued">Queued<strong>1</strong>' in content
    assert '<li data-status="waiting">Waiting on vendor<strong>1</strong>' in content
    assert '<li data-status="running">Running<strong>0</strong>' in content
    assert reverse("admin:editor_job_change", args=[oldest.pk]) in content
    assert "was started 3\xa0hours ago" in content


def test_the_chart_stacks_each_days_outcomes(admin_client: Client, alice: User) -> None:
    Job.objects.bulk_create(
        [job(alice), job(alice), job(alice, status=JobStatus.FAILED, error_code="x")]
    )
    content = admin_client.get(URL).content.decode()
    assert content.count('<rect class="outcome-succeeded"') == 1
    assert content.count('<rect class="outcome-failed"') == 1
    assert "<title>2026-03-15: 2 Succeeded</title>" in content
    assert "<title>2026-03-15: 1 Failed</title>" in content
    # The busiest day fills the chart's height: 2 + 1 of 3.
    assert 'height="120.0"' in content
    assert 'height="60.0"' in content


def test_the_page_costs_the_same_queries_for_10_or_500_jobs(
    admin_client: Client, alice: User
) -> None:
    several(alice, 10)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(URL).status_code == 200
    for number in range(10):
        several(make_user(f"person{number}"), 49)
    Job.objects.filter(pk__in=Job.objects.values("pk")[:50]).update(
        status=JobStatus.FAILED, error_code="boom"
    )
    Job.objects.filter(
        pk__in=Job.objects.filter(status=JobStatus.SUCCEEDED).values("pk")[:30]
    ).update(status=JobStatus.QUEUED)
    assert Job.objects.count() == 500
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(URL).status_code == 200
    assert len(many) == len(few), [query["sql"] for query in many]


def test_each_vendors_last_hour(admin_client: Client, alice: User) -> None:
    recent = NOW - dt.timedelta(minutes=20)
    Job.objects.bulk_create(
        [
            *(
                job(alice, finished_at=recent, vendor_seconds=float(seconds))
                for seconds in (1, 2, 3, 4, 10)
            ),
            job(alice, status=JobStatus.FAILED, finished_at=recent, vendor_seconds=None),
            # An AILabTools job an hour and a half ago: out of the window.
            job(
                alice,
                provider="ailabtools_advanced",
                operation="expression",
                finished_at=NOW - dt.timedelta(minutes=90),
            ),
            job(alice, status=JobStatus.RUNNING),  # not ended
        ]
    )
    health = tables(admin_client.get(URL).content.decode())["vendor-health"]
    assert row(health, "PicWish") == ["PicWish", "6", "1", "17 %", "3.0 s", "10.0 s"]
    assert not [cells for cells in health if cells and cells[0] == "AILabTools"]


def test_no_vendor_health_without_jobs_in_the_last_hour(admin_client: Client) -> None:
    assert "No job ended in the last hour." in admin_client.get(URL).content.decode()
