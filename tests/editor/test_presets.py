"""Presets: named settings of one operation, a person's own or the studio's, applied in one
click (server-side with ``?preset=`` and in place by the page's script), saved from the form."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from editor.admin import PresetAdminForm
from editor.models import Job, Preset, Vendor
from tests.factories import make_job, make_key
from tests.images import photo

pytestmark = pytest.mark.django_db

MIGRATION = reverse("editor:operation", args=["color_migration"])
SAVE = reverse("editor:preset_save", args=["color_migration"])


def delete_url(preset: Preset) -> str:
    return reverse("editor:preset_delete", args=[preset.operation, preset.pk])


def preset(owner: User | None, name: str = "Warm", **params: Any) -> Preset:
    return Preset.objects.create(
        owner=owner,
        operation="color_migration",
        provider="local",
        name=name,
        params=params or {"mode": "AUTO", "degree": 0.75, "color_count": 3},
    )


def form_data(**changes: str) -> dict[str, str]:
    return {
        "provider": "local",
        "mode": "AUTO",
        "degree": "0.6",
        "color_count": "2",
        "color_template": "DB0D0D, 0E0CBB",
        "preset_name": "Soft",
        **changes,
    }


def test_saving_stores_only_the_settings_that_apply(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.post(SAVE, {**form_data(), "file_image": photo(), "evil": "1"})
    saved = Preset.objects.get()
    assert (saved.owner, saved.operation, saved.provider, saved.name) == (
        alice,
        "color_migration",
        "local",
        "Soft",
    )
    # The palette belongs to another mode; unknown names and files are never stored.
    assert saved.params == {"mode": "AUTO", "degree": 0.6, "color_count": 2}
    assert response.status_code == 302
    assert response["Location"] == f"{MIGRATION}?preset={saved.pk}"
    assert not Job.objects.exists()


def test_htmx_save_answers_with_the_presets_panel(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.post(SAVE, form_data(), headers={"HX-Request": "true"})
    content = response.content.decode()
    assert "<html" not in content
    assert 'id="operation-form"' not in content
    assert content.lstrip().startswith('<fieldset id="saved-presets"')
    assert "Saved the preset “Soft”." in content
    assert ">Soft<" in content


def test_saving_under_the_same_name_updates(client: Client, alice: User) -> None:
    client.force_login(alice)
    client.post(SAVE, form_data())
    response = client.post(SAVE, form_data(degree="0.9"), headers={"HX-Request": "true"})
    assert "Updated the preset “Soft”." in response.content.decode()
    assert Preset.objects.get().params["degree"] == 0.9


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"preset_name": "   "}, "This field is required."),
        ({"degree": "3"}, "Strength: Ensure this value is less than or equal to 1"),
        ({"mode": "TEMPLATE", "color_template": "zz"}, "zz is not a hex color"),
    ],
)
def test_invalid_settings_are_not_saved(
    client: Client, alice: User, changes: dict[str, str], message: str
) -> None:
    client.force_login(alice)
    response = client.post(SAVE, form_data(**changes), headers={"HX-Request": "true"})
    assert message in html.unescape(response.content.decode())
    assert not Preset.objects.exists()
    # Without JavaScript: the operation page again, keeping what was typed.
    response = client.post(SAVE, form_data(**changes))
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert message in page
    assert 'id="operation-form"' in page
    assert not Preset.objects.exists()


def test_enter_in_the_form_with_a_name_typed_saves_rather_than_runs(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    data = {**form_data(), "_submit": "Run", "file_image": photo()}
    response = client.post(MIGRATION, data, headers={"HX-Request": "true"})
    assert response["HX-Retarget"] == "#saved-presets"
    assert "Saved the preset" in response.content.decode()
    assert not Job.objects.exists()
    # The Run button itself (no "_submit") runs the job even with a name typed.
    response = client.post(MIGRATION, {**form_data(), "file_image": photo()})
    assert response.status_code == 302
    assert Job.objects.count() == 1


def test_applying_a_preset_fills_the_form(client: Client, alice: User) -> None:
    mine = preset(alice, mode="TEMPLATE", degree=0.35, color_template=["112233", "445566"])
    client.force_login(alice)
    page = client.get(MIGRATION, {"preset": str(mine.pk)}).content.decode()
    assert re.search(r'<option value="TEMPLATE"\s+selected>', page)
    assert 'value="0.35"' in page
    assert 'value="112233, 445566"' in page


def test_the_page_gives_each_preset_its_values_and_a_no_js_link(
    client: Client, alice: User
) -> None:
    mine = preset(alice)
    client.force_login(alice)
    page = client.get(MIGRATION).content.decode()
    match = re.search(r'href="([^"]+)" data-preset-values="([^"]+)"', page)
    assert match
    assert html.unescape(match.group(1)) == f"{MIGRATION}?preset={mine.pk}"
    assert json.loads(html.unescape(match.group(2))) == {
        "mode": "AUTO",
        "degree": 0.75,
        "color_count": 3,
        "provider": "local",
    }


def test_a_preset_and_an_earlier_job_combine(client: Client, alice: User) -> None:
    job = make_job(alice)
    job.operation, job.provider = "color_migration", "local"
    job.params = {"mode": "AUTO", "degree": 0.2, "color_count": 5}
    job.save()
    mine = preset(alice, mode="AUTO", degree=0.8)
    client.force_login(alice)
    page = client.get(MIGRATION, {"from": str(job.pk), "preset": str(mine.pk)}).content.decode()
    assert 'value="0.8"' in page  # the preset wins
    assert 'value="5"' in page  # the earlier job fills the rest
    assert f'name="from" value="{job.pk}"' in page
    # Applying another preset keeps the earlier job's photo.
    assert f"preset={mine.pk}&amp;from={job.pk}" in page


def test_studio_presets_are_for_everyone_own_ones_only_for_their_owner(
    client: Client, alice: User, bob: User
) -> None:
    studio = preset(None, "Studio warm")
    alices = preset(alice, "Alice's secret")
    client.force_login(bob)
    page = client.get(MIGRATION).content.decode()
    assert "Studio warm" in page
    assert "Alice&#x27;s secret" not in page
    assert client.get(MIGRATION, {"preset": str(studio.pk)}).status_code == 200
    assert client.get(MIGRATION, {"preset": str(alices.pk)}).status_code == 404
    assert client.get(MIGRATION, {"preset": "nope"}).status_code == 404


def test_only_the_owner_deletes_a_preset(client: Client, alice: User, bob: User) -> None:
    studio = preset(None, "Studio warm")
    alices = preset(alice)
    client.force_login(bob)
    assert client.post(delete_url(alices)).status_code == 404
    assert client.post(delete_url(alices), headers={"HX-Request": "true"}).status_code == 404
    client.force_login(alice)
    assert client.post(delete_url(studio)).status_code == 404
    page = client.get(MIGRATION).content.decode()
    assert delete_url(alices) in page
    assert delete_url(studio) not in page
    assert Preset.objects.count() == 2


def test_deleting_own_preset(client: Client, alice: User) -> None:
    first, second = preset(alice, "One"), preset(alice, "Two")
    client.force_login(alice)
    response = client.post(delete_url(first), headers={"HX-Request": "true"})
    content = response.content.decode()
    assert "<html" not in content
    assert "Deleted the preset “One”." in content
    assert ">Two<" in content
    response = client.post(delete_url(second), follow=True)
    assert response.redirect_chain[-1][0] == MIGRATION
    assert "Deleted the preset “Two”." in response.content.decode()
    assert not Preset.objects.exists()


def test_a_preset_of_another_operation_is_404(client: Client, alice: User) -> None:
    mine = preset(alice)
    client.force_login(alice)
    url = reverse("editor:operation", args=["colorize"])
    assert client.get(url, {"preset": str(mine.pk)}).status_code == 404
    wrong = reverse("editor:preset_delete", args=["colorize", mine.pk])
    assert client.post(wrong).status_code == 404


def test_preset_urls_need_login_and_post(client: Client, alice: User) -> None:
    mine = preset(alice)
    for url in (SAVE, delete_url(mine)):
        response = client.post(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    client.force_login(alice)
    assert client.get(SAVE).status_code == 405
    assert client.get(delete_url(mine)).status_code == 405


def test_a_preset_run_uses_its_settings(client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH)
    saved = Preset.objects.create(
        owner=alice, operation="colorize", provider="picwish", name="Web", params={"format": "webp"}
    )
    client.force_login(alice)
    url = reverse("editor:operation", args=["colorize"])
    page = client.get(url, {"preset": str(saved.pk)}).content.decode()
    assert re.search(r'<option value="webp"\s+selected>', page)


# --- Admin -----------------------------------------------------------------------------------


def admin_form(**data: str) -> PresetAdminForm:
    return PresetAdminForm(
        data={"name": "Studio", "operation": "color_migration", "provider": "", **data}
    )


def test_admin_form_accepts_declared_parameters() -> None:
    form = admin_form(params='{"mode": "TEMPLATE", "color_template": ["#db0d0d"], "degree": 1}')
    assert form.is_valid(), form.errors
    saved = form.save()
    assert saved.owner is None
    assert saved.params == {"mode": "TEMPLATE", "color_template": ["DB0D0D"], "degree": 1.0}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"params": '{"format": "png"}'}, "format is not a parameter of Color migration"),
        ({"params": '{"degree": 4}'}, "Strength: Ensure this value is less than or equal to 1"),
        ({"params": "[1, 2]"}, "Give the parameters as a JSON object."),
        # Found by tests/fuzz: a list of numbers was joined as text (a TypeError, a 500).
        ({"params": '{"color_template": [219, null]}'}, "Give the colors as text"),
        ({"provider": "picwish", "params": "{}"}, "Color migration runs on: local, ailabtools"),
        ({"operation": "nope", "params": "{}"}, "Select a valid choice"),
    ],
)
def test_admin_form_rejects_what_the_operation_does_not_declare(
    data: dict[str, str], message: str
) -> None:
    form = admin_form(**data)
    assert not form.is_valid()
    assert message in str(form.errors)


def test_admin_manages_every_preset(client: Client, alice: User) -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    mine = preset(alice, "Alice's")
    preset(None, "Everyone's")
    client.force_login(admin)
    page = client.get(reverse("admin:editor_preset_changelist")).content.decode()
    assert "Alice&#x27;s" in page
    assert "Everyone&#x27;s" in page
    assert "Studio (everyone)" in page
    assert client.get(reverse("admin:editor_preset_change", args=[mine.pk])).status_code == 200
    response = client.post(
        reverse("admin:editor_preset_add"),
        {"name": "Bright", "operation": "colorize", "provider": "", "params": '{"format": "png"}'},
    )
    assert response.status_code == 302
    assert Preset.objects.get(name="Bright").owner is None
