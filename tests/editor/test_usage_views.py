"""The usage page: a person's figures against their plan, as the quota counts them."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
import time_machine
from celery import current_app
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts import periods, quotas
from accounts.models import Plan, Quota, User
from editor import jobs, operations, pipeline
from editor.images import ImageLimits
from editor.models import Job, JobStatus, Vendor, VendorKey
from editor.usage import usage_for
from editor.vendors.base import (
    Done,
    Pending,
    ResultImage,
    VendorAdapter,
    VendorRequest,
)
from tests.images import make_image

pytestmark = pytest.mark.django_db

URL = "/usage/"


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    # Jobs are delivered in this process (Studio below); nothing is sent to the broker.
    monkeypatch.setattr(current_app, "send_task", lambda *args, **kwargs: None)


# --- Reading the page ---------------------------------------------------------------------------


@dataclass
class Page(HTMLParser):
    """The figures of the usage page, read from its markup: each table row by its
    ``data-operation``, each stat's ``data-used``/``data-limit``, each chart bar."""

    rows: dict[str, list[str]] = field(default_factory=dict)
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)
    bars: list[dict[str, str]] = field(default_factory=list)
    day_rows: dict[str, list[str]] = field(default_factory=dict)
    _row: list[str] | None = None
    _cell: list[str] | None = None
    _stat: str = ""

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "article" and "usage-stat" in found.get("class", ""):
            self._stat = found["id"].removeprefix("usage-")
        if "data-used" in found and self._stat:
            self.stats[self._stat] = (int(found["data-used"]), int(found["data-limit"]))
        if tag == "tr" and "data-operation" in found:
            self._row = self.rows.setdefault(found["data-operation"], [])
        if tag == "tr" and "data-day" in found:
            self._row = self.day_rows.setdefault(found["data-day"], [])
        if tag in {"th", "td"} and self._row is not None:
            self._cell = []
        if tag == "rect" and "usage-bar" in found.get("class", ""):
            self.bars.append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"th", "td"} and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def read(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def page_of(client: Client) -> tuple[str, Page]:
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    return html, read(html)


def table(page: Page) -> dict[str, tuple[str, int]]:
    """Operation slug -> (jobs, credits) as the table shows them."""
    return {
        slug: (cells[1], int(cells[2].replace(",", "")))
        for slug, cells in page.rows.items()
        if slug != "total"
    }


# --- Running jobs for real, with a scripted vendor ------------------------------------------


DONE = Done((ResultImage(make_image((64, 48), color=(10, 200, 30)), "image/jpeg"),))


class AlwaysDone(VendorAdapter):
    vendor = "fake"
    label = "Fake"
    operations = frozenset()

    @classmethod
    def limits(cls, operation: str, role: str) -> ImageLimits:
        return ImageLimits(frozenset({"JPEG", "PNG"}), 5_000_000, 1000, 1000, 8, 8)

    def submit(self, request: VendorRequest) -> Done | Pending:
        return DONE

    def poll(self, task_ref: str) -> Done | Pending:
        return DONE


@dataclass
class Studio:
    """Submits jobs through editor.jobs and delivers their messages in this process, as the
    worker would."""

    owner: User
    capture: DjangoCaptureOnCommitCallbacks
    messages: list[tuple[str, int]] = field(default_factory=list)
    keys: dict[str, VendorKey] = field(default_factory=dict)

    def submit(self, slug: str, provider: str | None = None, **params: Any) -> Job:
        operation = operations.get(slug)
        chosen = operation.provider(provider) if provider else operation.default_provider
        key = self.keys.get(chosen.vendor.value) if chosen.vendor else None
        with self.capture(execute=True):
            return jobs.submit(
                owner=self.owner,
                operation=operation,
                provider=chosen,
                params=params or operation.vendor_params(chosen, {}),
                files={"image": make_image((64, 48)), "style": make_image((64, 48))}
                if slug == "retouch"
                else {"image": make_image((64, 48))},
                key=key,
            )

    def finish(self, job: Job) -> Job:
        """Deliver the job's messages until it ends."""
        for _step in range(10):
            job.refresh_from_db()
            if not job.is_active:
                return job
            number = job.dispatch
            with self.capture(execute=True):
                pipeline.advance(str(job.pk), number)
        raise AssertionError(f"{job} never ended")

    def run(self, slug: str, provider: str | None = None) -> Job:
        return self.finish(self.submit(slug, provider))

    def fail(self, job: Job) -> Job:
        """Let the job pass its deadline: the sweeper fails it and refunds it."""
        pipeline.sweep(now=job.deadline + dt.timedelta(seconds=1))
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED
        return job


@pytest.fixture
def studio_for(
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[[User], Studio]:
    monkeypatch.setattr(pipeline, "_adapter", lambda job, provider: AlwaysDone(api_key=""))
    for operation in operations.OPERATIONS:
        for provider in operation.providers:
            monkeypatch.setattr(provider.adapter, "limits", AlwaysDone.limits)

    def make(owner: User) -> Studio:
        keys = {}
        for vendor in Vendor:
            key = VendorKey(owner=owner, vendor=vendor, label="Mine")
            key.set_secret(f"sandbox-{owner.username}-{vendor.value}")
            key.save()
            keys[vendor.value] = key
        return Studio(owner, django_capture_on_commit_callbacks, keys=keys)

    return make


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


# --- Access ------------------------------------------------------------------------------------


def test_the_page_needs_login(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_page_takes_get_only(alice_client: Client) -> None:
    assert alice_client.post(URL).status_code == 405


def test_the_nav_links_to_the_page_between_gallery_and_shared(alice_client: Client) -> None:
    html = alice_client.get(reverse("editor:studio")).content.decode()
    nav = re.findall(r'<li><a href="([^"]+)"', html)
    gallery = nav.index(reverse("editor:gallery"))
    assert nav[gallery + 1 : gallery + 3] == [URL, reverse("editor:shares")]
    assert reverse("editor:usage") == URL
    html, _page = page_of(alice_client)
    assert f'<a href="{URL}" aria-current="page">' in html


# --- Figures -------------------------------------------------------------------------------------


def test_a_new_person_sees_their_limits_and_nothing_used(
    alice_client: Client, settings: SettingsWrapper
) -> None:
    html, page = page_of(alice_client)
    assert page.stats == {
        "jobs-today": (0, settings.QUOTA_JOBS_PER_DAY),
        "credits": (0, settings.QUOTA_CREDITS_PER_MONTH),
        "storage": (0, settings.QUOTA_STORAGE_BYTES),
        "running": (0, settings.QUOTA_CONCURRENT_JOBS),
    }
    assert "Studio defaults" in html
    assert "No jobs yet this month." in html
    assert "No vendor credits spent in" in html
    assert "usage-chart__svg" not in html  # nothing to draw
    assert "Every operation" in html
    assert "Every provider" in html


def test_the_plan_its_limits_and_restrictions_are_shown(alice_client: Client, alice: User) -> None:
    alice.plan = Plan.objects.create(
        name="Hobby",
        jobs_per_day=7,
        credits_per_month=300,
        storage_bytes=50 * 1024 * 1024,
        concurrent_jobs=2,
        operations=["colorize", "extend"],
        providers=["picwish", "ailabtools"],
        house_keys=False,
    )
    alice.save()
    Quota.objects.create(user=alice, stored_bytes=3 * 1024 * 1024)
    html, page = page_of(alice_client)
    assert "Your plan: <strong>Hobby</strong>" in html
    assert page.stats["jobs-today"] == (0, 7)
    assert page.stats["credits"] == (0, 300)
    assert page.stats["storage"] == (3 * 1024 * 1024, 50 * 1024 * 1024)
    assert page.stats["running"] == (0, 2)
    assert "<strong>3.0\xa0MB</strong> of 50.0\xa0MB" in html  # filesizeformat's no-break space
    assert "Colorize, Image extender" in html
    assert "PicWish, AILabTools" in html
    assert "Not in your plan: your jobs run on your own keys" in html


def test_house_keys_are_named_when_the_plan_allows_them(alice_client: Client) -> None:
    html, _page = page_of(alice_client)
    assert "The studio has no keys of its own" in html
    house = VendorKey(owner=None, vendor=Vendor.PICWISH, label="Studio PicWish")
    house.set_secret("sandbox-house-picwish")
    house.save()
    html, _page = page_of(alice_client)
    assert re.search(r"Available for PicWish: used when you have no key of your own", html)


def test_figures_match_the_quota_after_success_failure_and_cancel(
    alice_client: Client, alice: User, studio_for: Callable[[User], Studio]
) -> None:
    studio = studio_for(alice)
    studio.run("colorize")  # 1 credit
    studio.run("colorize")  # 1
    studio.run("retouch")  # 3
    studio.run("extend")  # 25
    studio.run("color_migration", "local")  # 0, the built-in engine
    studio.fail(studio.submit("expression"))  # 12, refunded
    assert jobs.cancel(studio.submit("extend"))  # 25, refunded
    failed = studio.fail(studio.submit("retouch"))  # 3, refunded...
    studio.finish(jobs.retry(failed))  # ...then charged again, and it succeeds
    running = studio.submit("expression", "ailabtools_advanced")  # 15, still under way

    quota = Quota.objects.get(user=alice)
    assert quota.credits_this_month == 1 + 1 + 3 + 25 + 0 + 3 + 15
    assert quota.jobs_today == 7
    _html, page = page_of(alice_client)
    assert table(page) == {
        "colorize": ("2", 2),
        "color_migration": ("1", 0),
        "retouch": ("2", 6),
        "extend": ("1", 25),
        "expression": ("1", 15),
    }
    assert page.rows["total"][1:] == ["7", str(quota.credits_this_month)]
    assert page.stats["credits"][0] == quota.credits_this_month
    assert page.stats["jobs-today"][0] == quota.jobs_today
    assert page.stats["running"][0] == quota.active_jobs == 1

    # The chart: today's bar, one part per operation that spent credits, adding up.
    today = str(timezone.localdate().day)
    bars = page.bars
    assert {bar["data-operation"] for bar in bars} == {
        "colorize",
        "retouch",
        "extend",
        "expression",
    }
    assert sum(int(bar["data-credits"]) for bar in bars) == quota.credits_this_month
    assert page.day_rows[today][1] == str(quota.credits_this_month)

    # Ending the running job moves nothing but the running count.
    studio.finish(running)
    _html, page = page_of(alice_client)
    assert page.rows["total"][1:] == ["7", str(quota.credits_this_month)]
    assert page.stats["running"][0] == 0


def test_a_deleted_job_s_credits_still_count_on_a_line_of_their_own(
    alice_client: Client, alice: User, studio_for: Callable[[User], Studio]
) -> None:
    studio = studio_for(alice)
    studio.run("colorize")
    extend = studio.run("extend")
    jobs.delete(extend)
    quota = Quota.objects.get(user=alice)
    assert quota.credits_this_month == 26  # spent at the vendor: not given back
    html, page = page_of(alice_client)
    assert table(page) == {"colorize": ("1", 1), "deleted": ("—", 25)}
    assert page.rows["total"][1:] == ["1", "26"]
    assert "Jobs you deleted still count" in html
    assert usage_for(alice).credits_total == quota.credits_this_month


def test_a_person_sees_only_their_own_figures(
    alice_client: Client, alice: User, bob: User, studio_for: Callable[[User], Studio]
) -> None:
    studio = studio_for(bob)
    studio.run("extend")
    studio.submit("retouch")
    _html, page = page_of(alice_client)
    assert page.rows.keys() == {"total"}
    assert page.stats["credits"][0] == 0
    assert page.stats["jobs-today"][0] == 0
    assert page.stats["running"][0] == 0
    assert page.bars == []


def test_last_month_s_jobs_do_not_count(
    alice_client: Client, alice: User, studio_for: Callable[[User], Studio]
) -> None:
    studio = studio_for(alice)
    with time_machine.travel(timezone.now() - dt.timedelta(days=40)):
        studio.run("extend")
    studio.run("colorize")
    _html, page = page_of(alice_client)
    assert table(page) == {"colorize": ("1", 1)}
    assert page.stats["credits"][0] == Quota.objects.get(user=alice).credits_this_month == 1


def test_stale_counters_read_as_zero_without_writing(alice_client: Client, alice: User) -> None:
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Quota.objects.create(
        user=alice,
        day=yesterday,
        jobs_today=9,
        month=dt.date(2000, 1, 1),
        credits_this_month=500,
    )
    _html, page = page_of(alice_client)
    assert page.stats["jobs-today"][0] == 0
    assert page.stats["credits"][0] == 0
    quota = Quota.objects.get(user=alice)
    assert (quota.day, quota.jobs_today, quota.credits_this_month) == (yesterday, 9, 500)


# --- Reset dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "day_resets", "month_resets"),
    [
        # Local times in America/New_York; the dates as the English locale writes them.
        ("2026-01-31 23:59:59", "Feb. 1, 2026, midnight", "Feb. 1, 2026"),
        ("2026-02-28 12:00:00", "March 1, 2026, midnight", "March 1, 2026"),
        ("2028-02-28 12:00:00", "Feb. 29, 2028, midnight", "March 1, 2028"),
        ("2026-12-31 23:00:00", "Jan. 1, 2027, midnight", "Jan. 1, 2027"),
        ("2026-03-14 00:00:00", "March 15, 2026, midnight", "April 1, 2026"),
    ],
)
def test_reset_dates_at_month_end_in_the_studio_s_time_zone(
    client: Client,
    alice: User,
    settings: SettingsWrapper,
    moment: str,
    day_resets: str,
    month_resets: str,
) -> None:
    settings.TIME_ZONE = "America/New_York"
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = dt.datetime.fromisoformat(moment).replace(tzinfo=zone)
    with time_machine.travel(local, tick=False):
        client.force_login(alice)
        html, _page = page_of(client)
    tomorrow = local.date() + dt.timedelta(days=1)
    midnight = dt.datetime.combine(tomorrow, dt.time.min, tzinfo=zone)
    assert f'<time datetime="{midnight.isoformat()}">{day_resets}</time>' in html
    assert f">{month_resets}</time>" in html


def test_the_reset_moments_are_the_quota_s() -> None:
    # At the boundary the quota rolls its counters exactly when the page says it will.
    tz = zoneinfo.ZoneInfo("UTC")
    today = dt.date(2026, 12, 31)
    with timezone.override(tz):
        assert periods.next_day(today) == dt.datetime(2027, 1, 1, tzinfo=tz)
        assert periods.next_month(today.replace(day=1)) == dt.datetime(2027, 1, 1, tzinfo=tz)


def test_the_counters_reset_when_the_page_said(
    alice: User, studio_for: Callable[[User], Studio]
) -> None:
    studio = studio_for(alice)
    with time_machine.travel(dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=dt.UTC), tick=False):
        studio.run("extend")
        usage = usage_for(alice)
        assert (usage.jobs_today.used, usage.credits.used) == (1, 25)
        day_resets, month_resets = usage.day_resets, usage.month_resets
    with time_machine.travel(day_resets, tick=False):
        usage = usage_for(alice)
        assert (usage.jobs_today.used, usage.credits.used) == (0, 0)
        assert month_resets == day_resets
        assert usage.operations == ()
        quotas.charge(alice, 1)
        assert Quota.objects.get(user=alice).credits_this_month == 1


# --- The chart -----------------------------------------------------------------------------------


def test_the_chart_stacks_each_day_s_operations_and_has_a_text_version(
    client: Client, alice: User, studio_for: Callable[[User], Studio]
) -> None:
    studio = studio_for(alice)
    with time_machine.travel(dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC)):
        studio.run("retouch")
        studio.run("colorize")
    with time_machine.travel(dt.datetime(2026, 3, 12, 10, tzinfo=dt.UTC)):
        studio.run("extend")
        client.force_login(alice)
        html, page = page_of(client)
    start = html.index('<svg class="usage-chart__svg"')
    svg = html[start : html.index("</svg>", start)]
    assert 'role="img"' in svg
    assert 'aria-labelledby="usage-chart-title usage-chart-desc"' in svg
    assert '<title id="usage-chart-title">Credits per day, March 2026</title>' in svg
    desc = re.search(r'<desc id="usage-chart-desc">([^<]+)</desc>', svg)
    assert desc is not None
    assert "29 credits in all" in desc.group(1)
    assert "the busiest day was March 12, with 25 credits" in desc.group(1)
    # Drawn on the server: no chart library from elsewhere.
    assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', html)
    assert svg.count('class="usage-chart__day') == 31  # a column for every day of March

    third = [bar for bar in page.bars if bar["data-operation"] in {"colorize", "retouch"}]
    assert [bar["data-operation"] for bar in third] == ["colorize", "retouch"]  # stacked
    colorize, retouch = third
    assert colorize["x"] == retouch["x"]
    top = float(retouch["y"]) + float(retouch["height"])
    assert top == pytest.approx(float(colorize["y"]), abs=0.15)
    assert float(retouch["height"]) == pytest.approx(3 * float(colorize["height"]), rel=0.05)
    (extend,) = [bar for bar in page.bars if bar["data-operation"] == "extend"]
    assert float(extend["x"]) > float(colorize["x"])

    assert page.day_rows == {
        "3": ["March 3", "4", "Colorize 1, Retouch from a style 3"],
        "12": ["March 12", "25", "Image extender 25"],
    }


@time_machine.travel(dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC), tick=False)
def test_the_page_costs_the_same_queries_for_3_and_300_jobs(
    client: Client, alice: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client.force_login(alice)

    def add(count: int) -> None:
        now = timezone.now()
        slugs = [(op.slug, op.default_provider) for op in operations.OPERATIONS]
        rows = []
        for n in range(count):
            slug, provider = slugs[n % len(slugs)]
            status = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.QUEUED)[n % 3]
            rows.append(
                Job(
                    owner=alice,
                    operation=slug,
                    provider=provider.name,
                    status=status,
                    credits=provider.credits,
                    charged_on=timezone.localdate(now) - dt.timedelta(days=n % 2),
                    deadline=now,
                )
            )
        Job.objects.bulk_create(rows)

    add(3)
    with CaptureQueriesContext(connection) as few:
        page_of(client)
    add(297)
    with django_assert_num_queries(len(few.captured_queries)):
        _html, page = page_of(client)
    assert page.rows["total"][1] == "200"  # the failed third does not count
    # Session, user, plan resolution (groups, override), quota, the jobs aggregate, the
    # house keys and the active-jobs count of the page's header.
    assert len(few.captured_queries) <= 8
