"""Charging and refunding a person's limits, atomically.

Limits: jobs per day, vendor credits per month, concurrent jobs, jobs waiting for a slot and
stored bytes, plus which operations and providers the person's plan allows and whether they may
use the studio's house keys (``limits_for``: their plan, else the defaults from settings, each
beaten by an override). A charge is one conditional UPDATE that succeeds only if every limit
still holds, so 30 submissions racing at a limit of 10 charge exactly 10 times.

A charged job first waits for a slot (``waiting_jobs``); ``take_slots`` moves waiting jobs onto
the concurrent-jobs slots (``active_jobs``), again in one conditional UPDATE, and ``release``
frees a slot (or, for a job that never had one, its place in the waiting line). Which job
takes a slot is editor.fairqueue's choice.

Stored bytes are the sum of the person's ledger (``StoredFile``): every file kept has a row
with the bytes it was counted at, written in the same transaction as the count. ``charge``
counts a job's incoming photos (``ledger_counted`` then writes their rows), ``count_file`` what
a worker or a draft stores later (not limited: the limit is checked when work is submitted),
``uncount_files`` what is about to be deleted. A process that dies between writing a file and
its row leaves a file nobody counted, and the ledger says so (editor.reconcile deletes it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, PositiveBigIntegerField, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import periods
from accounts.models import GroupPlan, Plan, Quota, QuotaOverride, StoredFile, User

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    jobs_per_day: int
    credits_per_month: int
    concurrent_jobs: int
    storage_bytes: int
    waiting_jobs: int = 500
    # Empty: everything allowed.
    operations: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    house_keys: bool = True
    plan: str = ""  # the plan's name, "" for the settings' defaults

    def allows(self, operation: str, provider: str) -> bool:
        return (not self.operations or operation in self.operations) and (
            not self.providers or provider in self.providers
        )


class QuotaExceeded(Exception):
    """A limit would be passed. ``message`` says which, and when it resets."""

    def __init__(self, limit: str, message: str, resets_at: dt.datetime | None) -> None:
        super().__init__(message)
        self.limit = limit
        self.message = message
        self.resets_at = resets_at


def plan_for(user: User) -> Plan | None:
    """The person's plan: their own, else the one their company groups gave them at their last
    company sign-in, else their groups' highest-priority one, else the plan named by
    ``DEFAULT_PLAN``, else none (the ``QUOTA_*`` settings)."""
    if user.plan_id is not None:
        return user.plan
    if user.company_plan_id is not None:
        return user.company_plan
    grouped = (
        GroupPlan.objects.filter(group__user=user)
        .select_related("plan")
        .order_by("-priority", "group__name")
        .first()
    )
    if grouped is not None:
        return grouped.plan
    if settings.DEFAULT_PLAN:
        return Plan.objects.filter(name=settings.DEFAULT_PLAN).first()
    return None


def limits_for(user: User) -> Limits:
    """The limits that hold for the person now: their plan's, each replaced by their override
    where one is set."""
    plan = plan_for(user)
    base = Limits(
        jobs_per_day=plan.jobs_per_day if plan else settings.QUOTA_JOBS_PER_DAY,
        credits_per_month=plan.credits_per_month if plan else settings.QUOTA_CREDITS_PER_MONTH,
        concurrent_jobs=plan.concurrent_jobs if plan else settings.QUOTA_CONCURRENT_JOBS,
        storage_bytes=plan.storage_bytes if plan else settings.QUOTA_STORAGE_BYTES,
        waiting_jobs=plan.waiting_jobs if plan else settings.QUOTA_WAITING_JOBS,
        operations=tuple(plan.operations) if plan else (),
        providers=tuple(plan.providers) if plan else (),
        house_keys=plan.house_keys if plan else settings.QUOTA_HOUSE_KEYS,
        plan=plan.name if plan else "",
    )
    override = QuotaOverride.objects.filter(user=user).first()
    if override is None:
        return base
    return replace(
        base,
        **{
            name: getattr(override, name)
            for name in (
                "jobs_per_day",
                "credits_per_month",
                "concurrent_jobs",
                "storage_bytes",
                "waiting_jobs",
            )
            if getattr(override, name) is not None
        },
    )


def _periods(now: dt.datetime) -> tuple[dt.date, dt.date]:
    return periods.day_of(now), periods.month_of(now)


def _roll_periods(user: User, today: dt.date, month: dt.date) -> None:
    Quota.objects.get_or_create(user=user)
    # Conditional resets: harmless when several run at once.
    Quota.objects.filter(user=user, day__lt=today).update(day=today, jobs_today=0)
    Quota.objects.filter(user=user, month__lt=month).update(month=month, credits_this_month=0)


def charge(
    user: User,
    credits: int,
    *,
    now: dt.datetime | None = None,
    storage_bytes: int = 0,
    operation: str = "",
    provider: str = "",
    house_key: bool = False,
    jobs: int = 1,
    limits: Limits | None = None,
) -> dt.date:
    """Count one job, its credits and the bytes of the photos it is about to store, and put it
    in the person's waiting line (``take_slots`` then gives it a slot when one is free), or
    raise QuotaExceeded naming the limit. The concurrent-jobs limit refuses nothing here: a job
    past it waits, up to the waiting-jobs limit.

    ``operation`` and ``provider`` (slugs), when given, must be allowed by the person's plan;
    ``house_key``: the job runs on the studio's key, which the plan must allow. ``jobs``: how
    many jobs of ``credits`` each to count at once (a batch), all or none; a refusal names the
    limit that the first job that does not fit meets, as if they were counted one by one.
    ``limits``: the person's, when the caller has just read them (``limits_for``). Call inside
    the transaction that creates the job. Returns the day charged, which the refund needs.
    """
    now = now or timezone.now()
    today, month = _periods(now)
    limits = limits or limits_for(user)
    if operation and not limits.allows(operation, provider):
        raise QuotaExceeded(
            "plan", _("Your plan does not include this operation with this provider."), None
        )
    if house_key and not limits.house_keys:
        raise QuotaExceeded(
            "house_keys",
            _("Your plan does not include the studio's keys. Add a key of your own in your vault."),
            None,
        )
    # The jobs that will wait are those beyond the free slots: the waiting-jobs limit allows
    # as many more waiting jobs as it has room, plus the slots free now.
    room = Q(waiting_jobs__lte=limits.waiting_jobs - jobs) | Q(
        waiting_jobs__lte=limits.waiting_jobs + limits.concurrent_jobs - jobs - F("active_jobs")
    )
    fits = Quota.objects.filter(
        room,
        user=user,
        day=today,
        month=month,
        jobs_today__lte=limits.jobs_per_day - jobs,
        credits_this_month__lte=limits.credits_per_month - credits * jobs,
        stored_bytes__lte=limits.storage_bytes - storage_bytes,
    )
    counted = {
        "jobs_today": F("jobs_today") + jobs,
        "credits_this_month": F("credits_this_month") + credits * jobs,
        "waiting_jobs": F("waiting_jobs") + jobs,
        "stored_bytes": F("stored_bytes") + storage_bytes,
        "slots": limits.concurrent_jobs,
    }
    # The row usually exists and is in today's periods: one UPDATE. When it does not match, the
    # day or month may have turned (or there is no row yet): start them, then try once more.
    charged = fits.update(**counted)
    if not charged:
        _roll_periods(user, today, month)
        charged = fits.update(**counted)
    if charged:
        return today
    quota = Quota.objects.get(user=user)
    waiting_room = limits.waiting_jobs + max(0, limits.concurrent_jobs - quota.active_jobs)
    if jobs > 1:
        # As if the jobs that fit had been counted: the first one that does not fit speaks.
        fit = min(
            jobs - 1,
            waiting_room - quota.waiting_jobs,
            limits.jobs_per_day - quota.jobs_today,
            (limits.credits_per_month - quota.credits_this_month) // credits if credits else jobs,
        )
        fit = max(fit, 0)
        quota.waiting_jobs += fit
        quota.jobs_today += fit
        quota.credits_this_month += credits * fit
    if quota.waiting_jobs >= waiting_room:
        raise waiting_exceeded(limits)
    if quota.jobs_today >= limits.jobs_per_day:
        resets = periods.next_day(today)
        raise QuotaExceeded(
            "jobs_per_day",
            ngettext(
                "You have run %(count)d job today, your daily limit. It resets at %(time)s.",
                "You have run %(count)d jobs today, your daily limit. It resets at %(time)s.",
                limits.jobs_per_day,
            )
            % {"count": limits.jobs_per_day, "time": _when(resets)},
            resets,
        )
    if (
        quota.credits_this_month + credits <= limits.credits_per_month
        and quota.stored_bytes + storage_bytes > limits.storage_bytes
    ):
        raise storage_exceeded(quota.stored_bytes, storage_bytes, limits.storage_bytes)
    resets = periods.next_month(month)
    left = max(0, limits.credits_per_month - quota.credits_this_month)
    raise QuotaExceeded(
        "credits_per_month",
        _(
            "This job needs %(needed)d vendor credits and you have %(left)d of your monthly "
            "%(limit)d left. The allowance resets on %(time)s."
        )
        % {
            "needed": credits,
            "left": left,
            "limit": limits.credits_per_month,
            "time": _when(resets),
        },
        resets,
    )


def waiting_exceeded(limits: Limits) -> QuotaExceeded:
    """The waiting-jobs limit's message: how many wait, and what to do."""
    if limits.waiting_jobs <= 0:
        return QuotaExceeded(
            "waiting_jobs",
            ngettext(
                "Your plan runs %(running)d job at once and lets none wait for a slot. Send "
                "this when it has ended.",
                "Your plan runs %(running)d jobs at once and lets none wait for a slot. Send "
                "this when one of them has ended.",
                limits.concurrent_jobs,
            )
            % {"running": limits.concurrent_jobs},
            None,
        )
    return QuotaExceeded(
        "waiting_jobs",
        ngettext(
            "You already have %(count)d job waiting for a slot, your limit (%(running)d of your "
            "jobs run at once). Send more when it has started, or cancel it.",
            "You already have %(count)d jobs waiting for a slot, your limit (%(running)d of "
            "your jobs run at once). Send more when some of them have started, or cancel some.",
            limits.waiting_jobs,
        )
        % {"count": limits.waiting_jobs, "running": limits.concurrent_jobs},
        None,
    )


def take_slots(user_id: int, wanted: int, limits: Limits, now: dt.datetime) -> int:
    """Move up to ``wanted`` of the person's waiting jobs onto free concurrent-jobs slots, in
    one conditional UPDATE (so racing callers never pass the limit); returns how many moved.
    The caller holds the jobs it will start (editor.fairqueue) and starts exactly that many."""
    for _attempt in range(5):
        row = Quota.objects.filter(user_id=user_id).values("active_jobs", "waiting_jobs").first()
        if row is None:
            return 0
        count = min(wanted, limits.concurrent_jobs - row["active_jobs"], row["waiting_jobs"])
        if count <= 0:
            # Nothing free: keep the hint the sweeper reads in step with the limit.
            Quota.objects.filter(user_id=user_id).exclude(slots=limits.concurrent_jobs).update(
                slots=limits.concurrent_jobs
            )
            return 0
        if Quota.objects.filter(
            user_id=user_id,
            active_jobs__lte=limits.concurrent_jobs - count,
            waiting_jobs__gte=count,
        ).update(
            active_jobs=F("active_jobs") + count,
            waiting_jobs=F("waiting_jobs") - count,
            slots=limits.concurrent_jobs,
            last_started_at=now,
        ):
            return count
        # Another process moved the counts between the read and the UPDATE: read them again.
    return 0


def untake_slots(user_id: int, count: int) -> None:
    """Give back slots taken for jobs that turned out not to be waiting any more (canceled
    meanwhile); their places in the line were already given back by that cancel."""
    if count > 0:
        Quota.objects.filter(user_id=user_id, active_jobs__gte=count).update(
            active_jobs=F("active_jobs") - count
        )


def reserve_storage(user: User, size: int) -> None:
    """Count ``size`` incoming bytes at once (a batch's photos, charged as a whole), or raise
    QuotaExceeded when they would pass the person's storage limit."""
    limit = limits_for(user).storage_bytes
    Quota.objects.get_or_create(user=user)
    if Quota.objects.filter(user=user, stored_bytes__lte=limit - size).update(
        stored_bytes=F("stored_bytes") + size
    ):
        return
    used = Quota.objects.values_list("stored_bytes", flat=True).get(user=user)
    raise storage_exceeded(used, size, limit)


def storage_exceeded(used: int, needed: int, limit: int) -> QuotaExceeded:
    """The storage limit's message: what is used, the limit, and how to free space."""
    values = {"used": megabytes(used), "limit": megabytes(limit), "needed": megabytes(needed)}
    if needed > 0:
        message = _(
            "Your stored photos and results take %(used)s MB of your %(limit)s MB, and this "
            "needs %(needed)s MB more. Free some space by deleting jobs you no longer need in "
            "your gallery."
        )
    else:
        message = _(
            "Your stored photos and results take %(used)s MB, over your %(limit)s MB. Free "
            "some space by deleting jobs you no longer need in your gallery."
        )
    return QuotaExceeded("storage_bytes", message % values, None)


def megabytes(size: int) -> str:
    """Bytes as megabytes with one decimal; anything above nothing shows as at least 0.1."""
    if size <= 0:
        return "0"
    return f"{max(size / MB, 0.1):.1f}"


def add_storage(user_id: int, size: int) -> None:
    """Count ``size`` bytes just stored for a person (a negative size frees them)."""
    if size < 0:
        free_storage(user_id, -size)
        return
    if size == 0:
        return
    if not Quota.objects.filter(user_id=user_id).update(stored_bytes=F("stored_bytes") + size):
        Quota.objects.get_or_create(user_id=user_id)
        Quota.objects.filter(user_id=user_id).update(stored_bytes=F("stored_bytes") + size)


def free_storage(user_id: int, size: int) -> None:
    """Give back ``size`` bytes a delete removed; the count never goes below zero."""
    if size <= 0:
        return
    Quota.objects.filter(user_id=user_id).update(
        stored_bytes=Greatest(
            F("stored_bytes") - size, Value(0), output_field=PositiveBigIntegerField()
        )
    )


def count_file(user_id: int, name: str, size: int) -> None:
    """A file just stored for a person: its ledger row and its bytes on the count, in one
    transaction. A row already there (the storage wrote over the file of that name) is
    replaced, and only the difference is counted."""
    now = timezone.now()
    with transaction.atomic():
        earlier = _insert_file(name, user_id, size, now)
        if earlier is not None:
            StoredFile.objects.filter(name=name).update(user_id=user_id, bytes=size, counted_at=now)
        add_storage(user_id, size - (earlier or 0))


def _insert_file(name: str, user_id: int, size: int, now: dt.datetime) -> int | None:
    """The row for a name: None when it is new (the usual case, one statement), else the bytes
    of the row already there, locked for the caller's transaction (a storage that writes over
    files: the same name stored again, or by two processes at once).

    ``ON CONFLICT DO NOTHING`` rather than an INSERT in a savepoint that may fail: one round
    trip instead of three, which a worker ending hundreds of jobs at once feels."""
    quote = connection.ops.quote_name  # the table's and columns' names are ours
    columns = ", ".join(quote(column) for column in ("name", "user_id", "bytes", "counted_at"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(StoredFile._meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT ({quote('name')}) DO NOTHING RETURNING {quote('name')}",
            [name, user_id, size, connection.ops.adapt_datetimefield_value(now)],
        )
        if cursor.fetchone() is not None:
            return None
    earlier: int | None = (
        StoredFile.objects.select_for_update()
        .filter(name=name)
        .values_list("bytes", flat=True)
        .first()
    )
    # Gone again between the two statements (deleted meanwhile): counted as new.
    return earlier if earlier is not None else _insert_file(name, user_id, size, now)


def counted_bytes(name: str) -> int | None:
    """The bytes a stored file was counted at, or None when the ledger has no row for it."""
    size: int | None = StoredFile.objects.filter(name=name).values_list("bytes", flat=True).first()
    return size


def ledger_counted(user_id: int, sizes: Mapping[str, int]) -> None:
    """Ledger rows for files whose bytes were counted already: a job's photos, counted by its
    charge. Call in the transaction of that charge."""
    now = timezone.now()
    StoredFile.objects.bulk_create(
        StoredFile(name=name, user_id=user_id, bytes=size, counted_at=now)
        for name, size in sizes.items()
    )


def uncount_files(user_id: int, names: Collection[str]) -> dict[str, int]:
    """Files of a person's about to be deleted: their rows go and the bytes they were counted
    at are given back, in one transaction. Returns what each file that had a row gave back
    (a file without one was never counted, or was kept before the ledger existed)."""
    if not names:
        return {}
    with transaction.atomic():
        counted = dict(
            StoredFile.objects.select_for_update()
            .filter(user_id=user_id, name__in=names)
            .values_list("name", "bytes")
        )
        if counted:
            StoredFile.objects.filter(user_id=user_id, name__in=counted).delete()
            free_storage(user_id, sum(counted.values()))
    return counted


def when(moment: dt.datetime) -> str:
    """A moment as messages about limits show it (studio time zone)."""
    return _when(moment)


def release(
    user_id: int, credits: int, charged_on: dt.date, *, refund: bool, had_slot: bool = True
) -> None:
    """A job ended: free its concurrency slot (``had_slot``; else its place in the waiting
    line) and, if it did not succeed, give back its job and credits (only within the day and
    month they were counted in)."""
    held = "active_jobs" if had_slot else "waiting_jobs"
    Quota.objects.filter(user_id=user_id, **{f"{held}__gt": 0}).update(**{held: F(held) - 1})
    if not refund:
        return
    Quota.objects.filter(user_id=user_id, day=charged_on, jobs_today__gt=0).update(
        jobs_today=F("jobs_today") - 1
    )
    if credits:
        Quota.objects.filter(
            user_id=user_id, month=charged_on.replace(day=1), credits_this_month__gte=credits
        ).update(credits_this_month=F("credits_this_month") - credits)


def _when(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
