"""The waiting line (editor.fairqueue), measured. Prints figures; passes or fails nothing.

(a) Fairness, with the real workers and the sandbox (bench/pipeline.py's throwaway world): A
    sends 500 retouches in one batch, then B and C send 5 each; every person runs 5 jobs at
    once. Reported: each person's wait (created -> its first step claimed) at p50 and p95, and
    the slot turnover (how long a slot is held: the median job's run, started -> ended). B's
    and C's jobs should start within one turnover, whatever A has waiting.
(b) The fair choice on a big table (PostgreSQL only): 1,000,000 job rows (ended ones, as a
    studio accumulates) and 10,000 people with jobs waiting and a free slot. Timed 200 times,
    each in a transaction rolled back: the choice (whose turn it is, and that person's oldest
    waiting job locked), and the whole start (the choice, their limits read, the slot taken,
    the job queued).

Figures: ``fair_small_wait_p95_s``, ``fair_big_wait_p95_s``, ``slot_turnover_s``,
``dispatch_choice_ms_1m_rows`` and ``dispatch_start_ms_1m_rows`` (with p95), into ``make
bench``'s JSON. Run it in a fresh process: ``.venv/bin/python bench/waiting_line.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import figures
import pipeline

if TYPE_CHECKING:
    from accounts.models import User
    from editor.models import Job

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BIG_BATCH = 500
SMALL_JOBS = 5
SLOTS = 5
TASK_MS = 500  # the sandbox's async task time (a retouch answers at once)
FAIR_WAIT_S = 180.0
TABLE_ROWS = 1_000_000
WAITING_PEOPLE = 10_000
CHOICES = 200


def _person(name: str) -> User:
    from accounts.models import QuotaOverride

    user = pipeline.make_user(name)
    QuotaOverride.objects.create(user=user, concurrent_jobs=SLOTS, note="bench: 5 at once")
    return user


def _submit(user: User, photos: int) -> list[Job]:
    from editor import jobs, operations

    operation = operations.get("retouch")
    provider = operation.provider("ailabtools")
    key = pipeline.make_key(user, "ailabtools", f"sandbox-bench-queue-{user.username}")
    photo = pipeline.make_image((320, 240), (90, 90, 90))
    style = pipeline.make_image((256, 256), (200, 120, 60))
    _batch, made = jobs.submit_batch(
        owner=user,
        operation=operation,
        provider=provider,
        params={},
        photos=[(photo, f"photo-{number}.jpg") for number in range(photos)],
        files={"style": style},
        key=key,
    )
    return made


def _waits(made: list[Job]) -> list[float]:
    from editor.models import Job

    rows = Job.objects.filter(pk__in=[job.pk for job in made]).values_list(
        "created_at", "started_at"
    )
    return [(started - created).total_seconds() for created, started in rows if started]


def _turnover(made: list[Job]) -> float | None:
    from editor.models import Job, JobStatus

    rows = Job.objects.filter(
        pk__in=[job.pk for job in made], status=JobStatus.SUCCEEDED
    ).values_list("started_at", "finished_at")
    spans = [(ended - began).total_seconds() for began, ended in rows if began and ended]
    return statistics.median(spans) if spans else None


def bench_fairness(world: pipeline.World) -> None:
    from django.conf import settings

    from editor.models import ACTIVE_STATUSES, Job, JobStatus

    settings.SANDBOX_TASK_MS = TASK_MS
    big, small = _person("queue-a"), [_person("queue-b"), _person("queue-c")]
    a_jobs = _submit(big, BIG_BATCH)
    small_jobs = [job for user in small for job in _submit(user, SMALL_JOBS)]
    ids = [job.pk for job in small_jobs]
    # Their slots: taken in the submit's own transaction, whatever A has waiting.
    at_once = Job.objects.filter(pk__in=ids).exclude(status=JobStatus.PENDING).count()
    deadline = time.monotonic() + FAIR_WAIT_S
    while Job.objects.filter(pk__in=ids, status__in=ACTIVE_STATUSES).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    small_waits, big_waits = _waits(small_jobs), _waits(a_jobs)
    turnover = _turnover(a_jobs + small_jobs)
    pipeline.cancel_active(big)
    print(
        f"\n(a) Fairness: A sends {BIG_BATCH} retouches in one batch, then B and C {SMALL_JOBS} "
        f"each; {SLOTS} at once each; sandbox {TASK_MS} ms a job"
    )
    if not small_waits or turnover is None:
        print("    B's and C's jobs did not start: no figures")
        return
    print(f"{'who':<28}{'started':>8}{'wait p50 s':>12}{'wait p95 s':>12}")
    for who, waits, total in (
        ("B and C (5 each)", small_waits, len(small_jobs)),
        (f"A ({BIG_BATCH}, while B and C ran)", big_waits, len(a_jobs)),
    ):
        print(
            f"{who:<28}{len(waits):>4}/{total:<3}{pipeline.percentile(waits, 0.5):>12.2f}"
            f"{pipeline.percentile(waits, 0.95):>12.2f}"
        )
    print(
        f"    B's and C's jobs that had a slot when their submit returned: {at_once} of "
        f"{len(small_jobs)}; the wait above is until a worker took their first step (the io "
        f"workers' 8 threads serve every person's running jobs)"
    )
    print(f"    slot turnover (a job's run, median) {turnover:.2f} s")
    figures.record("fair_small_slot_at_submit", at_once)
    figures.record("fair_small_wait_p95_s", round(pipeline.percentile(small_waits, 0.95), 3))
    figures.record("fair_big_wait_p95_s", round(pipeline.percentile(big_waits, 0.95), 3))
    figures.record("slot_turnover_s", round(turnover, 3))


def _fill_table() -> list[int]:
    """TABLE_ROWS job rows, ended but for one waiting job of each of WAITING_PEOPLE people
    (each with a free slot); returns the waiting people's ids. Written by SQL, in seconds."""
    from django.db import connection

    from accounts.models import Quota, User
    from editor.models import Job, JobStatus

    now = dt.datetime.now(dt.UTC)
    User.objects.bulk_create(
        User(username=f"waiting-{number}", email=f"waiting-{number}@example.com", password="!")
        for number in range(WAITING_PEOPLE)
    )
    people = list(User.objects.filter(username__startswith="waiting-").values_list("pk", flat=True))
    Quota.objects.bulk_create(
        Quota(user_id=pk, waiting_jobs=1, slots=SLOTS, last_started_at=now - dt.timedelta(hours=1))
        for pk in people
    )
    template = Job.objects.create(
        owner_id=people[0],
        operation="retouch",
        provider="ailabtools",
        status=JobStatus.SUCCEEDED,
        credits=1,
        charged_on=now.date(),
        deadline=now,
        created_at=now,
        due_at=now,
    )
    columns = [field.column for field in Job._meta.concrete_fields]
    quote = connection.ops.quote_name
    table = quote(Job._meta.db_table)
    made = {
        "id": "gen_random_uuid()",
        "owner_id": "people.ids[1 + mod(n, cardinality(people.ids))]",
        "created_at": "t.created_at - n * interval '1 second'",
        "status": f"CASE WHEN n <= cardinality(people.ids) THEN '{JobStatus.PENDING}' "
        f"ELSE '{JobStatus.SUCCEEDED}' END",
    }
    select = ", ".join(made.get(column, f"t.{quote(column)}") for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(quote(column) for column in columns)}) "
            f"SELECT {select} FROM {table} t, generate_series(1, %s) AS n, "
            "(SELECT array_agg(id ORDER BY id) AS ids FROM accounts_user "
            "WHERE username LIKE 'waiting-%%') AS people WHERE t.id = %s",
            [TABLE_ROWS - 1, template.pk],
        )
        cursor.execute(f"ANALYZE {table}")
        cursor.execute("ANALYZE accounts_quota")
    return people


def bench_choice() -> None:
    from django.db import connection, transaction

    from editor import fairqueue
    from editor.models import Job

    if connection.vendor != "postgresql":
        print("\n(b) The fair choice on a big table: PostgreSQL only (DATABASE_URL); skipped")
        return
    started = time.perf_counter()
    _fill_table()
    filled = time.perf_counter() - started
    choosing: list[float] = []
    starting: list[float] = []
    chosen = 0
    for _ in range(CHOICES + 10):
        with transaction.atomic():
            began = time.perf_counter()
            person = fairqueue.next_in_turn(1)
            line = fairqueue.oldest_waiting(person[0], 1) if person else []
            choosing.append((time.perf_counter() - began) * 1000)
            transaction.set_rollback(True)
        with transaction.atomic():
            began = time.perf_counter()
            person = fairqueue.next_in_turn(1)
            chosen += len(fairqueue.promote(person[0], most=1)) if person and line else 0
            starting.append((time.perf_counter() - began) * 1000)
            transaction.set_rollback(True)
    choosing, starting = choosing[10:], starting[10:]  # the first ones warm the caches
    rows = Job.objects.count()
    print(
        f"\n(b) The fair choice on {rows:,} job rows with {WAITING_PEOPLE:,} people waiting "
        f"(table filled in {filled:.0f} s), {CHOICES} times each, rolled back, ms:"
    )
    print(f"{'':<58}{'p50':>8}{'p95':>8}")
    for what, samples in (
        ("the choice: whose turn, and their oldest job locked", choosing),
        ("the whole start (their limits read, slot taken, queued)", starting),
    ):
        print(
            f"{what:<58}{pipeline.percentile(samples, 0.5):>8.2f}"
            f"{pipeline.percentile(samples, 0.95):>8.2f}"
        )
    print(f"    a job started each time: {chosen >= CHOICES}")
    for key, samples in (("dispatch_choice", choosing), ("dispatch_start", starting)):
        figures.record(f"{key}_ms_1m_rows", round(pipeline.percentile(samples, 0.5), 3))
        figures.record(f"{key}_p95_ms_1m_rows", round(pipeline.percentile(samples, 0.95), 3))


def _bench_waiting_line(world: pipeline.World) -> None:
    bench_fairness(world)
    bench_choice()


def main() -> None:
    pipeline.run_in_world("queue", "The waiting line", _bench_waiting_line)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
