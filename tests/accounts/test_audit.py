"""accounts.audit.record: who did what to which object, never a secret."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from accounts import audit
from accounts.models import AuditAction, AuditEvent, Plan, User

pytestmark = pytest.mark.django_db


def plan() -> Plan:
    return Plan.objects.create(
        name="Team", jobs_per_day=1, credits_per_month=1, storage_bytes=1, concurrent_jobs=1
    )


def test_an_event_names_the_actor_the_target_and_the_address(alice: User) -> None:
    request = RequestFactory().post("/admin/", REMOTE_ADDR="203.0.113.7")
    request.user = alice
    target = plan()
    event = audit.record(
        AuditAction.PLAN_CREATED, target, request=request, details={"name": "Team"}
    )
    assert AuditEvent.objects.get() == event
    assert (event.actor, event.actor_name, event.ip) == (alice, "alice", "203.0.113.7")
    assert (event.target_type, event.target_id, event.target_label) == (
        "accounts.Plan",
        str(target.pk),
        "Team",
    )


@pytest.mark.parametrize("name", ["secret", "api_token", "Password", "ciphertext"])
def test_details_that_name_a_secret_are_refused(alice: User, name: str) -> None:
    with pytest.raises(ValueError, match="secrets"):
        audit.record(AuditAction.PLAN_CREATED, plan(), actor=alice, details={name: "x"})
    assert not AuditEvent.objects.exists()


def test_a_request_without_an_address_is_still_recorded(alice: User) -> None:
    request = RequestFactory().post("/api/v1/keys")
    del request.META["REMOTE_ADDR"]
    request.user = alice
    event = audit.record(AuditAction.PLAN_CREATED, plan(), request=request)
    assert event.ip is None
    assert event.actor == alice
