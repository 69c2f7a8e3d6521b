"""The job feed (GET /jobs/feed/) and the page attributes notify.js starts from."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from accounts.models import User
from editor.models import Job, JobStatus, Recipe, RecipeRun, RecipeStepRun
from editor.pages.feed import MAX_JOBS, MAX_LOOKBACK
from tests.factories import make_job_row

pytestmark = pytest.mark.django_db

FEED = "/jobs/feed/"


def ms(moment: dt.datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def feed(client: Client, since: str | None = None) -> dict[str, Any]:
    response = client.get(FEED, {} if since is None else {"since": since})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    data: dict[str, Any] = response.json()
    return data


def test_the_feed_url(client: Client) -> None:
    assert reverse("editor:job_feed") == FEED


def test_the_feed_needs_login(client: Client) -> None:
    response = client.get(FEED, {"since": "0"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_feed_is_get_only(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert client.post(FEED).status_code == 405


def test_jobs_that_ended_since_then_with_their_label_status_and_url(
    client: Client, alice: User
) -> None:
    now = timezone.now()
    before = make_job_row(alice, JobStatus.SUCCEEDED, finished=now - dt.timedelta(minutes=2))
    done = make_job_row(alice, JobStatus.SUCCEEDED, finished=now - dt.timedelta(seconds=5))
    failed = make_job_row(
        alice, JobStatus.FAILED, finished=now - dt.timedelta(seconds=1), operation="retouch"
    )
    canceled = make_job_row(alice, JobStatus.CANCELED, finished=now - dt.timedelta(seconds=3))
    make_job_row(alice, JobStatus.RUNNING)
    make_job_row(alice, JobStatus.WAITING)
    client.force_login(alice)

    data = feed(client, ms(now - dt.timedelta(minutes=1)))

    assert set(data) == {"now", "active", "jobs"}
    assert abs(data["now"] - int(timezone.now().timestamp() * 1000)) < 5000
    assert data["active"] == 2
    # Newest first; the job that ended before ``since`` is not listed.
    assert [job["id"] for job in data["jobs"]] == [str(failed.pk), str(canceled.pk), str(done.pk)]
    assert str(before.pk) not in str(data)
    assert data["jobs"][0] == {
        "id": str(failed.pk),
        "operation": "retouch",
        "label": "Retouch from a style",
        "status": "failed",
        "status_label": "Failed",
        "message": "Retouch from a style failed.",
        "url": f"/jobs/{failed.pk}/",
        "finished_at": int(failed.finished_at.timestamp() * 1000) if failed.finished_at else 0,
    }
    assert data["jobs"][1]["message"] == "Colorize was canceled."
    assert data["jobs"][2]["message"] == "Colorize finished."
    assert data["jobs"][2]["status_label"] == "Succeeded"


def test_since_is_inclusive_and_later_jobs_only(client: Client, alice: User) -> None:
    moment = timezone.now().replace(microsecond=0) - dt.timedelta(seconds=30)
    at = make_job_row(alice, JobStatus.SUCCEEDED, finished=moment)
    make_job_row(alice, JobStatus.SUCCEEDED, finished=moment - dt.timedelta(milliseconds=1))
    client.force_login(alice)
    assert [job["id"] for job in feed(client, ms(moment))["jobs"]] == [str(at.pk)]
    assert feed(client, ms(moment + dt.timedelta(milliseconds=1)))["jobs"] == []


def test_since_may_be_iso_8601(client: Client, alice: User) -> None:
    moment = timezone.now() - dt.timedelta(seconds=30)
    job = make_job_row(alice, JobStatus.SUCCEEDED, finished=moment + dt.timedelta(seconds=1))
    client.force_login(alice)
    for since in (
        moment.isoformat(),  # "+00:00", which a query string would turn into a space
        moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(),  # naive: UTC
    ):
        assert [j["id"] for j in feed(client, since)["jobs"]] == [str(job.pk)], since


def test_without_since_only_the_active_count(client: Client, alice: User) -> None:
    make_job_row(alice, JobStatus.SUCCEEDED, finished=timezone.now() - dt.timedelta(seconds=1))
    make_job_row(alice, JobStatus.QUEUED)
    client.force_login(alice)
    assert feed(client) | {"now": 0} == {"now": 0, "active": 1, "jobs": []}


@pytest.mark.parametrize("since", ["yesterday", "2026-13-45T00:00:00", "-5", "1e9", "9" * 30])
def test_a_bad_since_is_a_400(client: Client, alice: User, since: str) -> None:
    client.force_login(alice)
    response = client.get(FEED, {"since": since})
    assert response.status_code == 400
    assert "since" in response.json()["error"]


def test_since_reaches_back_an_hour_at_most(client: Client, alice: User) -> None:
    now = timezone.now()
    make_job_row(alice, JobStatus.SUCCEEDED, finished=now - MAX_LOOKBACK - dt.timedelta(minutes=1))
    recent = make_job_row(
        alice, JobStatus.FAILED, finished=now - MAX_LOOKBACK + dt.timedelta(minutes=1)
    )
    client.force_login(alice)
    assert [job["id"] for job in feed(client, "0")["jobs"]] == [str(recent.pk)]


def test_at_most_a_page_of_ended_jobs(client: Client, alice: User) -> None:
    now = timezone.now()
    for second in range(MAX_JOBS + 5):
        make_job_row(alice, JobStatus.SUCCEEDED, finished=now - dt.timedelta(seconds=second + 1))
    client.force_login(alice)
    assert len(feed(client, ms(now - dt.timedelta(minutes=5)))["jobs"]) == MAX_JOBS


def test_only_the_users_own_jobs(client: Client, alice: User, bob: User) -> None:
    now = timezone.now()
    make_job_row(alice, JobStatus.SUCCEEDED, finished=now - dt.timedelta(seconds=1))
    make_job_row(alice, JobStatus.RUNNING)
    client.force_login(bob)
    assert feed(client, ms(now - dt.timedelta(minutes=1)))["jobs"] == []
    assert feed(client)["active"] == 0


def test_the_feed_is_not_cached(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get(FEED)
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_one_query_for_jobs_however_many(
    client: Client, alice: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    now = timezone.now()
    client.force_login(alice)
    since = ms(now - dt.timedelta(minutes=1))
    # The session and the user, then one query on the jobs.
    with django_assert_num_queries(3):
        feed(client, since)
    for second in range(8):
        make_job_row(alice, JobStatus.SUCCEEDED, finished=now - dt.timedelta(seconds=second + 1))
        make_job_row(alice, JobStatus.RUNNING)
    with django_assert_num_queries(3):
        data = feed(client, since)
    assert len(data["jobs"]) == 8
    assert data["active"] == 8


# --- What every page tells notify.js ------------------------------------------------------


def test_pages_carry_the_feed_and_the_active_job_count(client: Client, alice: User) -> None:
    make_job_row(alice, JobStatus.RUNNING)
    make_job_row(alice, JobStatus.STORING)
    make_job_row(alice, JobStatus.SUCCEEDED, finished=timezone.now())
    client.force_login(alice)
    page = client.get(reverse("editor:studio")).content.decode()
    assert f'data-job-feed="{FEED}"' in page
    assert 'data-active-jobs="2"' in page
    assert 'data-jobs-since="' in page
    assert "/static/js/notify.js" in page
    assert 'id="toast-template"' in page
    assert 'id="favicon"' in page
    assert "/static/favicon-done.svg" in page
    assert "/static/favicon-failed.svg" in page


def test_the_active_count_is_only_the_users_own(client: Client, alice: User, bob: User) -> None:
    make_job_row(alice, JobStatus.RUNNING)
    client.force_login(bob)
    page = client.get(reverse("editor:studio")).content.decode()
    assert 'data-active-jobs="0"' in page


def test_signed_out_pages_have_no_feed(client: Client) -> None:
    page = client.get("/").content.decode()
    assert "data-job-feed" not in page
    assert "data-active-jobs" not in page
    assert 'id="toasts"' not in page


def test_fragments_do_not_count_active_jobs(client: Client, alice: User) -> None:
    """The count is lazy: a status fragment polled every second pays no query for it."""
    job = make_job_row(alice, JobStatus.RUNNING)
    client.force_login(alice)
    url = reverse("editor:job", args=[job.pk])
    with CaptureQueriesContext(connection) as full:
        client.get(url)
    with CaptureQueriesContext(connection) as fragment:
        response = client.get(url, headers={"HX-Request": "true"})
    assert "data-active-jobs" not in response.content.decode()
    counts = [q["sql"] for q in full.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the full page counts the active jobs"
    assert not [q["sql"] for q in fragment.captured_queries if "COUNT(" in q["sql"].upper()]


def test_a_job_page_says_its_end_as_the_feed_does(client: Client, alice: User) -> None:
    """The status fragment of an ended job carries the feed's own sentence, so notify.js says
    the end in the same swap that shows it (nothing moves under the pointer later); a job under
    way carries none."""
    now = timezone.now()
    failed = make_job_row(alice, JobStatus.FAILED, finished=now)
    running = make_job_row(alice, JobStatus.RUNNING)
    client.force_login(alice)
    said = {job["id"]: job["message"] for job in feed(client, ms(now))["jobs"]}
    fragment = client.get(reverse("editor:job", args=[failed.pk]), headers={"HX-Request": "true"})
    assert f'data-ended="{said[str(failed.pk)]}"' in fragment.content.decode()
    page = client.get(reverse("editor:job", args=[running.pk])).content.decode()
    assert "data-ended" not in page
    # The offer of notifications comes after the status, never above it.
    assert page.index('id="job-status"') < page.index('id="notify-offer"')


def test_a_recipe_says_its_last_step_and_a_stopped_one_not_those_handed_on(
    client: Client, alice: User
) -> None:
    """A recipe of three steps: the first two succeeded and handed their results on (no toast
    each), the last one's end is said; in another run, a failed middle step is said too."""
    now = timezone.now()
    step = {"operation": "colorize", "provider": "picwish", "settings": {}}
    recipe = Recipe.objects.create(owner=alice, name="Old photos", steps=[step] * 3)

    def run_of(*statuses: str) -> list[Job]:
        run = RecipeRun.objects.create(
            owner=alice, recipe=recipe, name=recipe.name, steps=recipe.steps
        )
        made = []
        for index, status in enumerate(statuses):
            job = make_job_row(alice, status, finished=now - dt.timedelta(seconds=3 - index))
            RecipeStepRun.objects.create(run=run, index=index, job=job)
            made.append(job)
        return made

    *_handed_on, last = run_of(JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.SUCCEEDED)
    _passed_on, stopped = run_of(JobStatus.SUCCEEDED, JobStatus.FAILED)
    alone = make_job_row(alice, JobStatus.SUCCEEDED, finished=now)
    client.force_login(alice)
    said = [job["id"] for job in feed(client, ms(now - dt.timedelta(minutes=1)))["jobs"]]
    assert sorted(said) == sorted(str(job.pk) for job in (last, stopped, alone))
