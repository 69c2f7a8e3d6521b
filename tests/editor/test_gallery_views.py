"""The personal gallery: a person's jobs as cards, newest first, filtered, a page at a time, in
a fixed number of queries whatever its size."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from editor.models import Job, JobStatus, Result
from editor.pages.gallery import PAGE_SIZE
from tests.factories import make_job

pytestmark = pytest.mark.django_db

GALLERY = reverse("editor:gallery")
HTMX = {"HX-Request": "true"}
JOB_LINK = re.compile(r'href="/jobs/([0-9a-f-]{36})/"')
MORE_LINK = re.compile(r'<li class="gallery-more">\s*<a [^>]*href="([^"]+)"')
START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

# What one gallery page costs, from the session to the last card: the session, the person,
# a page of jobs, their results, and the count of jobs under way for the page's header.
PAGE_QUERIES = 5


def make_jobs(
    owner: User,
    count: int,
    *,
    operations: Sequence[str] = ("colorize",),
    statuses: Sequence[str] = (JobStatus.SUCCEEDED,),
    start: dt.datetime = START,
    step: dt.timedelta = dt.timedelta(hours=1),
) -> list[Job]:
    """``count`` jobs in two bulk inserts (rows only: the page never opens a file), an hour
    apart from ``start`` on, cycling through operations and statuses; every job that
    succeeded has one result with a thumbnail."""
    jobs = Job.objects.bulk_create(
        Job(
            owner=owner,
            operation=operations[number % len(operations)],
            provider="picwish",
            status=statuses[number % len(statuses)],
            credits=1,
            charged_on=start.date(),
            deadline=start + dt.timedelta(days=1),
            created_at=start + number * step,
        )
        for number in range(count)
    )
    Result.objects.bulk_create(
        Result(
            job=job,
            file=f"jobs/{owner.pk}/{job.pk}/result-0.png",
            thumbnail=f"jobs/{owner.pk}/{job.pk}/thumb-0.jpg",
            media_type="image/png",
        )
        for job in jobs
        if job.status == JobStatus.SUCCEEDED
    )
    return jobs


def shown(content: bytes | str) -> list[str]:
    """The ids of the jobs whose cards a page or fragment shows, in order."""
    text = content.decode() if isinstance(content, bytes) else content
    return JOB_LINK.findall(text)


def ids(jobs: Sequence[Job]) -> list[str]:
    return [str(job.pk) for job in jobs]


def newest_first(jobs: Sequence[Job]) -> list[str]:
    return ids(sorted(jobs, key=lambda job: job.created_at, reverse=True))


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def test_the_gallery_shows_the_persons_jobs_newest_first(alice_client: Client, alice: User) -> None:
    done = make_job(alice)
    failed = make_job(alice, JobStatus.FAILED)
    Job.objects.filter(pk=failed.pk).update(created_at=done.created_at - dt.timedelta(hours=1))
    response = alice_client.get(GALLERY)
    assert response.status_code == 200
    page = response.content.decode()
    assert shown(page) == ids([done, failed])
    result = done.results.get()
    assert f'src="{reverse("editor:result_thumbnail", args=[done.pk, result.pk])}"' in page
    assert page.count('class="gallery-card__placeholder"') == 1  # the failed job has none
    assert "Colorize" in page
    assert '<span class="badge badge--succeeded">Succeeded</span>' in page
    assert '<span class="badge badge--failed">Failed</span>' in page
    assert "1 result" in page


def test_the_gallery_needs_login(client: Client) -> None:
    response = client.get(GALLERY)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_another_person_sees_none_of_alices_jobs(client: Client, alice: User, bob: User) -> None:
    make_jobs(alice, 3)
    client.force_login(bob)
    page = client.get(GALLERY).content.decode()
    assert shown(page) == []
    assert "No jobs yet" in page
    mine = make_jobs(bob, 1)
    assert shown(client.get(GALLERY).content) == ids(mine)


def test_the_nav_and_the_studio_link_to_the_gallery(alice_client: Client, alice: User) -> None:
    make_jobs(alice, 1)
    studio = alice_client.get(reverse("editor:studio")).content.decode()
    assert f'<a href="{GALLERY}" >Gallery</a>' in studio
    assert "See all in your gallery" in studio
    page = alice_client.get(GALLERY).content.decode()
    assert f'<a href="{GALLERY}" aria-current="page">Gallery</a>' in page


def test_an_empty_gallery_points_to_the_studio(alice_client: Client) -> None:
    page = alice_client.get(GALLERY).content.decode()
    assert "No jobs yet" in page
    assert f'href="{reverse("editor:studio")}"' in page


def test_htmx_gets_only_the_results_fragment(alice_client: Client, alice: User) -> None:
    jobs = make_jobs(alice, 3)
    response = alice_client.get(GALLERY, {"status": "succeeded"}, headers=HTMX)
    content = response.content.decode()
    assert "<html" not in content
    assert 'id="gallery-filters"' not in content
    assert content.lstrip().startswith('<section id="gallery-results"')
    assert shown(content) == newest_first(jobs)
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(alice_client: Client, alice: User) -> None:
    make_jobs(alice, 1)
    headers = {**HTMX, "HX-History-Restore-Request": "true"}
    content = alice_client.get(GALLERY, headers=headers).content.decode()
    assert "<html" in content
    assert 'id="gallery-filters"' in content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"operation": "retouch"}, lambda jobs: [j for j in jobs if j.operation == "retouch"]),
        ({"status": "failed"}, lambda jobs: [j for j in jobs if j.status == "failed"]),
        (
            {"operation": "colorize", "status": "succeeded"},
            lambda jobs: [j for j in jobs if (j.operation, j.status) == ("colorize", "succeeded")],
        ),
        ({"date_from": "2026-03-03"}, lambda jobs: [j for j in jobs if j.created_at.day >= 3]),
        ({"date_to": "2026-03-02"}, lambda jobs: [j for j in jobs if j.created_at.day <= 2]),
        (
            {"date_from": "2026-03-02", "date_to": "2026-03-02"},
            lambda jobs: [j for j in jobs if j.created_at.day == 2],
        ),
        ({"operation": "", "status": "", "date_from": "", "date_to": ""}, lambda jobs: jobs),
    ],
)
def test_each_filter_narrows_the_cards(
    alice_client: Client,
    alice: User,
    query: dict[str, str],
    expected: Callable[[list[Job]], list[Job]],
) -> None:
    # Four days, five jobs a day at 00:00, 06:00, ... (UTC, the tests' time zone).
    jobs = make_jobs(
        alice,
        20,
        operations=("colorize", "retouch", "expression"),
        statuses=(JobStatus.SUCCEEDED, JobStatus.FAILED),
        start=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        step=dt.timedelta(hours=6),
    )
    wanted = newest_first(expected(jobs))
    assert 0 < len(wanted) <= PAGE_SIZE
    page = alice_client.get(GALLERY, query).content.decode()
    assert shown(page) == wanted
    assert "Nothing matches" not in page


def test_the_filter_form_keeps_its_values(alice_client: Client, alice: User) -> None:
    make_jobs(alice, 1)
    query = {"operation": "retouch", "status": "failed", "date_from": "2026-03-02"}
    page = alice_client.get(GALLERY, query).content.decode()
    assert re.search(r'<option value="retouch" selected>', page)
    assert re.search(r'<option value="failed" selected>', page)
    assert 'name="date_from" value="2026-03-02"' in page
    assert 'hx-push-url="true"' in page


def test_filters_that_match_nothing_offer_a_reset(alice_client: Client, alice: User) -> None:
    make_jobs(alice, 2)
    page = alice_client.get(GALLERY, {"status": "canceled"}).content.decode()
    assert shown(page) == []
    assert "Nothing matches these filters" in page
    assert "Reset the filters" in page
    assert "No jobs yet" not in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"operation": "paint"}, "Select a valid choice"),
        ({"status": "exploded"}, "Select a valid choice"),
        ({"date_from": "2026-02-30"}, "Enter a valid date"),
        ({"date_to": "yesterday"}, "Enter a valid date"),
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "end date is before the start"),
        ({"before": "not-a-cursor"}, "link to more results is damaged"),
        ({"before": "99999999999999999999999_" + "0" * 32}, "link to more results is damaged"),
    ],
)
def test_bad_filter_values_get_a_clear_message(
    alice_client: Client, alice: User, query: dict[str, str], message: str
) -> None:
    make_jobs(alice, 2)
    for headers in ({}, HTMX):
        response = alice_client.get(GALLERY, query, headers=headers)
        assert response.status_code == 200
        content = response.content.decode()
        assert message in content
        assert 'role="alert"' in content
        assert shown(content) == []


def test_extreme_dates_are_accepted(alice_client: Client, alice: User) -> None:
    jobs = make_jobs(alice, 2)
    for query in (
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
        {"date_from": "1900-01-01"},
        {"date_to": "9999-12-31"},
    ):
        assert shown(alice_client.get(GALLERY, query).content) == newest_first(jobs)
    assert shown(alice_client.get(GALLERY, {"date_to": "0001-01-01"}).content) == []


def next_link(content: str) -> str:
    match = MORE_LINK.search(content)
    assert match, "no Load more link"
    return match.group(1).replace("&amp;", "&")


def test_pages_follow_one_another_without_gaps_or_repeats(
    alice_client: Client, alice: User
) -> None:
    jobs = make_jobs(alice, PAGE_SIZE * 2 + 5)
    # Two jobs share a moment: the page order breaks the tie by id, so neither is lost.
    Job.objects.filter(pk=jobs[-PAGE_SIZE - 1].pk).update(created_at=jobs[-PAGE_SIZE].created_at)
    jobs = list(Job.objects.filter(owner=alice).order_by("-created_at", "-pk"))
    page = alice_client.get(GALLERY).content.decode()
    seen = shown(page)
    assert seen == ids(jobs[:PAGE_SIZE])
    assert 'hx-trigger="revealed, click"' in page
    more = next_link(page)
    # HTMX appends the next cards and the next "Load more" link, nothing else.
    fragment = alice_client.get(more, headers=HTMX).content.decode()
    assert "<html" not in fragment
    assert "gallery-results" not in fragment
    assert fragment.lstrip().startswith('<li class="card gallery-card"')
    seen += shown(fragment)
    last = alice_client.get(next_link(fragment), headers=HTMX).content.decode()
    seen += shown(last)
    assert "gallery-more" not in last
    assert seen == ids(jobs)


def test_pages_keep_the_filters(alice_client: Client, alice: User) -> None:
    jobs = make_jobs(alice, PAGE_SIZE * 2 + 6, statuses=(JobStatus.SUCCEEDED, JobStatus.FAILED))
    failed = [job for job in jobs if job.status == JobStatus.FAILED]
    first = alice_client.get(GALLERY, {"status": "failed"}).content.decode()
    more = next_link(first)
    assert "status=failed" in more
    # Without JavaScript the link opens the next page as a page of its own.
    second = alice_client.get(more).content.decode()
    assert "<html" in second
    assert "Back to the newest" in second
    assert shown(first) + shown(second) == newest_first(failed)


def test_a_new_job_does_not_shift_the_next_page(alice_client: Client, alice: User) -> None:
    jobs = make_jobs(alice, PAGE_SIZE + 3)
    more = next_link(alice_client.get(GALLERY).content.decode())
    make_jobs(alice, 1, start=START + dt.timedelta(days=30))
    rest = shown(alice_client.get(more, headers=HTMX).content)
    assert rest == newest_first(jobs)[PAGE_SIZE:]


@pytest.mark.parametrize(
    "query",
    [{}, {"operation": "colorize", "status": "succeeded", "date_from": "2026-03-01"}],
)
def test_the_query_count_does_not_grow_with_the_gallery(
    alice_client: Client,
    alice: User,
    django_assert_num_queries: Any,
    query: dict[str, str],
) -> None:
    make_jobs(alice, 10, statuses=(JobStatus.SUCCEEDED, JobStatus.FAILED))
    with django_assert_num_queries(PAGE_QUERIES):
        small = alice_client.get(GALLERY, query)
    assert len(shown(small.content)) == (10 if not query else 5)

    make_jobs(alice, 990, statuses=(JobStatus.SUCCEEDED, JobStatus.FAILED))
    with django_assert_num_queries(PAGE_QUERIES):
        big = alice_client.get(GALLERY, query)
    assert len(shown(big.content)) == PAGE_SIZE
    more = next_link(big.content.decode())
    # The next pages cost the same, by HTMX and as a page of their own (one query less: an
    # HTMX fragment has no header counting jobs under way).
    with django_assert_num_queries(PAGE_QUERIES - 1):
        fragment = alice_client.get(more, headers=HTMX)
    assert len(shown(fragment.content)) == PAGE_SIZE
    with django_assert_num_queries(PAGE_QUERIES):
        alice_client.get(more)


def test_every_card_links_to_its_job_page(alice_client: Client, alice: User) -> None:
    job = make_job(alice)
    page = alice_client.get(GALLERY).content.decode()
    assert f'href="{reverse("editor:job", args=[job.pk])}"' in page
    assert timezone.localtime(job.created_at).isoformat()[:19] in page
