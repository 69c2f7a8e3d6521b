"""The admin for people, plans, groups and the audit log: who may open it, what it shows, and
the audit event every change writes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts import audit, quotas
from accounts.models import (
    AuditAction,
    AuditEvent,
    GroupPlan,
    Plan,
    Quota,
    QuotaOverride,
    User,
)
from tests.factories import make_admin, make_plan, make_user
from tests.pages import form_fields, rows

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


# --- Helpers --------------------------------------------------------------------------------


@pytest.fixture
def root() -> User:
    return make_admin()


@pytest.fixture
def admin_client(client: Client, root: User) -> Client:
    client.force_login(root)
    return client


def events(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("created_at"))


# --- Who may open it --------------------------------------------------------------------------

PAGES = (
    "admin:accounts_plan_changelist",
    "admin:accounts_plan_add",
    "admin:accounts_user_changelist",
    "admin:accounts_auditevent_changelist",
    "admin:auth_group_changelist",
    "admin:auth_group_add",
)


@pytest.mark.parametrize("name", PAGES)
def test_staff_open_the_admin_pages(admin_client: Client, name: str) -> None:
    assert admin_client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", PAGES)
def test_people_who_are_not_staff_are_sent_to_the_admin_login(
    client: Client, alice: User, name: str
) -> None:
    client.force_login(alice)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- Plans ---------------------------------------------------------------------------------------


def test_plan_list_shows_limits_and_how_many_use_it(admin_client: Client, alice: User) -> None:
    plan = make_plan(storage_bytes=2 * 1024 * MB, concurrent_jobs=2, operations=["colorize"])
    for person in (alice, make_user("carol")):
        person.plan = plan
        person.save()
    GroupPlan.objects.create(group=Group.objects.create(name="Club"), plan=plan)
    make_plan("Empty")
    page = admin_client.get(reverse("admin:accounts_plan_changelist")).content.decode()
    row = page.split("Basic</a>", 1)[1].split("</tr>", 1)[0]
    cells = [cell.split(">", 1)[1].split("<", 1)[0] for cell in row.split("<td")[1:]]
    # jobs a day, credits, storage, concurrent, waiting, operations, providers, house keys,
    # people, groups
    assert cells[:7] == ["10", "100", "2.0\xa0GB", "2", "500", "colorize", "all"]
    assert cells[-2:] == ["2", "1"]


def test_creating_a_plan_in_mb_with_checkboxes_is_audited(admin_client: Client, root: User) -> None:
    add = reverse("admin:accounts_plan_add")
    page = admin_client.get(add)
    assert 'type="checkbox" name="operations" value="colorize"' in page.content.decode()
    response = admin_client.post(
        add,
        form_fields(
            page,
            name="Hobby",
            jobs_per_day="1",
            credits_per_month="50",
            storage_bytes="300",
            concurrent_jobs="2",
            operations=["colorize", "extend"],
            providers=["picwish"],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = Plan.objects.get(name="Hobby")
    assert plan.storage_bytes == 300 * MB
    assert plan.operations == ["colorize", "extend"]
    assert plan.providers == ["picwish"]
    (event,) = events(AuditAction.PLAN_CREATED)
    assert event.actor == root
    assert event.target_type == "accounts.Plan"
    assert event.target_id == str(plan.pk)
    assert event.target_label == "Hobby"
    assert event.details["limits"]["jobs_per_day"] == 1
    assert event.details["limits"]["storage_bytes"] == 300 * MB


def test_a_plan_form_shows_storage_in_mb_and_refuses_unknown_operations(
    admin_client: Client,
) -> None:
    plan = make_plan(storage_bytes=50 * MB)
    url = reverse("admin:accounts_plan_change", args=[plan.pk])
    page = admin_client.get(url)
    assert 'name="storage_bytes" value="50"' in page.content.decode()
    response = admin_client.post(url, form_fields(page, operations=["colourise"]))
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not events(AuditAction.PLAN_CHANGED)


def test_changing_a_plan_records_old_and_new_values(admin_client: Client) -> None:
    plan = make_plan(storage_bytes=50 * MB)
    url = reverse("admin:accounts_plan_change", args=[plan.pk])
    page = admin_client.get(url)
    response = admin_client.post(url, form_fields(page, jobs_per_day="3", storage_bytes="60"))
    assert response.status_code == 302
    (event,) = events(AuditAction.PLAN_CHANGED)
    assert event.details == {
        "changes": {
            "jobs_per_day": {"old": 10, "new": 3},
            "storage_bytes": {"old": 50 * MB, "new": 60 * MB},
        }
    }
    # Saving without a change writes nothing.
    admin_client.post(url, form_fields(admin_client.get(url)))
    assert len(events(AuditAction.PLAN_CHANGED)) == 1


def test_deleting_a_plan_is_audited_with_who_had_it(admin_client: Client, alice: User) -> None:
    plan = make_plan()
    alice.plan = plan
    alice.save()
    response = admin_client.post(
        reverse("admin:accounts_plan_delete", args=[plan.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Plan.objects.exists()
    (event,) = events(AuditAction.PLAN_DELETED)
    assert event.target_label == "Basic"
    assert event.details["people"] == ["alice"]
    alice.refresh_from_db()
    assert alice.plan is None


def test_deleting_plans_from_the_list_audits_each(admin_client: Client) -> None:
    plans = [make_plan("One"), make_plan("Two")]
    admin_client.post(
        reverse("admin:accounts_plan_changelist"),
        {"action": "delete_selected", "_selected_action": [p.pk for p in plans], "post": "yes"},
    )
    assert not Plan.objects.exists()
    assert {e.target_label for e in events(AuditAction.PLAN_DELETED)} == {"One", "Two"}


# --- People ----------------------------------------------------------------------------------


def test_user_list_has_a_plan_column_and_filter(admin_client: Client, alice: User) -> None:
    plan = make_plan("Gold")
    alice.plan = plan
    alice.save()
    make_user("dave")
    listing = admin_client.get(reverse("admin:accounts_user_changelist"))
    content = listing.content.decode()
    assert "column-plan" in content
    assert f"?plan__id__exact={plan.pk}" in content
    filtered = admin_client.get(
        reverse("admin:accounts_user_changelist"), {"plan__id__exact": plan.pk}
    ).content.decode()
    assert "alice" in filtered
    assert "dave" not in filtered


def test_assigning_a_plan_on_the_change_page_is_audited(
    admin_client: Client, root: User, alice: User
) -> None:
    old, new = make_plan("Basic"), make_plan("Pro", jobs_per_day=50)
    alice.plan = old
    alice.save()
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    page = admin_client.get(url)
    assert 'name="plan"' in page.content.decode()
    response = admin_client.post(url, form_fields(page, plan=str(new.pk)))
    assert response.status_code == 302, response.content.decode()[:3000]
    alice.refresh_from_db()
    assert alice.plan == new
    assert quotas.limits_for(alice).jobs_per_day == 50
    (event,) = events(AuditAction.PLAN_ASSIGNED)
    assert (event.actor, event.target_label) == (root, "alice")
    assert event.details == {"old": "Basic", "new": "Pro"}
    # Back to no plan at all.
    admin_client.post(url, form_fields(admin_client.get(url), plan=""))
    assert events(AuditAction.PLAN_ASSIGNED)[-1].details == {"old": "Pro", "new": None}


def test_saving_a_person_without_changing_the_plan_writes_nothing(
    admin_client: Client, alice: User
) -> None:
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    response = admin_client.post(url, form_fields(admin_client.get(url), first_name="Alice"))
    assert response.status_code == 302
    assert not AuditEvent.objects.exists()


def test_an_override_is_set_changed_and_removed_with_an_audit_each_time(
    admin_client: Client, alice: User
) -> None:
    alice.plan = make_plan(jobs_per_day=10)
    alice.save()
    url = reverse("admin:accounts_user_change", args=[alice.pk])
    page = admin_client.get(url)
    response = admin_client.post(
        url,
        form_fields(
            page,
            **{
                "quota_override-TOTAL_FORMS": "1",
                "quota_override-0-jobs_per_day": "25",
                "quota_override-0-storage_bytes": "10",
                "quota_override-0-note": "Exhibition week",
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    override = QuotaOverride.objects.get(user=alice)
    assert (override.jobs_per_day, override.storage_bytes) == (25, 10 * MB)
    limits = quotas.limits_for(alice)
    assert (limits.jobs_per_day, limits.credits_per_month) == (25, 100)
    (added,) = events(AuditAction.OVERRIDE_CHANGED)
    assert added.target_label == "alice"
    assert added.details == {
        "changes": {
            "jobs_per_day": {"old": None, "new": 25},
            "storage_bytes": {"old": None, "new": 10 * MB},
            "note": {"old": None, "new": "Exhibition week"},
        }
    }

    page = admin_client.get(url)
    admin_client.post(url, form_fields(page, **{"quota_override-0-jobs_per_day": "30"}))
    assert events(AuditAction.OVERRIDE_CHANGED)[-1].details == {
        "changes": {"jobs_per_day": {"old": 25, "new": 30}}
    }

    page = admin_client.get(url)
    admin_client.post(url, form_fields(page, **{"quota_override-0-DELETE": "on"}))
    assert not QuotaOverride.objects.exists()
    assert events(AuditAction.OVERRIDE_CHANGED)[-1].details == {
        "changes": {
            "jobs_per_day": {"old": 30, "new": None},
            "storage_bytes": {"old": 10 * MB, "new": None},
            "note": {"old": "Exhibition week", "new": None},
        }
    }
    assert len(events(AuditAction.OVERRIDE_CHANGED)) == 3


def test_the_change_page_shows_usage_read_only_and_the_limits_now(
    admin_client: Client, alice: User
) -> None:
    for _ in range(2):
        quotas.charge(alice, 4)
    Quota.objects.filter(user=alice).update(stored_bytes=3 * MB)
    page = admin_client.get(reverse("admin:accounts_user_change", args=[alice.pk]))
    content = page.content.decode()
    usage = content.split("Jobs today", 1)[1]
    assert '<div class="readonly">2</div>' in usage.split("Credits this month", 1)[0]
    assert '<div class="readonly">8</div>' in usage.split("Jobs running", 1)[0]
    assert "3.0\xa0MB" in usage
    assert 'name="quota-0-jobs_today"' not in content
    assert "no plan (the studio&#x27;s defaults): 200 jobs a day" in content


# --- Groups ----------------------------------------------------------------------------------


def test_a_group_plan_is_set_on_the_group_page_and_audited(
    admin_client: Client, alice: User
) -> None:
    plan = make_plan("Class")
    group = Group.objects.create(name="Students")
    alice.groups.add(group)
    url = reverse("admin:auth_group_change", args=[group.pk])
    page = admin_client.get(url)
    response = admin_client.post(
        url,
        form_fields(
            page,
            **{
                "plan_assignment-TOTAL_FORMS": "1",
                "plan_assignment-0-plan": str(plan.pk),
                "plan_assignment-0-priority": "5",
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert quotas.plan_for(alice) == plan
    (event,) = events(AuditAction.GROUP_PLAN_CHANGED)
    assert event.target_label == "Students"
    assert event.details == {"old": None, "new": {"plan": "Class", "priority": 5}}
    listing = admin_client.get(reverse("admin:auth_group_changelist")).content.decode()
    assert "Class" in listing


# --- The audit log -----------------------------------------------------------------------------


def test_the_audit_log_is_read_only_filtered_and_searchable(
    admin_client: Client, root: User, alice: User
) -> None:
    plan = make_plan("Listed")
    audit.record(AuditAction.PLAN_CREATED, plan, actor=root)
    audit.record(AuditAction.PLAN_ASSIGNED, alice, actor=root, details={"old": None, "new": "x"})
    changelist = reverse("admin:accounts_auditevent_changelist")
    content = admin_client.get(changelist).content.decode()
    assert "?action__exact=plan_created" in content
    assert "Add audit event" not in content
    assert 'value="delete_selected"' not in content
    everything = rows(admin_client.get(changelist))
    assert "Plan created" in everything
    assert "Plan assigned" in everything
    only_created = rows(admin_client.get(changelist, {"action__exact": "plan_created"}))
    assert "Listed" in only_created
    assert "Plan assigned" not in only_created
    found = rows(admin_client.get(changelist, {"q": "alice"}))
    assert "Plan assigned" in found
    # The details, keys sorted.
    assert "{&quot;new&quot;: &quot;x&quot;, &quot;old&quot;: null}" in found
    assert "Listed" not in found
    assert "Listed" in rows(admin_client.get(changelist, {"q": "root"}))

    event = AuditEvent.objects.get(action=AuditAction.PLAN_ASSIGNED)
    detail = admin_client.get(reverse("admin:accounts_auditevent_change", args=[event.pk]))
    assert detail.status_code == 200
    assert 'name="action"' not in detail.content.decode()
    assert admin_client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:accounts_auditevent_delete", args=[event.pk])).status_code
        == 403
    )
    admin_client.post(
        reverse("admin:accounts_auditevent_change", args=[event.pk]), {"action": "key_added"}
    )
    event.refresh_from_db()
    assert event.action == AuditAction.PLAN_ASSIGNED


def test_audit_details_refuse_names_of_secrets(alice: User) -> None:
    with pytest.raises(ValueError, match="secrets"):
        audit.record(AuditAction.KEY_ADDED, alice, details={"api_key": "x"})
    assert not AuditEvent.objects.exists()
