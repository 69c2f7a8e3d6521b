"""Which limits hold for a person: their own plan, else their groups' highest-priority plan,
else the default plan, else the QUOTA_* settings; an override beats the plan one limit at a
time."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from pytest_django import Settings as SettingsWrapper

from accounts import quotas
from accounts.models import GroupPlan, Plan, Quota, QuotaOverride, User
from tests.factories import make_plan

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def join(user: User, group_name: str, plan: Plan, priority: int) -> Group:
    group, _created = Group.objects.get_or_create(name=group_name)
    GroupPlan.objects.create(group=group, plan=plan, priority=priority)
    user.groups.add(group)
    return group


@pytest.fixture
def defaults(settings: SettingsWrapper) -> SettingsWrapper:
    settings.QUOTA_JOBS_PER_DAY = 7
    settings.QUOTA_CREDITS_PER_MONTH = 70
    settings.QUOTA_CONCURRENT_JOBS = 3
    settings.QUOTA_WAITING_JOBS = 11
    settings.QUOTA_STORAGE_BYTES = 9 * MB
    settings.QUOTA_HOUSE_KEYS = False
    settings.DEFAULT_PLAN = ""
    return settings


def test_without_any_plan_the_settings_hold(alice: User, defaults: SettingsWrapper) -> None:
    assert quotas.plan_for(alice) is None
    assert quotas.limits_for(alice) == quotas.Limits(
        jobs_per_day=7,
        credits_per_month=70,
        concurrent_jobs=3,
        storage_bytes=9 * MB,
        waiting_jobs=11,
        operations=(),
        providers=(),
        house_keys=False,
        plan="",
    )


def test_the_default_plan_beats_the_settings(alice: User, defaults: SettingsWrapper) -> None:
    make_plan("Starter", 2, house_keys=True)
    defaults.DEFAULT_PLAN = "Starter"
    limits = quotas.limits_for(alice)
    assert (limits.plan, limits.jobs_per_day, limits.storage_bytes, limits.house_keys) == (
        "Starter",
        2,
        2 * MB,
        True,
    )


def test_a_default_plan_that_does_not_exist_falls_back_to_the_settings(
    alice: User, defaults: SettingsWrapper
) -> None:
    defaults.DEFAULT_PLAN = "Gone"
    assert quotas.limits_for(alice).jobs_per_day == 7


def test_the_highest_priority_group_plan_wins_over_the_default(
    alice: User, bob: User, defaults: SettingsWrapper
) -> None:
    make_plan("Starter", 2)
    defaults.DEFAULT_PLAN = "Starter"
    join(alice, "students", make_plan("Student", 5), priority=1)
    join(alice, "staff", make_plan("Staff", 50), priority=10)
    join(alice, "guests", make_plan("Guest", 1), priority=-5)
    assert quotas.limits_for(alice).plan == "Staff"
    assert quotas.limits_for(alice).jobs_per_day == 50
    # Bob is in none of the groups: the default plan.
    assert quotas.limits_for(bob).plan == "Starter"


def test_group_plans_of_equal_priority_go_by_group_name(
    alice: User, defaults: SettingsWrapper
) -> None:
    join(alice, "zebra", make_plan("Z plan", 9), priority=3)
    join(alice, "alpha", make_plan("A plan", 4), priority=3)
    assert quotas.limits_for(alice).plan == "A plan"


def test_a_persons_own_plan_beats_their_groups(alice: User, defaults: SettingsWrapper) -> None:
    join(alice, "staff", make_plan("Staff", 50), priority=100)
    alice.plan = make_plan("Personal", 3)
    alice.save()
    assert quotas.limits_for(alice).plan == "Personal"
    assert quotas.limits_for(alice).jobs_per_day == 3


def test_an_override_replaces_only_the_limits_it_sets(
    alice: User, defaults: SettingsWrapper
) -> None:
    alice.plan = make_plan(
        "Pro", 20, operations=["colorize"], providers=["picwish"], house_keys=True
    )
    alice.save()
    QuotaOverride.objects.create(user=alice, credits_per_month=999)
    limits = quotas.limits_for(alice)
    assert limits.credits_per_month == 999
    # Everything else is still the plan's.
    assert (limits.jobs_per_day, limits.concurrent_jobs, limits.storage_bytes) == (20, 20, 20 * MB)
    assert (limits.operations, limits.providers, limits.house_keys, limits.plan) == (
        ("colorize",),
        ("picwish",),
        True,
        "Pro",
    )


def test_an_override_beats_group_and_default_plans_too(
    alice: User, defaults: SettingsWrapper
) -> None:
    join(alice, "staff", make_plan("Staff", 50), priority=1)
    QuotaOverride.objects.create(user=alice, storage_bytes=123, jobs_per_day=0)
    limits = quotas.limits_for(alice)
    assert (limits.plan, limits.storage_bytes, limits.jobs_per_day) == ("Staff", 123, 0)
    assert limits.credits_per_month == 500


def test_an_override_on_top_of_the_settings(alice: User, defaults: SettingsWrapper) -> None:
    QuotaOverride.objects.create(user=alice, concurrent_jobs=1)
    limits = quotas.limits_for(alice)
    assert (limits.concurrent_jobs, limits.jobs_per_day, limits.plan) == (1, 7, "")


def test_the_override_limit_is_what_charge_enforces(alice: User, defaults: SettingsWrapper) -> None:
    alice.plan = make_plan("Pro", 20)
    alice.save()
    QuotaOverride.objects.create(user=alice, concurrent_jobs=1, waiting_jobs=0)
    quotas.charge(alice, 0)  # in the one slot
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, 0)  # would wait, and no job may wait
    assert caught.value.limit == "waiting_jobs"


@pytest.mark.parametrize(
    ("operations", "providers", "allowed"),
    [
        ([], [], {("colorize", "picwish"), ("color_migration", "local"), ("extend", "ailabtools")}),
        (["colorize"], [], {("colorize", "picwish")}),
        ([], ["local"], {("color_migration", "local")}),
        (["color_migration"], ["local"], {("color_migration", "local")}),
    ],
)
def test_allows_checks_operation_and_provider(
    alice: User,
    defaults: SettingsWrapper,
    operations: list[str],
    providers: list[str],
    allowed: set[tuple[str, str]],
) -> None:
    alice.plan = make_plan("P", 1, operations=operations, providers=providers)
    alice.save()
    limits = quotas.limits_for(alice)
    pairs = {("colorize", "picwish"), ("color_migration", "local"), ("extend", "ailabtools")}
    assert {pair for pair in pairs if limits.allows(*pair)} == allowed


def test_charge_refuses_what_the_plan_does_not_allow(
    alice: User, defaults: SettingsWrapper
) -> None:
    alice.plan = make_plan("Local only", 5, providers=["local"], house_keys=False)
    alice.save()
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, 1, operation="colorize", provider="picwish")
    assert caught.value.limit == "plan"
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, 0, operation="color_migration", provider="local", house_key=True)
    assert caught.value.limit == "house_keys"
    # Nothing was counted by the refusals.
    quotas.charge(alice, 0, operation="color_migration", provider="local")
    assert Quota.objects.get(user=alice).jobs_today == 1
