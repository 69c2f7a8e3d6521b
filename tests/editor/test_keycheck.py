"""Keys checked with their vendor when saved (editor.keycheck), against the sandbox over HTTP:
a wrong key is refused with the vendor's reason and not saved, a good one shows its credits, an
unreachable vendor saves the key "not checked yet" and a later check settles it."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import RequestFactory

from accounts.models import User
from editor import credits, keycheck, keys, pipeline, tasks, vault
from editor.models import KeyCheck, Vendor, VendorKey
from limiter import core as limiter
from tests.broker import SentTasks
from tests.factories import make_key
from tests.sandboxed import sandbox, sandboxed  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sandboxed")]

WRONG = "sandbox-fault-error-ERROR_APPLICATIONS_NOT_EXISTS-wrong"
DOWN = "sandbox-fault-http-503-down"
# The first request made with this key is a 503, later ones are answered.
BACK_SOON = "sandbox-fault-flaky-1-credits-4200-back"


@pytest.fixture
def sent(sent_tasks: SentTasks) -> list[tuple[Any, ...]]:
    return sent_tasks.args[keycheck.CHECK_TASK]


def request_of(user: User) -> HttpRequest:
    request = RequestFactory().post("/vault/add")
    request.user = user
    return request


def add(user: User, secret: str, vendor: str = Vendor.AILABTOOLS) -> VendorKey:
    return keys.add(
        user,
        vendor=vendor,
        label="",
        secret=secret,
        monthly_credit_cap=None,
        request=request_of(user),
    )


def test_a_good_key_is_saved_checked_with_its_credits(alice: User) -> None:
    key = add(alice, "sandbox-credits-5000-good")
    key.refresh_from_db()
    assert key.check_status == KeyCheck.CHECKED
    assert key.checked_credits == 5000
    assert key.checked_at is not None
    # The vault's credit figure is the one just read: no second call for the row.
    figure = credits.cached(key)
    assert figure is not None
    assert figure.balance == 5000


def test_a_key_the_vendor_refuses_is_not_saved_and_the_reason_is_the_vendors(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(keys.KeyRefused) as refused:
        add(alice, WRONG)
    assert refused.value.field == "secret"
    assert "AILabTools did not accept your API key" in refused.value.message
    assert WRONG not in refused.value.message
    assert not VendorKey.objects.exists()
    assert WRONG not in caplog.text


def test_an_unreachable_vendor_saves_the_key_not_checked_yet(
    alice: User, caplog: pytest.LogCaptureFixture, sent: list[tuple[Any, ...]]
) -> None:
    caplog.set_level(logging.DEBUG)
    key = add(alice, DOWN)
    key.refresh_from_db()
    assert key.check_status == KeyCheck.UNCHECKED
    assert key.checked_at is None
    assert key.checked_credits is None
    assert vault.decrypt(key.ciphertext) == DOWN
    assert DOWN not in caplog.text
    # Still down: the periodic check leaves it as it is, and says so again next time.
    tasks.recheck_keys()
    assert sent == [(str(key.pk),)]
    tasks.check_key(str(key.pk))
    key.refresh_from_db()
    assert key.check_status == KeyCheck.UNCHECKED


def test_a_later_check_settles_a_key_saved_unchecked(
    alice: User, sent: list[tuple[Any, ...]]
) -> None:
    key = add(alice, BACK_SOON)
    key.refresh_from_db()
    assert key.check_status == KeyCheck.UNCHECKED

    assert keycheck.recheck_due() == 1
    # The task message names the key by id, never the key.
    assert sent == [(str(key.pk),)]
    assert BACK_SOON not in repr(sent)
    tasks.check_key(*sent[0])
    key.refresh_from_db()
    assert key.check_status == KeyCheck.CHECKED
    assert key.checked_credits == 4200
    assert keycheck.recheck_due() == 0  # settled: nothing more to send
    assert len(sent) == 1


def test_a_later_check_the_vendor_refuses_marks_the_key_refused(alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, WRONG)
    assert key.check_status == KeyCheck.UNCHECKED
    outcome = keycheck.check_again(str(key.pk))
    assert outcome is not None
    assert outcome.status == KeyCheck.REFUSED
    key.refresh_from_db()
    assert key.check_status == KeyCheck.REFUSED
    assert "AILabTools did not accept your API key" in key.last_error
    assert keycheck.check_again(str(key.pk)) is None  # settled: no more calls


def test_picwish_keys_cannot_be_checked_before_use(alice: User) -> None:
    key = add(alice, "pw-0123456789abcdef", vendor=Vendor.PICWISH)
    key.refresh_from_db()
    assert key.check_status == KeyCheck.UNCHECKABLE
    assert keycheck.recheck_due() == 0


def test_a_replacement_secret_is_checked_and_a_refused_one_changes_nothing(alice: User) -> None:
    key = add(alice, "sandbox-credits-700-first")
    with pytest.raises(keys.KeyRefused) as refused:
        keys.change(
            key, label=key.label, monthly_credit_cap=None, secret=WRONG, request=request_of(alice)
        )
    assert refused.value.field == "secret"
    key.refresh_from_db()
    assert vault.decrypt(key.ciphertext) == "sandbox-credits-700-first"
    assert key.checked_credits == 700

    keys.change(
        key, label=key.label, monthly_credit_cap=None, secret=DOWN, request=request_of(alice)
    )
    key.refresh_from_db()
    assert key.check_status == KeyCheck.UNCHECKED
    assert key.checked_credits is None
    assert key.checked_at is None


def test_the_next_use_of_an_unchecked_key_asks_for_a_check(
    alice: User, sent: list[tuple[Any, ...]]
) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, DOWN)
    pipeline._key_worked(SimpleNamespace(key=key))  # type: ignore[arg-type]
    assert sent == [(str(key.pk),)]
    # A burst of jobs on the key asks once.
    pipeline._key_worked(SimpleNamespace(key=key))  # type: ignore[arg-type]
    assert len(sent) == 1
    key.check_status = KeyCheck.CHECKED
    pipeline._key_worked(SimpleNamespace(key=key))  # type: ignore[arg-type]
    assert len(sent) == 1


def test_a_vendor_rate_budget_in_use_leaves_the_key_unchecked(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def store_down(*args: object, **kwargs: object) -> None:
        raise limiter.StoreDown("down")

    monkeypatch.setattr(limiter, "take", store_down)
    key = add(alice, "sandbox-credits-10-x")
    key.refresh_from_db()
    assert key.check_status == KeyCheck.UNCHECKED


def test_a_refused_key_that_then_works_is_checked_again(
    alice: User, sent: list[tuple[Any, ...]]
) -> None:
    # A later check refused the key; then the vendor accepted it for a job (an account
    # re-enabled since): the vault stops calling it refused and asks the vendor again.
    key = make_key(alice, Vendor.AILABTOOLS, "sandbox-credits-900-again")
    VendorKey.objects.filter(pk=key.pk).update(check_status=KeyCheck.REFUSED)
    key.refresh_from_db()
    pipeline._key_worked(SimpleNamespace(key=key))  # type: ignore[arg-type]
    assert sent == [(str(key.pk),)]
    key.refresh_from_db()
    assert key.check_status == KeyCheck.UNCHECKED
    tasks.check_key(*sent[0])
    key.refresh_from_db()
    assert key.check_status == KeyCheck.CHECKED
    assert key.checked_credits == 900


def test_using_a_key_that_cannot_be_checked_sends_no_check(
    alice: User, sent: list[tuple[Any, ...]]
) -> None:
    key = make_key(alice, Vendor.PICWISH, "pw-0123456789abcdef")
    key.check_status = KeyCheck.UNCHECKABLE
    keycheck.used(key)
    assert sent == []


def test_a_job_that_worked_makes_the_kept_balance_stale(alice: User) -> None:
    key = add(alice, "sandbox-credits-5000-spent")
    assert credits.cached(key) is not None
    key.refresh_from_db()
    pipeline._key_worked(SimpleNamespace(key=key))  # type: ignore[arg-type]
    # The job spent credits: the vault asks the vendor again rather than show the old figure.
    assert credits.cached(key) is None
