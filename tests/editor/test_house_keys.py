"""House keys: the studio's own key per vendor (no owner, added by an admin). Someone without a
key of their own runs on it when their plan allows, charged to their own quota; their own key
always wins; house keys never show in anyone's vault or key list."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings as SettingsWrapper

from accounts.models import Plan, Quota, User
from editor.models import Job, Vendor, VendorKey
from tests.factories import make_key, make_user
from tests.images import photo

pytestmark = pytest.mark.django_db

COLORIZE = reverse("editor:operation", args=["colorize"])
HOUSE_SECRET = "sandbox-house-key-4242"
STUDIO_KEY_NOTE = "Runs on the studio's key, counted against your plan."


@pytest.fixture
def house_key(db: None) -> VendorKey:
    key = VendorKey(owner=None, vendor=Vendor.PICWISH, label="Studio PicWish")
    key.set_secret(HOUSE_SECRET)
    key.save()
    return key


def usage(user: User) -> tuple[int, int, int]:
    quota = Quota.objects.filter(user=user).first()
    if quota is None:
        return (0, 0, 0)
    return (quota.jobs_today, quota.credits_this_month, quota.active_jobs)


def send(client: Client, **extra: str) -> Job | None:
    response = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photo(), **extra}
    )
    if response.status_code == 302:
        return Job.objects.latest("created_at")
    return None


def test_without_a_key_of_your_own_the_form_says_the_studios_key_is_used(
    client: Client, alice: User, house_key: VendorKey
) -> None:
    client.force_login(alice)
    page = client.get(COLORIZE).content.decode()
    assert STUDIO_KEY_NOTE in page
    assert "You have no PicWish key yet" not in page
    # The house key is named nowhere on the page, let alone its secret.
    assert str(house_key.pk) not in page
    assert house_key.label not in page
    assert "4242" not in page


def test_alice_runs_on_the_house_key_and_only_her_quota_moves(
    client: Client, alice: User, bob: User, house_key: VendorKey
) -> None:
    admin = make_user("root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(alice)
    job = send(client)
    assert job is not None
    assert (job.owner, job.key, job.house_key) == (alice, house_key, True)
    assert usage(alice) == (1, 1, 1)
    assert usage(bob) == (0, 0, 0)
    assert usage(admin) == (0, 0, 0)


def test_a_persons_own_key_always_wins(client: Client, alice: User, house_key: VendorKey) -> None:
    own = make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    page = client.get(COLORIZE).content.decode()
    assert STUDIO_KEY_NOTE not in page
    job = send(client)
    assert job is not None
    assert (job.key, job.house_key) == (own, False)


def test_the_house_key_cannot_be_chosen_by_id(
    client: Client, alice: User, house_key: VendorKey
) -> None:
    make_key(alice, Vendor.PICWISH)
    client.force_login(alice)
    response = client.post(
        COLORIZE,
        {"provider": "picwish", "format": "jpg", "key": str(house_key.pk), "file_image": photo()},
    )
    assert "Select a valid choice" in response.content.decode()
    assert not Job.objects.exists()


def test_without_house_keys_in_the_plan_the_form_asks_for_a_key(
    client: Client, alice: User, house_key: VendorKey
) -> None:
    alice.plan = Plan.objects.create(
        name="Own keys",
        jobs_per_day=10,
        credits_per_month=100,
        storage_bytes=10**9,
        concurrent_jobs=2,
        house_keys=False,
    )
    alice.save()
    client.force_login(alice)
    page = client.get(COLORIZE).content.decode()
    assert "You have no PicWish key yet" in page
    assert STUDIO_KEY_NOTE not in page
    response = client.post(
        COLORIZE, {"provider": "picwish", "format": "jpg", "file_image": photo()}
    )
    assert "Add one in your vault first" in response.content.decode()
    assert not Job.objects.exists()
    assert usage(alice) == (0, 0, 0)


def test_the_setting_turns_house_keys_off_for_people_without_a_plan(
    client: Client, alice: User, house_key: VendorKey, settings: SettingsWrapper
) -> None:
    settings.QUOTA_HOUSE_KEYS = False
    client.force_login(alice)
    assert send(client) is None
    assert not Job.objects.exists()


def test_no_house_key_for_the_vendor_means_add_a_key(
    client: Client, alice: User, house_key: VendorKey
) -> None:
    client.force_login(alice)
    page = client.get(reverse("editor:operation", args=["retouch"])).content.decode()
    assert "You have no AILabTools key yet" in page
    assert STUDIO_KEY_NOTE not in page


def test_the_key_list_holds_only_your_own_keys(
    client: Client, alice: User, bob: User, house_key: VendorKey
) -> None:
    mine = make_key(alice, Vendor.PICWISH, secret="sandbox-alice-1111")
    bobs = make_key(bob, Vendor.PICWISH, secret="sandbox-bob-2222")
    client.force_login(alice)
    page = client.get(COLORIZE).content.decode()
    options = re.findall(r'<option value="([0-9a-f-]{36})"', page)
    assert options == [str(mine.pk)]
    assert str(bobs.pk) not in page


def test_house_keys_never_appear_in_the_vault(
    client: Client, alice: User, house_key: VendorKey
) -> None:
    client.force_login(alice)
    page = client.get(reverse("editor:vault")).content.decode()
    assert house_key.label not in page
    assert str(house_key.pk) not in page
    assert "No keys yet" in page
    for name in ("editor:vault_key", "editor:vault_edit"):
        assert client.get(reverse(name, args=[house_key.pk])).status_code == 404
    assert client.post(reverse("editor:vault_delete", args=[house_key.pk])).status_code == 404
    assert VendorKey.objects.filter(pk=house_key.pk).exists()
