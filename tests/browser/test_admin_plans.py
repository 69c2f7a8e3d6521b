"""Step 6 from an admin's seat: sign in to the admin, make a plan of one job a day, give it to a
person on their page; that person (in another browser) runs one job and is refused the second
with the daily limit on the operation form; the dashboard and the audit log show what happened.

No worker is needed: the first job may stay queued, and the refusal comes before any job.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import AuditAction, AuditEvent, Plan
from editor.models import Job, JobStatus
from tests.browser.steps import DEVICES, field, log_in, open_operation, photo, run, screenshot
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_plan_stops_a_person_at_its_daily_limit(
    browser: Browser, page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    boss = make_user("boss")
    boss.is_staff = boss.is_superuser = True
    boss.save()
    painter = make_user("painter")

    page.goto(live_server.url + "/admin/")
    page.get_by_label("Username:").fill("boss")
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Dashboard")).to_be_visible()

    page.get_by_role("link", name="Plans", exact=True).first.click()
    page.get_by_role("link", name="Add plan").click()
    page.get_by_label("Name:", exact=True).fill("One a day")
    page.get_by_label("Jobs per day:").fill("1")
    page.get_by_label("Vendor credits per month:").fill("100")
    page.get_by_label("Storage (MB):").fill("500")
    page.get_by_label("Concurrent jobs:").fill("3")
    screenshot(page, "admin-plan-form", "desktop")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    plan = Plan.objects.get(name="One a day")
    assert (plan.jobs_per_day, plan.storage_bytes) == (1, 500 * 1024 * 1024)
    assert plan.operations == []

    page.goto(f"{live_server.url}/admin/accounts/user/")
    page.get_by_role("link", name="painter", exact=True).click()
    page.get_by_label("Plan:", exact=True).select_option(label="One a day")
    page.get_by_label("Plan:", exact=True).scroll_into_view_if_needed()
    screenshot(page, "admin-user-form", "desktop", full_page=False)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    painter.refresh_from_db()
    assert painter.plan == plan

    # The person, in a browser of their own.
    context = browser.new_context(**DEVICES["desktop"])
    context.set_default_timeout(10_000)
    person = context.new_page()
    try:
        log_in(person, live_server, "painter")
        form = open_operation(person, live_server, "color_migration")
        field(form, "file_image").set_input_files(photo(tmp_path / "first.jpg"))
        first = run(form)
        assert first.status == JobStatus.QUEUED

        form = open_operation(person, live_server, "color_migration")
        field(form, "file_image").set_input_files(photo(tmp_path / "second.jpg"))
        form.locator("button[type=submit]").click()
        refusal = person.locator("#operation-form").get_by_text("your daily limit")
        expect(refusal).to_be_visible()
        expect(refusal).to_contain_text("You have run 1 job today, your daily limit")
        screenshot(person, "admin-plan-refusal", "desktop")
        assert Job.objects.filter(owner=painter).count() == 1
    finally:
        context.close()

    page.goto(live_server.url + "/admin/")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Studio dashboard")).to_be_visible()
    expect(page.locator('[data-status="queued"] strong')).to_have_text("1")
    expect(page.locator("#busiest-by-jobs")).to_contain_text("painter")
    screenshot(page, "admin-dashboard", "desktop")

    page.get_by_role("link", name="Audit log").first.click()
    results = page.locator("#result_list")
    expect(results).to_contain_text("Plan created")
    expect(results).to_contain_text("Plan assigned")
    expect(results).to_contain_text("painter")
    screenshot(page, "admin-audit-log", "desktop")
    assigned = AuditEvent.objects.get(action=AuditAction.PLAN_ASSIGNED)
    assert (assigned.actor, assigned.details) == (boss, {"old": None, "new": "One a day"})
