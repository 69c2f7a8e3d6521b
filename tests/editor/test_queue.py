"""The waiting line (editor.fairqueue): jobs past their owner's concurrent-jobs limit are
accepted, charged and wait for a slot; they start oldest first when a slot frees, people take
turns, a waiting job's cancel gives everything back, and pages show each one's place."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from django.db import connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks
from pytest_django import Settings as SettingsWrapper

from accounts import quotas
from accounts.models import Quota, User
from editor import fairqueue, jobs, operations, pipeline
from editor.models import Batch, Job, JobStatus, Vendor, VendorKey
from tests.broker import SentTasks
from tests.factories import make_job_row, make_key, make_user
from tests.images import make_image, photos

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_slot(settings: SettingsWrapper) -> SettingsWrapper:
    settings.QUOTA_CONCURRENT_JOBS = 1
    return settings


def submit(owner: User, key: VendorKey | None = None) -> Job:
    operation = operations.get("colorize")
    return jobs.submit(
        owner=owner,
        operation=operation,
        provider=operation.provider("picwish"),
        params={"format": "png"},
        files={"image": make_image((64, 48))},
        key=key or VendorKey.objects.own(owner, Vendor.PICWISH).first(),
    )


def batch(owner: User, count: int) -> list[Job]:
    operation = operations.get("colorize")
    _batch, made = jobs.submit_batch(
        owner=owner,
        operation=operation,
        provider=operation.provider("picwish"),
        params={"format": "png"},
        photos=[(make_image((64 + index, 48)), f"photo {index}.jpg") for index in range(count)],
        files={},
        key=VendorKey.objects.own(owner, Vendor.PICWISH).first(),
    )
    return made


def rung(sent_tasks: SentTasks) -> list[str]:
    """The job ids sent to the workers, in order."""
    return [args[0] for args in sent_tasks.args[jobs.ADVANCE_TASK]]


def statuses(made: list[Job]) -> list[str]:
    by_id = dict(Job.objects.values_list("pk", "status"))
    return [by_id[job.pk] for job in made]


def counts(user: User) -> tuple[int, int, int, int]:
    quota = Quota.objects.get(user=user)
    return (quota.jobs_today, quota.credits_this_month, quota.active_jobs, quota.waiting_jobs)


def test_past_the_limit_a_job_waits_and_starts_when_a_slot_frees(
    alice: User,
    one_slot: SettingsWrapper,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    make_key(alice, Vendor.PICWISH)
    with django_capture_on_commit_callbacks(execute=True):
        first, second = submit(alice), submit(alice)
    assert (first.status, second.status) == (JobStatus.QUEUED, JobStatus.PENDING)
    assert rung(sent_tasks) == [str(first.pk)]  # a waiting job is not sent to the workers
    # Charged at once, credits included; only the slot waits.
    assert counts(alice) == (2, 2, 1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.end(first, JobStatus.SUCCEEDED)
    second.refresh_from_db()
    assert second.status == JobStatus.QUEUED
    assert rung(sent_tasks) == [str(first.pk), str(second.pk)]
    assert counts(alice) == (2, 2, 1, 0)
    # Its deadline counts from when it started, not from when it was sent.
    operation = operations.get("colorize")
    assert second.deadline >= second.due_at + dt.timedelta(seconds=operation.deadline_seconds)


def test_others_start_before_the_rest_of_a_big_batch_and_people_take_turns(
    settings: SettingsWrapper,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 2
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    for person in (ann, ben, cat):
        make_key(person, Vendor.PICWISH, label=person.username)
    with django_capture_on_commit_callbacks(execute=True):
        anns = batch(ann, 6)
        bens = batch(ben, 4)
        cats = batch(cat, 3)
    # Ben's and Cat's first jobs start at once, while four of Ann's earlier ones still wait.
    assert statuses(anns) == ["queued"] * 2 + ["pending"] * 4
    assert statuses(bens) == ["queued"] * 2 + ["pending"] * 2
    assert statuses(cats) == ["queued"] * 2 + ["pending"]
    assert rung(sent_tasks) == [str(job.pk) for job in (*anns[:2], *bens[:2], *cats[:2])]
    # Every running job ends in a process that dies before it hands on its slot: the sweeper
    # gives the free slots out in turns, one job a person a round; whoever has the fewest jobs
    # running and started longest ago first, and each person's oldest job first.
    running = Job.objects.filter(status=JobStatus.QUEUED)
    for job in running:
        quotas.release(job.owner_id, job.credits, job.charged_on, refund=False)
    running.update(status=JobStatus.SUCCEEDED)
    del sent_tasks.args[jobs.ADVANCE_TASK]
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.sweep()
    assert rung(sent_tasks) == [
        str(job.pk) for job in (anns[2], bens[2], cats[2], anns[3], bens[3])
    ]
    assert statuses(anns) == ["succeeded"] * 2 + ["queued"] * 2 + ["pending"] * 2
    assert [counts(person)[2:] for person in (ann, ben, cat)] == [(2, 2), (2, 0), (1, 0)]


def test_the_sweeper_order_puts_who_started_longest_ago_first(
    settings: SettingsWrapper, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 1
    people = [make_user(name) for name in ("dee", "eve", "fay")]
    for person in people:
        make_key(person, Vendor.PICWISH, label=person.username)
        with django_capture_on_commit_callbacks(execute=True):
            batch(person, 2)
    long_ago = timezone.now() - dt.timedelta(hours=1)
    Quota.objects.filter(user=people[2]).update(last_started_at=long_ago)
    Quota.objects.update(active_jobs=0)  # every slot free, no promotion yet
    assert fairqueue.next_in_turn(10) == [people[2].pk, people[0].pk, people[1].pk]
    Quota.objects.filter(user=people[0]).update(active_jobs=1)  # busy: not in the turn
    assert fairqueue.next_in_turn(10) == [people[2].pk, people[1].pk]


def test_cancelling_a_waiting_job_gives_everything_back_at_once(
    alice: User,
    one_slot: SettingsWrapper,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    key = make_key(alice, Vendor.PICWISH)
    with django_capture_on_commit_callbacks(execute=True):
        first, second = submit(alice), submit(alice)
    key.refresh_from_db()
    assert (counts(alice), key.credits_this_month) == ((2, 2, 1, 1), 2)
    assert jobs.cancel(second)
    assert second.status == JobStatus.CANCELED
    key.refresh_from_db()
    # Its job of the day, its credits (quota and key) and its place; the running job's slot
    # is untouched.
    assert (counts(alice), key.credits_this_month) == ((1, 1, 1, 0), 1)
    assert not jobs.cancel(second)
    # The slot the first job frees has nothing waiting for it.
    with django_capture_on_commit_callbacks(execute=True):
        jobs.end(first, JobStatus.SUCCEEDED)
    assert counts(alice) == (1, 1, 0, 0)
    assert rung(sent_tasks) == [str(first.pk)]


def test_the_waiting_limit_refuses_with_a_clear_message(
    alice: User, client: Client, one_slot: SettingsWrapper
) -> None:
    one_slot.QUOTA_WAITING_JOBS = 1
    make_key(alice, Vendor.PICWISH)
    submit(alice)
    submit(alice)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        submit(alice)
    message = (
        "You already have 1 job waiting for a slot, your limit (1 of your jobs run at once). "
        "Send more when it has started, or cancel it."
    )
    assert (caught.value.limit, caught.value.message) == ("waiting_jobs", message)
    assert Job.objects.count() == 2
    client.force_login(alice)
    page = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "png", "file_image": photos(1)},
    ).content.decode()
    assert "You already have 1 job waiting for a slot, your limit" in page
    assert Job.objects.count() == 2


def test_a_waiting_jobs_place_and_estimated_start(alice: User, settings: SettingsWrapper) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 2
    make_key(alice, Vendor.PICWISH)
    made = batch(alice, 6)
    places = fairqueue.places(alice.pk, made)
    assert [places[job.pk].ahead for job in made[2:]] == [0, 1, 2, 3]
    assert set(places) == {job.pk for job in made[2:]}
    assert {place.starts_at for place in places.values()} == {None}  # nothing to go by yet
    # Her recent jobs took 100 s: two start per turn.
    finished = timezone.now()
    done = make_job_row(alice, JobStatus.SUCCEEDED, finished=finished)
    Job.objects.filter(pk=done.pk).update(started_at=finished - dt.timedelta(seconds=100))
    before = timezone.now()
    places = fairqueue.places(alice.pk, made)
    waits = []
    for job in made[2:]:
        starts_at = places[job.pk].starts_at
        assert starts_at is not None
        waits.append(round((starts_at - before).total_seconds(), -1))
    assert waits == [100, 100, 200, 200]


def test_pages_show_waiting_running_and_each_place(
    alice: User, client: Client, settings: SettingsWrapper
) -> None:
    settings.QUOTA_CONCURRENT_JOBS = 2
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "png", "file_image": photos(5)},
    )
    assert response.status_code == 302
    made = list(Batch.objects.get().jobs.order_by("created_at"))
    page = client.get(reverse("editor:batch", args=[made[0].batch_id])).content.decode()
    assert "2 running" in page
    assert "3 waiting for a slot" in page
    assert "Starts next, when one of your running jobs ends" in page
    assert "2 of your jobs start before this one" in page
    job_page = client.get(reverse("editor:job", args=[made[3].pk])).content.decode()
    assert "Waiting for a slot" in job_page
    assert "1 of your jobs starts before this one" in job_page
    assert re.search(r'action="/jobs/[0-9a-f-]+/cancel/"', job_page)
    usage = client.get(reverse("editor:usage")).content.decode()
    assert "3 more wait for a slot (at most 500 may wait)." in usage


def test_a_retried_job_waits_for_a_slot_like_a_new_one(
    alice: User,
    one_slot: SettingsWrapper,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    make_key(alice, Vendor.PICWISH)
    with django_capture_on_commit_callbacks(execute=True):
        running = submit(alice)
        failed = submit(alice)
        jobs.cancel(failed)
        retried = jobs.retry(failed)
    assert (running.status, retried.status) == (JobStatus.QUEUED, JobStatus.PENDING)
    assert counts(alice)[2:] == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_racing_promotions_never_pass_the_limit_nor_start_a_job_twice(
    settings: SettingsWrapper,
) -> None:
    """Ten processes hand on the same person's free slots at once (each its own connection):
    exactly the free slots are taken, by the oldest waiting jobs. On PostgreSQL the rows are
    locked and skipped (SKIP LOCKED) and the quota UPDATE is conditional; on SQLite each
    write transaction runs alone."""
    settings.QUOTA_CONCURRENT_JOBS = 3
    racer = make_user("racer")
    make_key(racer, Vendor.PICWISH)
    made = batch(racer, 10)
    # The three running jobs end in processes that die before handing their slots on.
    running = Job.objects.filter(status=JobStatus.QUEUED)
    for job in running:
        quotas.release(job.owner_id, job.credits, job.charged_on, refund=False)
    running.update(status=JobStatus.SUCCEEDED)
    start = threading.Barrier(10)
    started: list[int] = []
    lock = threading.Lock()

    def promote() -> None:
        try:
            start.wait()
            with transaction.atomic():
                count = len(fairqueue.promote(racer.pk))
        finally:
            connections.close_all()
        with lock:
            started.append(count)

    threads = [threading.Thread(target=promote) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(started) == 3
    assert statuses(made) == ["succeeded"] * 3 + ["queued"] * 3 + ["pending"] * 4
    assert counts(racer)[2:] == (3, 4)
