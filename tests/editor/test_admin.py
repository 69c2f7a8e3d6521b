"""The admin for keys, jobs and share links: house keys added and replaced without the secret or
its ciphertext ever on a page, job retry and cancel, and the audit event of each of those and of
share links made and revoked, none of which holds a secret."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from pytest_django import Settings as SettingsWrapper

from accounts.models import AuditAction, AuditEvent, Quota, User
from editor import vault
from editor.models import Job, JobStatus, ShareLink, Vendor, VendorKey
from tests.factories import made_link, make_admin, make_job, make_user
from tests.pages import every_field, form_fields, new_url, rows

pytestmark = pytest.mark.django_db

SECRET = "sk-house-key-5f0c2e9a7d1b4abcd"
NEW_SECRET = "sk-house-key-replaced-9e8d7c6b"


@pytest.fixture
def root() -> User:
    return make_admin()


@pytest.fixture
def admin_client(client: Client, root: User) -> Client:
    client.force_login(root)
    return client


def house_key(vendor: str = Vendor.PICWISH, secret: str = SECRET) -> VendorKey:
    key = VendorKey(owner=None, vendor=vendor, label="Studio key")
    key.set_secret(secret)
    key.save()
    return key


def events(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("created_at"))


def assert_no_secret_in_the_log(*secrets: str) -> None:
    assert AuditEvent.objects.exists()
    for event in AuditEvent.objects.all():
        text = every_field(event)
        for secret in secrets:
            assert secret not in text, event.action


# --- House keys ----------------------------------------------------------------------------------


def test_an_admin_adds_a_house_key_stored_encrypted(admin_client: Client, root: User) -> None:
    add = reverse("admin:editor_vendorkey_add")
    form = admin_client.get(add).content.decode()
    assert 'type="password" name="secret"' in form
    assert 'name="owner"' not in form
    response = admin_client.post(
        add,
        {
            "vendor": "picwish",
            "label": "Studio PicWish",
            "secret": SECRET,
            "monthly_credit_cap": 500,
        },
    )
    assert response.status_code == 302
    key = VendorKey.objects.get()
    assert key.owner is None
    assert key.is_house_key
    assert key.last_four == "abcd"
    assert key.monthly_credit_cap == 500
    assert SECRET not in key.ciphertext
    assert vault.decrypt(key.ciphertext) == SECRET
    (event,) = events(AuditAction.KEY_ADDED)
    assert event.actor == root
    assert event.target_id == str(key.pk)
    assert event.details == {
        "house": True,
        "owner": None,
        "vendor": "picwish",
        "label": "Studio PicWish",
        "last_four": "abcd",
    }
    assert_no_secret_in_the_log(SECRET, key.ciphertext)


def test_no_admin_page_shows_a_key_or_its_ciphertext(admin_client: Client, alice: User) -> None:
    add = reverse("admin:editor_vendorkey_add")
    admin_client.post(add, {"vendor": "picwish", "label": "House", "secret": SECRET})
    house = VendorKey.objects.get()
    own = VendorKey(owner=alice, vendor=Vendor.AILABTOOLS, label="Alice's")
    own.set_secret(NEW_SECRET)
    own.save()
    responses = [
        admin_client.get(reverse("admin:editor_vendorkey_changelist")),
        admin_client.get(reverse("admin:editor_vendorkey_changelist"), {"q": "House"}),
        admin_client.get(add),
        # Refused (a second PicWish house key): the form comes back without the secret.
        admin_client.post(add, {"vendor": "picwish", "label": "Again", "secret": SECRET}),
        admin_client.get(reverse("admin:accounts_auditevent_changelist")),
        admin_client.get(
            reverse("admin:accounts_auditevent_change", args=[events(AuditAction.KEY_ADDED)[0].pk])
        ),
        admin_client.get(reverse("admin:accounts_user_change", args=[alice.pk])),
    ]
    for key in (house, own):
        responses += [
            admin_client.get(reverse("admin:editor_vendorkey_change", args=[key.pk])),
            admin_client.get(reverse("admin:editor_vendorkey_history", args=[key.pk])),
            admin_client.get(reverse("admin:editor_vendorkey_delete", args=[key.pk])),
        ]
    for response in responses:
        assert response.status_code == 200, response.wsgi_request.path
        content = response.content.decode()
        for secret in (SECRET, NEW_SECRET, house.ciphertext, own.ciphertext):
            assert secret not in content, response.wsgi_request.path
    assert "House key" in responses[0].content.decode()
    assert "••••abcd" in responses[0].content.decode()


def test_one_house_key_per_vendor(admin_client: Client) -> None:
    house_key(Vendor.PICWISH)
    add = reverse("admin:editor_vendorkey_add")
    response = admin_client.post(add, {"vendor": "picwish", "label": "Second", "secret": SECRET})
    assert response.status_code == 200
    assert "already has a PicWish house key" in response.content.decode()
    response = admin_client.post(add, {"vendor": "ailabtools", "label": "Lab", "secret": SECRET})
    assert response.status_code == 302
    assert VendorKey.objects.filter(owner__isnull=True).count() == 2


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("short", "at least 8 characters"),
        ("has a space in it", "without spaces"),
    ],
)
def test_a_bad_secret_is_refused_like_in_the_vault(
    admin_client: Client, secret: str, message: str
) -> None:
    response = admin_client.post(
        reverse("admin:editor_vendorkey_add"),
        {"vendor": "picwish", "label": "House", "secret": secret},
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert message in content
    assert f'value="{secret}"' not in content
    assert not VendorKey.objects.exists()
    assert not AuditEvent.objects.exists()


def test_replacing_a_house_keys_secret_and_cap_is_audited(admin_client: Client) -> None:
    key = house_key()
    old_ciphertext = key.ciphertext
    url = reverse("admin:editor_vendorkey_change", args=[key.pk])
    page = admin_client.get(url)
    assert 'type="password" name="new_secret"' in page.content.decode()
    response = admin_client.post(
        url, form_fields(page, new_secret=NEW_SECRET, monthly_credit_cap="40")
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert vault.decrypt(key.ciphertext) == NEW_SECRET
    assert key.last_four == NEW_SECRET[-4:]
    (replaced,) = events(AuditAction.KEY_REPLACED)
    assert replaced.details["last_four"] == NEW_SECRET[-4:]
    assert replaced.details["old_last_four"] == "abcd"
    assert replaced.details["house"] is True
    (changed,) = events(AuditAction.KEY_CHANGED)
    assert changed.details["changes"] == {"monthly_credit_cap": {"old": None, "new": 40}}
    # Saved again with the field left blank: the key stays.
    admin_client.post(url, form_fields(admin_client.get(url)))
    key.refresh_from_db()
    assert vault.decrypt(key.ciphertext) == NEW_SECRET
    assert len(events(AuditAction.KEY_REPLACED)) == 1
    assert_no_secret_in_the_log(SECRET, NEW_SECRET, old_ciphertext, key.ciphertext)


def test_a_persons_key_can_be_relabelled_but_not_replaced(
    admin_client: Client, alice: User
) -> None:
    key = VendorKey(owner=alice, vendor=Vendor.PICWISH, label="Mine")
    key.set_secret(SECRET)
    key.save()
    url = reverse("admin:editor_vendorkey_change", args=[key.pk])
    page = admin_client.get(url)
    assert 'name="new_secret"' not in page.content.decode()
    admin_client.post(url, {"label": "Renamed", "new_secret": NEW_SECRET})
    key.refresh_from_db()
    assert key.label == "Renamed"
    assert vault.decrypt(key.ciphertext) == SECRET
    (event,) = events(AuditAction.KEY_CHANGED)
    assert event.details["owner"] == "alice"
    assert event.details["changes"] == {"label": {"old": "Mine", "new": "Renamed"}}


def test_a_duplicate_label_is_a_form_error(admin_client: Client, alice: User) -> None:
    keys = []
    for label in ("One", "Two"):
        key = VendorKey(owner=alice, vendor=Vendor.PICWISH, label=label)
        key.set_secret(SECRET)
        key.save()
        keys.append(key)
    response = admin_client.post(
        reverse("admin:editor_vendorkey_change", args=[keys[1].pk]), {"label": "One"}
    )
    assert response.status_code == 200
    assert "has this label" in response.content.decode()
    keys[1].refresh_from_db()
    assert keys[1].label == "Two"


def test_deleting_keys_is_audited(admin_client: Client, alice: User) -> None:
    key = house_key()
    response = admin_client.post(
        reverse("admin:editor_vendorkey_delete", args=[key.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert not VendorKey.objects.exists()
    (event,) = events(AuditAction.KEY_DELETED)
    assert event.details == {
        "house": True,
        "owner": None,
        "vendor": "picwish",
        "label": "Studio key",
        "last_four": "abcd",
    }
    own = VendorKey(owner=alice, vendor=Vendor.PICWISH, label="Mine")
    own.set_secret(NEW_SECRET)
    own.save()
    admin_client.post(
        reverse("admin:editor_vendorkey_changelist"),
        {"action": "delete_selected", "_selected_action": [str(own.pk)], "post": "yes"},
    )
    assert not VendorKey.objects.exists()
    assert events(AuditAction.KEY_DELETED)[-1].details["owner"] == "alice"
    assert_no_secret_in_the_log(SECRET, NEW_SECRET)


# --- Jobs ----------------------------------------------------------------------------------------


def act(client: Client, action: str, *jobs: Job) -> str:
    """Run a list action on ``jobs``; returns the page it leads back to, with its messages."""
    response = client.post(
        reverse("admin:editor_job_changelist"),
        {"action": action, "_selected_action": [str(job.pk) for job in jobs]},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


def test_job_list_filters(admin_client: Client, alice: User, bob: User) -> None:
    make_job(alice)
    make_job(bob)
    content = admin_client.get(reverse("admin:editor_job_changelist")).content.decode()
    for query in (
        "?status__exact=succeeded",
        "?operation=colorize",
        "?provider=picwish",
        "?house_key__exact=1",
        f"?owner__id__exact={alice.pk}",
    ):
        assert query in content, query
    only_bob = rows(
        admin_client.get(reverse("admin:editor_job_changelist"), {"owner__id__exact": bob.pk})
    )
    assert "bob" in only_bob
    assert "alice" not in only_bob


def test_cancel_stops_a_running_job_refunds_it_and_is_audited(
    admin_client: Client, root: User, alice: User
) -> None:
    job = make_job(alice, status=JobStatus.RUNNING)
    done = make_job(alice)
    page = act(admin_client, "cancel", job, done)
    assert "1 job(s) canceled." in page
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    # make_job charged both (only the running one holds a slot); the canceled one gave its
    # slot back and its job of the day.
    quota = Quota.objects.get(user=alice)
    assert (quota.active_jobs, quota.jobs_today) == (0, 1)
    (event,) = events(AuditAction.JOB_CANCELED)
    assert (event.actor, event.target_id) == (root, str(job.pk))
    assert event.details == {
        "owner": "alice",
        "operation": "colorize",
        "provider": "picwish",
        "status": "running",
    }


def test_retry_sends_a_failed_job_again_charged_to_its_owner(
    admin_client: Client, root: User, alice: User
) -> None:
    job = make_job(alice, status=JobStatus.FAILED)
    finished = make_job(alice)
    page = act(admin_client, "retry", job, finished)
    assert "1 job(s) sent again." in page
    assert "1 job(s) skipped" in page
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.error_message == ""
    assert Quota.objects.get(user=alice).jobs_today == 3
    assert not Quota.objects.filter(user=root).exists()
    (event,) = events(AuditAction.JOB_RETRIED)
    assert event.details["status"] == "failed"
    assert event.details["owner"] == "alice"


def test_a_retry_over_the_owners_limit_is_a_message_not_an_error(
    admin_client: Client, alice: User, settings: SettingsWrapper
) -> None:
    job = make_job(alice, status=JobStatus.FAILED)
    settings.QUOTA_JOBS_PER_DAY = 1
    page = act(admin_client, "retry", job)
    assert "was not retried" in page
    assert "your daily limit" in page
    assert 'class="error"' in page
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert not events(AuditAction.JOB_RETRIED)


def test_staff_who_may_only_view_jobs_get_no_actions(client: Client, alice: User) -> None:
    viewer = make_user("viewer")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    job = make_job(alice, status=JobStatus.RUNNING)
    client.force_login(viewer)
    page = client.get(reverse("admin:editor_job_changelist")).content.decode()
    assert str(job.pk) in page
    assert 'value="cancel"' not in page
    client.post(
        reverse("admin:editor_job_changelist"),
        {"action": "cancel", "_selected_action": [str(job.pk)]},
    )
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert not AuditEvent.objects.exists()


# --- Share links ---------------------------------------------------------------------------------


def test_making_and_revoking_a_link_is_audited_without_its_token(
    client: Client, alice: User
) -> None:
    result = make_job(alice).results.get()
    client.force_login(alice)
    client.post(new_url(result), {"lifetime": "7d", "password": "opensesame99"})
    link = ShareLink.objects.get()
    (made,) = events(AuditAction.SHARE_CREATED)
    assert made.actor == alice
    assert made.target_id == str(link.pk)
    assert made.details["result"] == str(result.pk)
    assert made.details["protected"] is True
    assert made.details["expires_at"]
    assert made.ip == "127.0.0.1"

    client.post(reverse("editor:share_revoke", args=[link.pk]))
    client.post(reverse("editor:share_revoke", args=[link.pk]))
    (revoked,) = events(AuditAction.SHARE_REVOKED)
    assert revoked.actor == alice
    link.refresh_from_db()
    assert_no_secret_in_the_log(
        link.token, link.token_hash, link.token_ciphertext, link.password_hash, "opensesame99"
    )


def test_the_admin_revoke_action_is_audited(admin_client: Client, root: User, alice: User) -> None:
    link, token = made_link(alice)
    other, _other_token = made_link(alice)
    other.revoke()
    response = admin_client.post(
        reverse("admin:editor_sharelink_changelist"),
        {"action": "revoke", "_selected_action": [str(link.pk), str(other.pk)]},
        follow=True,
    )
    assert "1 link(s) revoked." in response.content.decode()
    (event,) = events(AuditAction.SHARE_REVOKED)
    assert (event.actor, event.target_id) == (root, str(link.pk))
    assert event.details["owner"] == "alice"
    assert_no_secret_in_the_log(token, link.token_hash, link.token_ciphertext)
    assert "Share link revoked" in rows(
        admin_client.get(reverse("admin:accounts_auditevent_changelist"))
    )
