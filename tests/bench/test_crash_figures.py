"""The chaos bench's reading of the quota: a job whose owner was charged for it twice is
counted as such, and nothing else is (bench/crash.py; every job there has an owner of its
own)."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from accounts import quotas
from accounts.models import User
from editor.models import JobStatus
from tests.factories import make_job

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def crash(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))  # it imports its sibling scripts by name
    return importlib.import_module("crash")


def test_one_charge_for_a_job_that_succeeded_is_right(crash: ModuleType, alice: User) -> None:
    job = make_job(alice)  # charged once, 1 credit
    assert crash.charges(job) == crash.Charges(charged_twice=False, off=False)


def test_a_second_charge_for_the_same_job_is_counted(crash: ModuleType, alice: User) -> None:
    job = make_job(alice)
    quotas.charge(alice, job.credits)
    assert crash.charges(job) == crash.Charges(charged_twice=True, off=False)


def test_a_failed_job_must_be_refunded(crash: ModuleType, alice: User) -> None:
    job = make_job(alice, JobStatus.FAILED)  # charged, and no refund ran
    assert crash.charges(job) == crash.Charges(charged_twice=False, off=True)
    quotas.release(alice.pk, job.credits, job.charged_on, refund=True)
    assert crash.charges(job) == crash.Charges(charged_twice=False, off=False)


def test_the_studios_own_count_is_read_only_where_the_model_has_it(
    crash: ModuleType, alice: User
) -> None:
    job = make_job(alice)
    fields = {field.name for field in job._meta.get_fields()}
    # getattr: the field comes in another branch, and a type: ignore would outlive it.
    expected = getattr(job, "double_submits", None) if "double_submits" in fields else None
    assert crash.studio_double_submits(job) == expected
