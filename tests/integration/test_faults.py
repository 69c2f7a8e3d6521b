"""Every sandbox fault through the real pipeline: a worker process, the broker, the database and
the sandbox over HTTP.

For each fault the job must end in the right state (succeeded or failed) with the adapter's
words for it, by its deadline, and leave the books right: the person's quota and the key's
monthly count refunded on failure and kept on success, no job slot held, and a bad-key message
on the key only for bad-key codes. All jobs of the table run at once (one person each, so every
person's counters speak for one job); faults that stay retryable get short deadlines, and the
worker's vendor calls are capped at ``CALL_CAP`` seconds so that a vendor that never answers
shows in seconds.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from django.db import transaction
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts.models import Quota, User
from editor import jobs, operations, pipeline
from editor.models import ACTIVE_STATUSES, Job, JobStatus, Vendor, VendorKey
from editor.sandbox import faults
from editor.sandbox.state import STATE, Task
from editor.vendors import picwish
from editor.vendors.ailabtools import errors as ailabtools_errors
from tests.images import make_image
from tests.integration.conftest import SpawnWorker, Worker

pytestmark = [pytest.mark.integration]

CALL_CAP = 3  # seconds: VENDOR_CALL_MAX_SECONDS in the worker
# Longer than CALL_CAP, so the client gives up first; the sandbox answers (to no one) after it.
SANDBOX_TIMEOUT_S = CALL_CAP + 2
RETRY_DEADLINE = 10.0  # seconds from the submit, for faults that stay retryable
RECOVERY_DEADLINE = 20.0  # for faults that pass: the job must succeed by then
DEADLINE = 30.0  # for faults that cannot pass: the job must fail at once, without retrying
# A retry is due before the deadline, but with every thread of the worker busy it may start a
# little later and then spend a capped call or two: the job ends by deadline + SLACK.
SLACK = 2 * CALL_CAP + 2.0
# The longest wait a retryable error asks for (AILabTools' rate limit hint, 5 s); backoff is
# JOB_RETRY_BASE_SECONDS (1) * 2**attempts * up to 1.5.
LONGEST_HINT = 5.0
PICWISH_QPS = 4  # the sandbox's limit per key, and what our limiter is told

PHOTO = make_image((320, 240), color=(90, 90, 90))
FACE = make_image((256, 256), color=(200, 160, 140))


@dataclass(frozen=True)
class Run:
    """One operation as a person submits it."""

    slug: str
    provider: str
    vendor: Vendor
    params: dict[str, str]
    files: dict[str, bytes]

    @property
    def credits(self) -> int:
        return operations.get(self.slug).provider(self.provider).credits


RETOUCH = Run("retouch", "ailabtools", Vendor.AILABTOOLS, {}, {"image": PHOTO, "style": FACE})
ADVANCED = Run(
    "expression",
    "ailabtools_advanced",
    Vendor.AILABTOOLS,
    {"expression": "natural_smile"},
    {"image": FACE},
)
COLORIZE = Run("colorize", "picwish", Vendor.PICWISH, {"format": "png"}, {"image": PHOTO})


@dataclass(frozen=True)
class Case:
    run: Run
    markers: str  # the key's text after "sandbox-"
    code: str  # the job's error_code; "" for a success
    message: str  # what the job's error_message starts with
    retryable: bool = False
    attempts: int | None = None  # exact retries, where the fault decides them

    @property
    def succeeds(self) -> bool:
        return not self.code

    @property
    def deadline(self) -> float:
        if self.succeeds:
            return RECOVERY_DEADLINE
        return RETRY_DEADLINE if self.retryable else DEADLINE

    @property
    def order(self) -> int:
        """Submitted first: the jobs that must beat a deadline."""
        return 0 if self.succeeds else 1 if self.retryable else 2


def ok(run: Run, markers: str, attempts: int) -> Case:
    return Case(run, markers, "", "", attempts=attempts)


def ailab_code(code: str) -> Case:
    info = ailabtools_errors.ERRORS[code]
    return Case(RETOUCH, f"fault-error-{code}", code, str(info.message), info.retryable)


def picwish_state(state: int) -> Case:
    text, _transient = picwish.STATE_FAILURES[state]
    # Seen while polling, a failed task is final (editor.vendors.picwish._state_error).
    return Case(COLORIZE, f"fault-state-{-state}", f"state_{state}", str(text))


def transport_faults(run: Run, label: str) -> list[Case]:
    """The faults of the wire and the body, the same for every vendor."""
    return [
        Case(run, "fault-timeout", "timeout", f"{label} did not answer in time.", True),
        Case(run, "fault-drip", "timeout", f"{label} was too slow sending its answer.", True),
        # A 200 cut off half way: the vendor may have charged it, so it is not sent again.
        Case(run, "fault-truncated", pipeline.UNREADABLE_ANSWER, UNREADABLE),
        Case(run, "fault-oversize", "too_large", f"{label} sent an answer larger than we accept"),
        Case(
            run,
            "fault-oversize-stream",
            "too_large",
            f"{label} sent an answer larger than we accept",
        ),
        Case(
            run,
            "fault-expired",
            "result_expired",
            f"The result link from {label} has expired or is no longer available.",
        ),
        Case(
            run,
            "resultfault-http-503",
            "download_503",
            f"{label}'s file server is busy.",
            True,
        ),
    ]


AILAB_BUSY = "AILabTools had a temporary problem"
# A submit answered 200 that could not be read (editor.pipeline._unreadable).
UNREADABLE = "The vendor answered but the answer was unreadable; it may have charged you."
RATE_LIMITED = str(ailabtools_errors.ERRORS["EXCEEDING_LIMITS"].message)

CASES: list[Case] = [
    # Every code of the adapter's table, as the sandbox answers it (status from the contract).
    *(ailab_code(code) for code in ailabtools_errors.ERRORS),
    # The account really runs dry: 2 credits left, a retouch costs 3.
    Case(
        RETOUCH,
        "credits-2",
        "ERROR_NOT_ENOUGH_CREDITS",
        str(ailabtools_errors.ERRORS["ERROR_NOT_ENOUGH_CREDITS"].message),
    ),
    # Synchronous AILabTools: retouch.
    ok(RETOUCH, "fault-flaky-2", 2),
    ok(RETOUCH, "fault-ratelimit-2", 2),
    ok(RETOUCH, "fault-latency-500", 0),
    Case(RETOUCH, "fault-ratelimit", "EXCEEDING_LIMITS", RATE_LIMITED, True),
    *(
        Case(
            RETOUCH,
            f"fault-http-{n}",
            f"http_{n}",
            f"{AILAB_BUSY} (HTTP {n}).",
            True,
        )
        for n in (500, 502, 503, 504)
    ),
    Case(RETOUCH, "fault-http-403", "http_403", "AILabTools refused the request (HTTP 403)."),
    Case(
        RETOUCH,
        "fault-badjson",
        pipeline.UNREADABLE_ANSWER,
        UNREADABLE,
    ),
    *transport_faults(RETOUCH, "AILabTools"),
    Case(
        RETOUCH,
        "resultfault-expired",
        "result_expired",
        "The result link from AILabTools has expired or is no longer available.",
    ),
    Case(
        RETOUCH,
        "resultfault-http-404",
        "result_expired",
        "The result link from AILabTools has expired or is no longer available.",
    ),
    Case(RETOUCH, "resultfault-timeout", "timeout", "AILabTools did not answer in time.", True),
    Case(
        RETOUCH, "resultfault-drip", "timeout", "AILabTools was too slow sending its answer.", True
    ),
    Case(
        RETOUCH,
        "resultfault-truncated",
        "network",
        "AILabTools broke off the connection before its answer was complete.",
        True,
    ),
    Case(
        RETOUCH,
        "resultfault-oversize",
        "too_large",
        "AILabTools sent an answer larger than we accept",
    ),
    # Asynchronous AILabTools: the advanced expression editor (submit, polls, download).
    ok(ADVANCED, "fault-flaky-2", 2),
    ok(ADVANCED, "fault-ratelimit-2", 2),
    Case(ADVANCED, "fault-ratelimit", "EXCEEDING_LIMITS", RATE_LIMITED, True),
    Case(ADVANCED, "fault-http-502", "http_502", f"{AILAB_BUSY} (HTTP 502).", True),
    Case(
        ADVANCED,
        "fault-badjson",
        pipeline.UNREADABLE_ANSWER,
        UNREADABLE,
    ),
    Case(
        ADVANCED,
        "fault-error-ERROR_NO_FACE_IN_FILE",
        "ERROR_NO_FACE_IN_FILE",
        str(ailabtools_errors.ERRORS["ERROR_NO_FACE_IN_FILE"].message),
    ),
    Case(
        ADVANCED,
        "fault-taskfail",
        "PROCESSING_FAILURE",
        "AILabTools could not finish this task. Run the job again.",
    ),
    *transport_faults(ADVANCED, "AILabTools"),
    # Asynchronous PicWish: colorize. Its error-<n> answers {"status": n, "message"} with HTTP n.
    ok(COLORIZE, "fault-flaky-2", 2),
    ok(COLORIZE, "fault-ratelimit-2", 2),
    Case(
        COLORIZE,
        "fault-ratelimit",
        "rate_limited",
        "PicWish is limiting how fast this key may send requests.",
        True,
    ),
    Case(COLORIZE, "fault-error-400", "bad_request", "PicWish rejected the request"),
    Case(COLORIZE, "fault-error-401", "unauthorized", "PicWish did not accept the API key"),
    Case(
        COLORIZE,
        "fault-error-404",
        "not_found",
        "PicWish's colorization service was not found.",
    ),
    Case(
        COLORIZE,
        "fault-error-413",
        "too_large",
        "This photo is larger than PicWish accepts (up to 15 MB).",
    ),
    Case(
        COLORIZE,
        "fault-error-429",
        "rate_limited",
        "PicWish is limiting how fast this key may send requests.",
        True,
    ),
    Case(COLORIZE, "fault-error-500", "http_500", "PicWish had a server error (HTTP 500).", True),
    Case(COLORIZE, "fault-http-502", "http_502", "PicWish had a server error (HTTP 502).", True),
    Case(COLORIZE, "fault-http-403", "http_403", "PicWish gave an unexpected answer (status 403)."),
    Case(COLORIZE, "fault-badjson", pipeline.UNREADABLE_ANSWER, UNREADABLE),
    *(picwish_state(state) for state in sorted(picwish.STATE_FAILURES)),
    *transport_faults(COLORIZE, "PicWish"),
]


# --- Fixtures --------------------------------------------------------------------------------


@pytest.fixture
def fault_worker(spawn_worker: SpawnWorker, settings: SettingsWrapper) -> Worker:
    """The conftest ``worker``, with every vendor call capped at CALL_CAP seconds and our
    PicWish limiter told the sandbox's limit."""
    # The sandbox runs in this process and reads these per request.
    settings.SANDBOX_FAULT_TIMEOUT_S = SANDBOX_TIMEOUT_S
    settings.SANDBOX_PICWISH_QPS = PICWISH_QPS
    return spawn_worker(VENDOR_CALL_MAX_SECONDS=str(CALL_CAP), PICWISH_QPS=str(PICWISH_QPS))


def person(name: str) -> User:
    user = User(username=name, email=f"{name}@example.com")
    user.set_unusable_password()  # hashing a password per person would cost seconds here
    user.save()
    return user


def vault_key(owner: User, vendor: Vendor, secret: str) -> VendorKey:
    key = VendorKey(owner=owner, vendor=vendor, label=f"faults {owner.username}")
    key.set_secret(secret)
    key.save()
    return key


def submit_all(orders: list[tuple[User, VendorKey, Run, float]]) -> list[Job]:
    """Submit every ``(owner, key, run, deadline)`` in one transaction: the worker hears of all
    the jobs at once when it commits, and each deadline (in seconds) counts from then."""
    with transaction.atomic():
        submitted = []
        for owner, key, run, _deadline in orders:
            operation = operations.get(run.slug)
            submitted.append(
                jobs.submit(
                    owner=owner,
                    operation=operation,
                    provider=operation.provider(run.provider),
                    params=run.params,
                    files=run.files,
                    key=key,
                )
            )
        now = timezone.now()
        for job, (*_rest, deadline) in zip(submitted, orders, strict=True):
            Job.objects.filter(pk=job.pk).update(deadline=now + dt.timedelta(seconds=deadline))
    for job in submitted:
        job.refresh_from_db()
    return submitted


def wait_for_all(jobs_: list[Job], timeout: float) -> None:
    ids = [job.pk for job in jobs_]
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if not Job.objects.filter(pk__in=ids, status__in=ACTIVE_STATUSES).exists():
            return
        time.sleep(0.5)
    stuck = Job.objects.filter(pk__in=ids, status__in=ACTIVE_STATUSES)
    raise AssertionError(
        "jobs still active: " + ", ".join(f"{job.status} {job.error_code}" for job in stuck)
    )


def problems(case: Case, job: Job, key: VendorKey, secret: str) -> list[str]:
    """What is wrong with one ended job, in words (empty when all is right)."""
    found: list[str] = []
    expected_status = JobStatus.SUCCEEDED if case.succeeds else JobStatus.FAILED
    if job.status != expected_status:
        found.append(f"status {job.status} ({job.error_code}: {job.error_message})")
    if not case.succeeds:
        if job.error_code != case.code:
            found.append(f"error_code {job.error_code!r}")
        if not job.error_message.startswith(case.message):
            found.append(f"message {job.error_message!r}")
    text = job.error_message
    if secret in text or "sandbox-" in text or "Traceback" in text or "://" in text:
        found.append(f"message shows what it must not: {text!r}")
    assert job.finished_at is not None
    late = (job.finished_at - job.deadline).total_seconds()
    if late > SLACK:
        found.append(f"ended {late:.1f} s after its deadline")
    if case.attempts is not None and job.attempts != case.attempts:
        found.append(f"{job.attempts} retries, expected {case.attempts}")
    elif not case.retryable and not case.succeeds and job.attempts:
        found.append(f"retried {job.attempts} times a fault that cannot pass")
    elif case.retryable:
        # It kept trying until the next wait would pass the deadline, not giving up early.
        longest_wait = max(LONGEST_HINT, 1.5 * 2**job.attempts)
        early = (job.deadline - job.finished_at).total_seconds()
        if early > longest_wait:
            found.append(f"gave up {early:.1f} s before its deadline")
    credits = case.run.credits if case.succeeds else 0
    quota = Quota.objects.get(user=job.owner)
    if quota.credits_this_month != credits:
        found.append(f"quota credits {quota.credits_this_month}, expected {credits}")
    if quota.jobs_today != (1 if case.succeeds else 0):
        found.append(f"quota jobs_today {quota.jobs_today}")
    if quota.active_jobs:
        found.append(f"quota active_jobs {quota.active_jobs}")
    key.refresh_from_db()
    if key.credits_this_month != credits:
        found.append(f"key credits {key.credits_this_month}, expected {credits}")
    bad_key = case.code in pipeline.BAD_KEY_CODES
    if bad_key and key.last_error != job.error_message:
        found.append(f"key.last_error {key.last_error!r}")
    if not bad_key and key.last_error:
        found.append(f"key.last_error set for {case.code or 'a success'}: {key.last_error!r}")
    return found


# --- Tests -----------------------------------------------------------------------------------


def test_the_table_covers_every_sandbox_fault_kind() -> None:
    """A fault kind added to the sandbox must get its row here (codes and PicWish states come
    from the adapters' own tables)."""
    kinds: dict[str, set[str]] = {"fault": set(), "resultfault": set()}
    for case in CASES:
        parsed = faults.parse(f"sandbox-{case.markers}-k")
        kinds["fault"] |= {fault.kind for fault in parsed.api}
        kinds["resultfault"] |= {fault.kind for fault in parsed.result}
    assert kinds["fault"] == faults.API_KINDS
    assert kinds["resultfault"] >= faults.RESULT_KINDS - {"latency"}


def test_every_fault_ends_right_in_time_with_the_books_right(fault_worker: Worker) -> None:
    # In this order the worker hears of them: the jobs that must beat a deadline first.
    ordered = sorted(enumerate(CASES), key=lambda item: item[1].order)
    secrets: list[str] = []
    orders: list[tuple[User, VendorKey, Run, float]] = []
    for index, case in ordered:
        owner = person(f"fault{index}")
        secrets.append(f"sandbox-{case.markers}-k{index}")
        orders.append(
            (owner, vault_key(owner, case.run.vendor, secrets[-1]), case.run, case.deadline)
        )
    keys = [key for _owner, key, _run, _deadline in orders]
    submitted = submit_all(orders)
    wait_for_all(submitted, timeout=120)

    report: list[str] = []
    for (_index, case), job, key, secret in zip(ordered, submitted, keys, secrets, strict=True):
        job.refresh_from_db()
        found = problems(case, job, key, secret)
        if found:
            report.append(
                f"{case.run.slug}/{case.run.provider} {case.markers}: " + "; ".join(found)
            )
    assert not report, "\n".join(report)
    log = fault_worker.log.read_text(errors="replace")
    assert not [secret for secret in secrets if secret in log]


def test_a_storm_of_jobs_on_one_picwish_key_gets_no_429_and_every_job_done_once(
    spawn_worker: SpawnWorker, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SANDBOX_PICWISH_QPS = PICWISH_QPS
    # The sandbox answers from a thread of this busy test process, so the times it counts
    # requests at lag theirs by up to ~150 ms; a wide margin covers that, as an operator would
    # set one for a jittery link (the bench measures the default margin on a quiet sandbox).
    spawn_worker(PICWISH_QPS=str(PICWISH_QPS), RATE_LIMIT_MARGIN="0.4")
    jobs_at_once = 20
    settings.QUOTA_CONCURRENT_JOBS = jobs_at_once
    secret = "sandbox-storm-k"
    refused: list[float] = []
    created: list[str] = []
    admit: Callable[[str, int], bool] = STATE.admit
    add_task: Callable[[Task], None] = STATE.add_task

    def counting_admit(key: str, per_second: int) -> bool:
        allowed = admit(key, per_second)
        if not allowed:
            refused.append(time.monotonic())
        return allowed

    def counting_add_task(task: Task) -> None:
        created.append(task.task_id)
        add_task(task)

    monkeypatch.setattr(STATE, "admit", counting_admit)
    monkeypatch.setattr(STATE, "add_task", counting_add_task)

    owner = person("stormy")
    key = vault_key(owner, Vendor.PICWISH, secret)
    # A first request to the sandbox (it counts by key: another one) imports its views and
    # starts its threads: a cold vendor would count the storm's first requests late.
    httpx.get(f"{settings.SANDBOX_URL}/api/tasks/visual/colorization/warm-up", timeout=10)
    started = time.monotonic()
    storm = submit_all([(owner, key, COLORIZE, 120.0)] * jobs_at_once)
    wait_for_all(storm, timeout=90)
    took = time.monotonic() - started

    for job in storm:
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)
    credits = COLORIZE.credits * jobs_at_once
    quota = Quota.objects.get(user=owner)
    assert (quota.credits_this_month, quota.active_jobs) == (credits, 0)
    key.refresh_from_db()
    assert key.credits_this_month == credits
    assert key.last_error == ""
    assert len(created) == jobs_at_once  # one paid PicWish task per job, never a second
    # The limiter keeps the key under the sandbox's sliding window (like a vendor's), counting
    # polls too, across every worker thread: the vendor never had to refuse a request.
    assert refused == []
    # Shown with -s: how long the jobs took to get through the key's budget.
    print(f"\nstorm: {len(refused)} refusals, {jobs_at_once} jobs in {took:.1f} s")
