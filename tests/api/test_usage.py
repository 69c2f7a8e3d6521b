"""GET /api/v1/usage: the same figures as the /usage/ page."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import Plan, User
from api.models import ApiToken
from editor.usage import usage_for
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_job

pytestmark = pytest.mark.django_db

USAGE = "/api/v1/usage"


def test_the_figures_are_the_usage_pages(alice_api: ApiClient, alice: User) -> None:
    make_job(alice)
    make_job(alice)
    figures = usage_for(alice)
    response = alice_api.get(USAGE)
    assert response.status_code == 200
    body = response.json()
    assert body["plan"] == str(figures.plan)
    assert body["limits"] == {
        "jobs_per_day": figures.limits.jobs_per_day,
        "credits_per_month": figures.limits.credits_per_month,
        "storage_bytes": figures.limits.storage_bytes,
        "concurrent_jobs": figures.limits.concurrent_jobs,
        "waiting_jobs": figures.limits.waiting_jobs,
        "operations": [],
        "providers": [],
        "house_keys": figures.limits.house_keys,
    }
    used = body["usage"]
    assert used["jobs_today"] == figures.jobs_today.used == 2
    assert used["credits_this_month"] == figures.credits.used == 2
    assert used["stored_bytes"] == figures.storage.used
    assert used["running_jobs"] == figures.running.used
    assert used["waiting_jobs"] == figures.waiting.used == 0
    assert dt.datetime.fromisoformat(used["jobs_today_resets_at"]) == figures.day_resets
    assert dt.datetime.fromisoformat(used["credits_resets_at"]) == figures.month_resets


def test_a_plans_limits_and_restrictions(alice_api: ApiClient, alice: User) -> None:
    plan = Plan.objects.create(
        name="Hobby",
        jobs_per_day=3,
        credits_per_month=30,
        concurrent_jobs=1,
        waiting_jobs=7,
        storage_bytes=10_000,
        operations=["colorize"],
        providers=["picwish"],
        house_keys=False,
    )
    alice.plan = plan
    alice.save()
    body = alice_api.get(USAGE).json()
    assert body["plan"] == "Hobby"
    figures = usage_for(alice)
    assert body["limits"]["jobs_per_day"] == figures.limits.jobs_per_day == 3
    assert body["limits"]["operations"] == ["colorize"]
    assert body["limits"]["providers"] == ["picwish"]
    assert body["limits"]["house_keys"] is False
    assert body["limits"]["waiting_jobs"] == 7


def test_another_person_sees_their_own_figures(bob_api: ApiClient, alice: User) -> None:
    make_job(alice)
    body = bob_api.get(USAGE).json()
    assert body["usage"]["jobs_today"] == 0
    assert body["usage"]["credits_this_month"] == 0


def test_no_token_or_a_revoked_one_is_401(alice: User) -> None:
    token = token_for(alice)
    ApiToken.objects.get().revoke()
    assert ApiClient(None).get(USAGE).status_code == 401
    assert ApiClient(token).get(USAGE).status_code == 401
