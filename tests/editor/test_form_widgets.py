"""What the operation form gives its scripts: each photo field's limits per provider, the
prompt's word limit, the palette's size, the translated words; and the painted mask the page
sends is read as the page means it."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image, ImageDraw

from accounts.models import User
from editor import images, operations
from editor.forms import OperationForm, file_limits
from editor.models import Job, Vendor, VendorKey
from editor.operations import CLASSIC_EXPRESSION_CARDS
from editor.vendors.ailabtools.expressions import CLASSIC_EXPRESSIONS
from tests.images import make_image

pytestmark = pytest.mark.django_db


def page(client: Client, slug: str, **headers: str) -> str:
    response = client.get(reverse("editor:operation", args=[slug]), headers=headers)
    assert response.status_code == 200
    return response.content.decode()


def attribute(content: str, name: str, attr: str) -> str:
    """The value of ``attr`` on the element named ``name``."""
    match = re.search(rf'<[^>]*name="{name}"[^>]*>', content)
    assert match, name
    found = re.search(rf'{attr}="([^"]*)"', match.group(0))
    assert found, (name, attr)
    return html.unescape(found.group(1))


@pytest.mark.parametrize("operation", operations.OPERATIONS, ids=lambda o: o.slug)
def test_every_photo_field_carries_each_providers_limits(
    client: Client, alice: User, operation: operations.Operation
) -> None:
    client.force_login(alice)
    content = page(client, operation.slug)
    for spec in operation.files:
        limits = json.loads(attribute(content, f"file_{spec.role}", "data-limits"))
        assert attribute(content, f"file_{spec.role}", "data-role") == spec.role
        takers = [p for p in operation.providers if spec in operation.files_for(p)]
        assert sorted(limits) == sorted(p.name for p in takers)
        for provider in takers:
            declared = provider.adapter.limits(provider.vendor_operation, spec.role)
            assert limits[provider.name] == {
                "vendor": provider.adapter.label,
                "formats": sorted(declared.formats),
                "max_bytes": declared.max_bytes,
                "max_width": declared.max_width,
                "max_height": declared.max_height,
                "min_width": declared.min_width,
                "min_height": declared.min_height,
            }


def test_limits_differ_by_provider_where_the_vendors_do() -> None:
    migration = operations.get("color_migration")
    photo = migration.files[0]
    limits = file_limits(migration, photo)
    assert limits["ailabtools"]["max_bytes"] == 3_000_000
    assert limits["local"]["max_width"] == 12_000
    assert limits["ailabtools"]["vendor"] == "AILabTools"


def test_prompt_and_palette_limits_are_on_their_fields(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert attribute(page(client, "extend"), "custom_prompt", "data-max-words") == "100"
    assert attribute(page(client, "color_migration"), "color_template", "data-max-items") == "7"


def test_each_page_loads_only_the_scripts_it_uses(client: Client, alice: User) -> None:
    client.force_login(alice)
    expected = {
        "colorize": set(),
        "retouch": set(),
        "extend": {"extender.js", "mask.js"},
        "color_migration": {"palette.js"},
        "expression": {"expression.js"},
    }
    optional = {"extender.js", "mask.js", "palette.js", "expression.js"}
    for slug, scripts in expected.items():
        content = page(client, slug)
        assert "js/operation.js" in content
        assert "js/upload.js" in content
        assert {name for name in optional if f"js/{name}" in content} == scripts, slug
        assert "<script>" not in content  # no inline script: static files only


def test_the_htmx_fragment_brings_the_words_the_scripts_show(client: Client, alice: User) -> None:
    client.force_login(alice)
    fragment = page(client, "extend", **{"HX-Request": "true"})
    assert fragment.lstrip().startswith("<form")
    assert 'data-string="mask_empty"' in fragment
    assert "Paint the area to fill first" in fragment
    assert "data-extender" in fragment
    # The widgets' markup waits hidden for its script; the plain fields stay usable without.
    assert re.search(r'<fieldset class="extender" data-extender hidden>', fragment)


def test_classic_expressions_have_a_card_each_and_the_select_stays(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    content = page(client, "expression")
    assert '<select name="service_choice"' in content
    assert '<select name="expression"' in content
    cards = re.findall(r'name="service_choice_card" value="(\d+)"', content)
    assert cards == ["10", "11", "12", "13", "14", "15", "16", "100"]
    assert "A wide, open smile that shows the teeth." in content
    assert "Search 117 expressions" in content


def test_the_form_still_checks_a_palette_typed_or_built(alice: User) -> None:
    form = OperationForm(
        operations.get("color_migration"),
        alice,
        {
            "provider": "local",
            "mode": "TEMPLATE",
            "degree": "0.4",
            "color_template": "#12ab34, DB0D0D;00ff00",
        },
        {"file_image": SimpleUploadedFile("p.jpg", make_image((100, 80)), "image/jpeg")},
    )
    assert form.is_valid(), form.errors
    assert form.submission is not None
    assert form.submission.params["color_template"] == ("12AB34", "DB0D0D", "00FF00")
    bad = OperationForm(
        operations.get("color_migration"),
        alice,
        {"provider": "local", "mode": "TEMPLATE", "degree": "0.4", "color_template": "red"},
        {"file_image": SimpleUploadedFile("p.jpg", make_image((100, 80)), "image/jpeg")},
    )
    assert not bad.is_valid()
    assert "color_template" in bad.errors


def painted_mask(size: tuple[int, int]) -> bytes:
    """What the page exports: opaque white strokes, transparent black elsewhere."""
    mask = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(mask).rectangle((10, 10, 39, 29), fill=(255, 255, 255, 255))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return buffer.getvalue()


def test_a_painted_mask_posted_with_the_form_is_read_as_painted(
    client: Client, alice: User
) -> None:
    key = VendorKey(owner=alice, vendor=Vendor.AILABTOOLS, label="key")
    key.set_secret("sandbox-key-0001")
    key.save()
    client.force_login(alice)
    response = client.post(
        reverse("editor:operation", args=["extend"]),
        {
            "provider": "ailabtools",
            **{side: "0.1" for side in ("top", "bottom", "left", "right")},
            "steps": "30",
            "strength": "0.8",
            "scale": "7",
            "seed": "-1",
            "max_width": "1920",
            "max_height": "1920",
            "extend_mode": "mask",  # the page's own mode switch: the server ignores it
            "file_image": SimpleUploadedFile("p.jpg", make_image((100, 80)), "image/jpeg"),
            "file_mask": SimpleUploadedFile("mask.png", painted_mask((100, 80)), "image/png"),
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    job = Job.objects.get()
    assert job.params["seed"] == -1
    with default_storage.open(job.inputs["mask"], "rb") as handle:
        fitted = images.fit_mask(handle.read(), (100, 80))
    mask = Image.open(io.BytesIO(fitted.data))
    assert mask.size == (100, 80)
    assert mask.getpixel((20, 20)) == 255
    assert mask.getpixel((80, 60)) == 0


def test_the_classic_expression_cards_cover_every_value_the_vendor_takes(
    client: Client, alice: User
) -> None:
    assert [int(value) for value, _name, _about in CLASSIC_EXPRESSION_CARDS] == list(
        CLASSIC_EXPRESSIONS
    )
    assert all(str(about) for _value, _name, about in CLASSIC_EXPRESSION_CARDS)
    # Paired by position: each label must still translate the vendor's name for its value.
    assert [str(name) for _value, name, _about in CLASSIC_EXPRESSION_CARDS] == list(
        CLASSIC_EXPRESSIONS.values()
    )
    client.force_login(alice)
    page = client.get(reverse("editor:operation", args=["expression"])).content.decode()
    assert "A wide, open smile that shows the teeth." in page
    assert "Big grin" in page
