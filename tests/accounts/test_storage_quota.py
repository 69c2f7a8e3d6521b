"""Stored bytes: counted by single UPDATEs, never below zero, and the limit checked at submit
in the same conditional UPDATE as the other limits."""

from __future__ import annotations

import pytest
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts import quotas
from accounts.models import Quota, StoredFile, User

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


@pytest.fixture
def small(settings: SettingsWrapper) -> SettingsWrapper:
    settings.QUOTA_STORAGE_BYTES = 10 * MB
    settings.QUOTA_JOBS_PER_DAY = 100
    settings.QUOTA_CONCURRENT_JOBS = 100
    return settings


def stored(user: User) -> int:
    return Quota.objects.get(user=user).stored_bytes


def test_adding_and_freeing_storage(alice: User, bob: User) -> None:
    quotas.add_storage(alice.pk, 1000)  # creates the quota row
    quotas.add_storage(alice.pk, 500)
    quotas.free_storage(alice.pk, 300)
    assert stored(alice) == 1200
    assert not Quota.objects.filter(user=bob).exists()


def test_freeing_never_goes_below_zero(alice: User) -> None:
    quotas.add_storage(alice.pk, 100)
    quotas.free_storage(alice.pk, 250)
    assert stored(alice) == 0


def test_a_negative_addition_frees(alice: User) -> None:
    quotas.add_storage(alice.pk, 100)
    quotas.add_storage(alice.pk, -40)
    assert stored(alice) == 60


def test_charge_counts_the_incoming_bytes(alice: User, small: SettingsWrapper) -> None:
    quotas.charge(alice, 0, storage_bytes=3 * MB)
    quotas.charge(alice, 0, storage_bytes=7 * MB)  # exactly at the limit is fine
    assert stored(alice) == 10 * MB


def test_charge_refuses_bytes_past_the_limit_and_says_how_to_free_space(
    alice: User, small: SettingsWrapper
) -> None:
    quotas.add_storage(alice.pk, 9 * MB)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, 0, storage_bytes=2 * MB)
    assert caught.value.limit == "storage_bytes"
    assert caught.value.message == (
        "Your stored photos and results take 9.0 MB of your 10.0 MB, and this needs 2.0 MB "
        "more. Free some space by deleting jobs you no longer need in your gallery."
    )
    quota = Quota.objects.get(user=alice)
    # Nothing was counted.
    assert (quota.stored_bytes, quota.jobs_today, quota.active_jobs) == (9 * MB, 0, 0)


def test_someone_over_the_limit_cannot_start_even_an_empty_job(
    alice: User, small: SettingsWrapper
) -> None:
    quotas.add_storage(alice.pk, 12 * MB)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, 0)
    assert caught.value.limit == "storage_bytes"
    assert "12.0 MB, over your 10.0 MB" in caught.value.message


def test_other_limits_are_named_before_storage(alice: User, small: SettingsWrapper) -> None:
    small.QUOTA_CONCURRENT_JOBS = 1
    small.QUOTA_WAITING_JOBS = 0
    quotas.charge(alice, 0)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.charge(alice, 0, storage_bytes=50 * MB)
    assert caught.value.limit == "waiting_jobs"


def test_reserving_storage_for_a_batch_is_all_or_nothing(
    alice: User, small: SettingsWrapper
) -> None:
    quotas.reserve_storage(alice, 6 * MB)
    with pytest.raises(quotas.QuotaExceeded) as caught:
        quotas.reserve_storage(alice, 5 * MB)
    assert caught.value.limit == "storage_bytes"
    assert stored(alice) == 6 * MB
    quotas.reserve_storage(alice, 4 * MB)
    assert stored(alice) == 10 * MB


@pytest.mark.parametrize(
    ("size", "shown"), [(0, "0"), (1, "0.1"), (MB // 2, "0.5"), (5 * MB, "5.0")]
)
def test_megabytes(size: int, shown: str) -> None:
    assert quotas.megabytes(size) == shown


def test_a_file_written_over_is_counted_at_its_new_size_once(alice: User) -> None:
    """A storage that writes over files (S3): the same name counted twice, by two requests at
    once or one after the other, is one row and the last size."""
    quotas.count_file(alice.pk, "jobs/1/a/download-0.jpg", 100)
    quotas.count_file(alice.pk, "jobs/1/a/download-0.jpg", 250)
    assert Quota.objects.get(user=alice).stored_bytes == 250
    # The other request's INSERT lost the race for the name: it learns the row's bytes.
    assert quotas._insert_file("jobs/1/a/download-0.jpg", alice.pk, 300, timezone.now()) == 250
    assert StoredFile.objects.get(name="jobs/1/a/download-0.jpg").bytes == 250
