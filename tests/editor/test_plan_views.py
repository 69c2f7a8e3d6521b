"""What a plan allows, on the pages: the studio marks the operations it does not include and
does not link them, the operation form offers only the providers it allows, and a crafted
post for anything else gets a clear form error, no job and no charge."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts import quotas
from accounts.models import Plan, Quota, User
from editor import jobs, operations
from editor.models import Job, JobStatus, Vendor
from tests.factories import make_job, make_key
from tests.images import photo

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def give_plan(user: User, **limits: Any) -> Plan:
    plan = Plan.objects.create(
        name=limits.pop("name", "Limited"),
        jobs_per_day=100,
        credits_per_month=1000,
        storage_bytes=100 * MB,
        concurrent_jobs=10,
        **limits,
    )
    user.plan = plan
    user.save()
    return plan


def charged(user: User) -> tuple[int, int, int]:
    quota = Quota.objects.filter(user=user).first()
    if quota is None:
        return (0, 0, 0)
    return (quota.jobs_today, quota.credits_this_month, quota.active_jobs)


def test_the_studio_marks_operations_not_in_the_plan_and_does_not_link_them(
    client: Client, alice: User
) -> None:
    give_plan(alice, operations=["colorize", "color_migration"])
    client.force_login(alice)
    page = client.get(reverse("editor:studio")).content.decode()
    for slug in ("colorize", "color_migration"):
        assert f'href="{reverse("editor:operation", args=[slug])}"' in page
    for slug in ("retouch", "extend", "expression"):
        assert f'href="{reverse("editor:operation", args=[slug])}"' not in page
    assert page.count("Not in your plan") == 3
    assert "Image extender" in page  # still shown, for what it is


def test_an_operation_whose_providers_are_all_excluded_is_not_in_the_plan(
    client: Client, alice: User
) -> None:
    give_plan(alice, providers=["local"])
    client.force_login(alice)
    page = client.get(reverse("editor:studio")).content.decode()
    assert f'href="{reverse("editor:operation", args=["color_migration"])}"' in page
    assert page.count("Not in your plan") == 4


def test_without_a_plan_everything_is_offered(client: Client, alice: User) -> None:
    client.force_login(alice)
    page = client.get(reverse("editor:studio")).content.decode()
    assert "Not in your plan" not in page
    for operation in operations.OPERATIONS:
        assert f'href="{reverse("editor:operation", args=[operation.slug])}"' in page


def test_the_form_offers_only_the_providers_the_plan_allows(client: Client, alice: User) -> None:
    give_plan(alice, providers=["local", "ailabtools_advanced"])
    client.force_login(alice)
    page = client.get(reverse("editor:operation", args=["color_migration"])).content.decode()
    assert 'name="provider" value="local"' in page  # the only one: no choice to make
    assert 'value="ailabtools"' not in page
    page = client.get(reverse("editor:operation", args=["expression"])).content.decode()
    assert 'name="provider" value="ailabtools_advanced"' in page
    assert '<option value="ailabtools"' not in page


def test_a_preset_or_link_naming_an_excluded_provider_gets_an_allowed_one(
    client: Client, alice: User
) -> None:
    give_plan(alice, providers=["local"])
    client.force_login(alice)
    url = reverse("editor:operation", args=["color_migration"]) + "?provider=ailabtools"
    page = client.get(url).content.decode()
    assert 'name="provider" value="local"' in page


def test_a_crafted_post_for_an_excluded_provider_is_a_form_error_without_a_charge(
    client: Client, alice: User
) -> None:
    give_plan(alice, providers=["local"])
    make_key(alice, Vendor.AILABTOOLS)
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["color_migration"]),
        {"provider": "ailabtools", "mode": "AUTO", "degree": "0.4", "file_image": photo()},
    )
    assert response.status_code == 200
    assert "This provider is not in your plan." in response.content.decode()
    assert not Job.objects.exists()
    assert charged(alice) == (0, 0, 0)


def test_a_crafted_post_for_an_operation_not_in_the_plan_is_a_form_error(
    client: Client, alice: User
) -> None:
    give_plan(alice, operations=["color_migration"])
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    url = reverse("editor:operation", args=["colorize"])
    page = client.get(url).content.decode()
    assert "Colorize is not in your plan." in page
    assert 'class="button button--primary" disabled>' in page  # the run button
    response = client.post(url, {"provider": "picwish", "format": "jpg", "file_image": photo()})
    assert response.status_code == 200
    assert "Colorize is not in your plan." in response.content.decode()
    assert not Job.objects.exists()
    assert charged(alice) == (0, 0, 0)


def test_htmx_gets_the_plan_error_in_the_form_fragment(client: Client, alice: User) -> None:
    give_plan(alice, providers=["local"])
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["colorize"]),
        {"provider": "picwish", "format": "jpg", "file_image": photo()},
        headers={"HX-Request": "true"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page
    assert "Colorize is not in your plan." in page


def test_an_allowed_provider_runs(client: Client, alice: User) -> None:
    give_plan(alice, providers=["local"])
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["color_migration"]),
        {
            "provider": "local",
            "mode": "AUTO",
            "degree": "0.4",
            "color_count": "1",
            "file_image": photo(),
        },
    )
    assert response.status_code == 302
    assert Job.objects.get().provider == "local"


def test_submit_itself_refuses_what_the_plan_does_not_allow(alice: User) -> None:
    give_plan(alice, operations=["color_migration"])
    key = make_key(alice, Vendor.PICWISH)
    operation = operations.get("colorize")
    with pytest.raises(quotas.QuotaExceeded) as caught:
        jobs.submit(
            owner=alice,
            operation=operation,
            provider=operation.default_provider,
            params={"format": "jpg"},
            files={"image": photo().read()},
            key=key,
        )
    assert caught.value.limit == "plan"
    assert not Job.objects.exists()


def test_a_retry_is_refused_once_the_plan_no_longer_allows_it(
    client: Client,
    alice: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    job = make_job(alice, JobStatus.FAILED)
    quotas.release(alice.pk, job.credits, job.charged_on, refund=True)
    give_plan(alice, operations=["extend"])
    client.force_login(alice)
    response = client.post(reverse("editor:job_retry", args=[job.pk]), follow=True)
    assert "Your plan does not include this operation" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert charged(alice) == (0, 0, 0)
