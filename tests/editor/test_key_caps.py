"""A person's own monthly credit cap on a key: set on the vault's add and edit forms, shown on
the key's row with this month's credits, enforced at submit by one conditional UPDATE, given
back by failed and canceled jobs, and started again on the 1st (studio time zone)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django import Settings as SettingsWrapper

from accounts.models import Quota, User
from accounts.quotas import QuotaExceeded
from editor import jobs, operations
from editor.models import Job, JobStatus, Vendor, VendorKey
from tests.factories import SECRET, make_key
from tests.images import photo
from tests.pages import HTMX

pytestmark = pytest.mark.django_db

ZONE = "Europe/Berlin"


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(ZONE))


@pytest.fixture
def capped(alice: User) -> VendorKey:
    """Alice's PicWish key with a cap of 2 credits (colorize costs 1)."""
    key = make_key(alice, Vendor.PICWISH)
    key.monthly_credit_cap = 2
    key.save()
    return key


def colorize(user: User, key: VendorKey) -> Job:
    operation = operations.get("colorize")
    return jobs.submit(
        owner=user,
        operation=operation,
        provider=operation.default_provider,
        params={"format": "jpg"},
        files={"image": photo().read()},
        key=key,
    )


def credits_of(key: VendorKey) -> int:
    key.refresh_from_db()
    return key.credits_this_month


# --- The vault's forms ----------------------------------------------------------------------


def test_a_cap_is_set_when_adding_a_key(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.post(
        reverse("editor:vault_add"),
        {"vendor": Vendor.PICWISH, "label": "Capped", "secret": SECRET, "monthly_credit_cap": "50"},
    )
    assert response.status_code == 302
    assert VendorKey.objects.get(owner=alice).monthly_credit_cap == 50
    page = client.get(reverse("editor:vault")).content.decode()
    assert "Monthly credit cap" in page
    assert "0 of 50 credits" in page


def test_the_cap_is_optional(client: Client, alice: User) -> None:
    client.force_login(alice)
    client.post(reverse("editor:vault_add"), {"vendor": Vendor.PICWISH, "secret": SECRET})
    assert VendorKey.objects.get(owner=alice).monthly_credit_cap is None
    page = client.get(reverse("editor:vault")).content.decode()
    assert "0 credits" in page


@pytest.mark.parametrize("value", ["0", "-5", "many", "1.5", "99999999999999999999"])
def test_a_bad_cap_is_a_field_error(client: Client, alice: User, value: str) -> None:
    client.force_login(alice)
    response = client.post(
        reverse("editor:vault_add"),
        {"vendor": Vendor.PICWISH, "secret": SECRET, "monthly_credit_cap": value},
    )
    assert response.status_code == 200
    assert 'id="vault-add-monthly_credit_cap_error"' in response.content.decode()
    assert not VendorKey.objects.exists()
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    response = client.post(
        reverse("editor:vault_edit", args=[key.pk]),
        {"label": "Work", "monthly_credit_cap": value},
        **HTMX,
    )
    assert response.status_code == 200
    assert "vault-key--editing" in response.content.decode()
    key.refresh_from_db()
    assert key.monthly_credit_cap is None


def test_the_cap_is_changed_and_removed_by_the_edit_form(client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    client.force_login(alice)
    form = client.get(reverse("editor:vault_edit", args=[key.pk]), **HTMX).content.decode()
    assert 'name="monthly_credit_cap"' in form
    response = client.post(
        reverse("editor:vault_edit", args=[key.pk]),
        {"label": "Work", "monthly_credit_cap": "30"},
        **HTMX,
    )
    assert "0 of 30 credits" in response.content.decode()
    key.refresh_from_db()
    assert key.monthly_credit_cap == 30
    client.post(reverse("editor:vault_edit", args=[key.pk]), {"label": "Work"})
    key.refresh_from_db()
    assert key.monthly_credit_cap is None


def test_the_row_shows_this_months_credits_and_when_the_cap_is_reached(
    client: Client, alice: User, capped: VendorKey, settings: SettingsWrapper
) -> None:
    settings.TIME_ZONE = ZONE
    with time_machine.travel(local(2026, 5, 20, 12, 0), tick=False):
        colorize(alice, capped)
        client.force_login(alice)
        row = client.get(reverse("editor:vault_key", args=[capped.pk]), **HTMX).content.decode()
        assert "1 of 2 credits" in row
        assert "reached its monthly cap" not in row
        colorize(alice, capped)
        row = client.get(reverse("editor:vault_key", args=[capped.pk]), **HTMX).content.decode()
        assert "2 of 2 credits" in row
        assert "reached its monthly cap" in row
        assert "starts again on June 1, 2026" in row
    # A new month: the stored count is last month's, the row shows none spent.
    with time_machine.travel(local(2026, 6, 1, 0, 0), tick=False):
        row = client.get(reverse("editor:vault_key", args=[capped.pk]), **HTMX).content.decode()
        assert "0 of 2 credits" in row


# --- Enforcement at submit ----------------------------------------------------------------


def test_a_job_that_would_pass_the_cap_is_refused_with_the_reset_date(
    alice: User, capped: VendorKey, settings: SettingsWrapper
) -> None:
    settings.TIME_ZONE = ZONE
    with time_machine.travel(local(2026, 5, 20, 12, 0), tick=False):
        colorize(alice, capped)
        colorize(alice, capped)
        with pytest.raises(QuotaExceeded) as caught:
            colorize(alice, capped)
    assert caught.value.limit == "key_cap"
    assert caught.value.resets_at == local(2026, 6, 1, 0, 0)
    assert "your key “PicWish key” has 0 of its monthly cap of 2 left" in caught.value.message
    assert "2026-06-01 00:00 CEST" in caught.value.message
    assert credits_of(capped) == 2
    assert Job.objects.count() == 2
    # The refused job charged nothing to the person either.
    quota = Quota.objects.get(user=alice)
    assert (quota.jobs_today, quota.credits_this_month, quota.active_jobs) == (2, 2, 2)


def test_the_form_shows_the_cap_message(client: Client, alice: User, capped: VendorKey) -> None:
    capped.monthly_credit_cap = 1
    capped.save()
    colorize(alice, capped)
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": photo()},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "has 0 of its monthly cap of 1 left" in page
    assert "raise it in your" in page
    assert Job.objects.count() == 1


def test_a_key_without_a_cap_still_counts_its_credits(alice: User) -> None:
    key = make_key(alice, Vendor.PICWISH)
    for _ in range(3):
        colorize(alice, key)
    assert credits_of(key) == 3


def test_another_key_is_not_held_back_by_the_cap(alice: User, capped: VendorKey) -> None:
    capped.monthly_credit_cap = 1
    capped.save()
    colorize(alice, capped)
    other = make_key(alice, label="Second", vendor=Vendor.PICWISH, secret="sandbox-second-9999")
    colorize(alice, other)
    assert (credits_of(capped), credits_of(other)) == (1, 1)


def test_canceling_gives_the_credits_back_to_the_key(alice: User, capped: VendorKey) -> None:
    colorize(alice, capped)
    job = colorize(alice, capped)
    assert jobs.cancel(job)
    assert credits_of(capped) == 1
    colorize(alice, capped)  # room again
    assert credits_of(capped) == 2


def test_a_retry_charges_the_key_again_within_its_cap(alice: User, capped: VendorKey) -> None:
    capped.monthly_credit_cap = 1
    capped.save()
    job = colorize(alice, capped)
    jobs.cancel(job)
    other = colorize(alice, capped)  # takes the freed credit
    with pytest.raises(QuotaExceeded) as caught:
        jobs.retry(job)
    assert caught.value.limit == "key_cap"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    jobs.cancel(other)
    jobs.retry(job)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert credits_of(capped) == 1


# --- The month boundary ---------------------------------------------------------------------


def test_the_cap_starts_again_at_midnight_on_the_first(
    alice: User, capped: VendorKey, settings: SettingsWrapper
) -> None:
    settings.TIME_ZONE = ZONE
    settings.QUOTA_CONCURRENT_JOBS = 100
    with time_machine.travel(local(2026, 3, 31, 23, 59, 58), tick=False):
        colorize(alice, capped)
        colorize(alice, capped)
    with (
        time_machine.travel(local(2026, 3, 31, 23, 59, 59), tick=False),
        pytest.raises(QuotaExceeded),
    ):
        colorize(alice, capped)
    with time_machine.travel(local(2026, 4, 1, 0, 0, 0), tick=False):
        colorize(alice, capped)
    capped.refresh_from_db()
    assert (capped.credits_month, capped.credits_this_month) == (dt.date(2026, 4, 1), 1)


def test_a_refund_of_last_months_job_leaves_this_months_count_alone(
    alice: User, capped: VendorKey, settings: SettingsWrapper
) -> None:
    settings.TIME_ZONE = ZONE
    with time_machine.travel(local(2026, 3, 31, 23, 0), tick=False):
        march = colorize(alice, capped)
    with time_machine.travel(local(2026, 4, 1, 9, 0), tick=False):
        colorize(alice, capped)
        jobs.cancel(march)
    assert credits_of(capped) == 1
