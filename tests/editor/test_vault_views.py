from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import User
from editor import vault
from editor.models import Vendor, VendorKey
from tests.factories import OTHER_SECRET, SECRET, make_key
from tests.pages import HTMX

pytestmark = pytest.mark.django_db


def key_urls(key: VendorKey) -> list[tuple[str, str]]:
    return [
        ("get", reverse("editor:vault_key", args=[key.pk])),
        ("get", reverse("editor:vault_edit", args=[key.pk])),
        ("post", reverse("editor:vault_edit", args=[key.pk])),
        ("post", reverse("editor:vault_delete", args=[key.pk])),
    ]


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


# --- Access -------------------------------------------------------------------------------------


def test_every_vault_url_needs_login(client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    urls = [
        ("get", reverse("editor:vault")),
        ("post", reverse("editor:vault_add")),
        *key_urls(key),
    ]
    for method, url in urls:
        response = getattr(client, method)(url, {"label": "x", "secret": OTHER_SECRET})
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url
    assert VendorKey.objects.get().label == "Work"


def test_someone_elses_key_is_a_404_for_every_url(client: Client, alice: User, bob: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    client.force_login(bob)
    for method, url in key_urls(key):
        for extra in ({}, HTMX):
            response = getattr(client, method)(
                url, {"label": "Bob's now", "secret": OTHER_SECRET}, **extra
            )
            assert response.status_code == 404, (method, url)
    key.refresh_from_db()
    assert key.label == "Work"
    assert vault.decrypt(key.ciphertext) == SECRET


def test_an_unknown_key_is_a_404(alice_client: Client) -> None:
    url = reverse("editor:vault_key", args=["00000000-0000-0000-0000-000000000000"])
    assert alice_client.get(url, **HTMX).status_code == 404


def test_methods_are_restricted(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    assert alice_client.post(reverse("editor:vault")).status_code == 405
    assert alice_client.get(reverse("editor:vault_add")).status_code == 405
    assert alice_client.get(reverse("editor:vault_delete", args=[key.pk])).status_code == 405
    assert alice_client.post(reverse("editor:vault_key", args=[key.pk])).status_code == 405


# --- The page -----------------------------------------------------------------------------------


def test_the_empty_vault_explains_what_a_key_is(alice_client: Client) -> None:
    response = alice_client.get(reverse("editor:vault"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "No keys yet" in content
    assert "stored encrypted" in content
    assert 'name="secret"' in content
    assert 'type="password"' in content
    assert 'autocomplete="off"' in content
    assert 'aria-current="page">Vault<' in content


def test_the_page_lists_only_your_keys(alice_client: Client, alice: User, bob: User) -> None:
    key = make_key(alice, Vendor.PICWISH, SECRET, label="Studio account")
    key.last_error = "The vendor says this key has no credits left."
    key.save()
    make_key(bob, Vendor.AILABTOOLS, "sk-bob-0000000011112222", label="Bob's key")
    content = alice_client.get(reverse("editor:vault")).content.decode()
    assert "Studio account" in content
    assert "PicWish" in content
    assert "••••b8a6" in content
    assert "never" in content
    assert "no credits left" in content
    assert "Bob&#x27;s key" not in content
    assert "Bob's key" not in content
    assert "No keys yet" not in content


def test_the_add_form_offers_both_vendors_and_labels_every_input(alice_client: Client) -> None:
    content = alice_client.get(reverse("editor:vault")).content.decode()
    assert '<option value="ailabtools">AILabTools</option>' in content
    assert '<option value="picwish">PicWish</option>' in content
    for field in ("vendor", "label", "secret"):
        assert f'<label for="vault-add-{field}">' in content
        assert f'id="vault-add-{field}"' in content


# --- Adding -------------------------------------------------------------------------------------


def test_add_by_plain_post_redirects_with_a_message(alice_client: Client, alice: User) -> None:
    response = alice_client.post(
        reverse("editor:vault_add"),
        {"vendor": "picwish", "label": "  Personal  ", "secret": f"  {SECRET}\n"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("editor:vault")
    key = VendorKey.objects.get()
    assert (key.owner, key.vendor, key.label) == (alice, "picwish", "Personal")
    assert key.last_four == "b8a6"
    assert vault.decrypt(key.ciphertext) == SECRET
    assert SECRET not in key.ciphertext
    [message] = get_messages(response.wsgi_request)
    assert "Personal" in str(message)

    page = alice_client.get(reverse("editor:vault")).content.decode()
    assert "••••b8a6" in page
    assert "Personal" in page
    assert SECRET not in page


def test_add_by_htmx_returns_the_fresh_form_and_the_list(alice_client: Client) -> None:
    response = alice_client.post(
        reverse("editor:vault_add"),
        {"vendor": "ailabtools", "label": "Work", "secret": SECRET},
        **HTMX,
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert 'id="vault-add"' in content
    assert 'id="vault-keys"' in content
    assert 'hx-swap-oob="true"' in content
    assert "••••b8a6" in content
    assert SECRET not in content
    assert 'name="label" maxlength="100"' in content  # the form is blank again
    assert VendorKey.objects.count() == 1
    # No message left over for the next full page: the fragment said it already.
    assert not list(get_messages(response.wsgi_request))


def test_an_empty_label_gets_a_default_one_per_vendor(alice_client: Client) -> None:
    for secret in (SECRET, OTHER_SECRET):
        alice_client.post(
            reverse("editor:vault_add"), {"vendor": "ailabtools", "label": "", "secret": secret}
        )
    alice_client.post(
        reverse("editor:vault_add"), {"vendor": "picwish", "label": "", "secret": SECRET}
    )
    assert sorted(VendorKey.objects.values_list("label", flat=True)) == [
        "AILabTools key",
        "AILabTools key 2",
        "PicWish key",
    ]


@pytest.mark.parametrize(
    ("secret", "error"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("short12", "at least 8 characters"),
        ("x" * 513, "at most 512 characters"),
        ("sk-with space-123456", "without spaces"),
        ("sk-with\ttab-1234567", "without spaces"),
        ("sk-kéy-12345678", "only visible characters"),
        ("sk-\x00null-12345678", "Null characters are not allowed."),
    ],
)
def test_add_rejects_a_bad_secret(alice_client: Client, secret: str, error: str) -> None:
    response = alice_client.post(
        reverse("editor:vault_add"),
        {"vendor": "ailabtools", "label": "Work", "secret": secret},
        **HTMX,
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert error in content
    assert 'aria-invalid="true"' in content
    assert not VendorKey.objects.exists()
    if secret.strip():
        assert secret not in content


def test_a_secret_of_exactly_8_and_512_characters_is_fine(alice_client: Client) -> None:
    for label, secret in (("short", "12345678"), ("long", "y" * 512)):
        alice_client.post(
            reverse("editor:vault_add"), {"vendor": "picwish", "label": label, "secret": secret}
        )
    assert VendorKey.objects.count() == 2


def test_add_rejects_a_bad_vendor_and_a_long_label(alice_client: Client) -> None:
    response = alice_client.post(
        reverse("editor:vault_add"), {"vendor": "openai", "label": "L" * 101, "secret": SECRET}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" in content  # a plain post with errors gets the whole page back
    assert "Select a valid choice" in content
    assert "at most 100 characters" in content
    assert SECRET not in content
    assert not VendorKey.objects.exists()


def test_add_with_a_taken_label_is_a_friendly_error(alice_client: Client, alice: User) -> None:
    make_key(alice, Vendor.PICWISH, SECRET, label="Work")
    response = alice_client.post(
        reverse("editor:vault_add"),
        {"vendor": "picwish", "label": "Work", "secret": OTHER_SECRET},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Another of your PicWish keys already has this label." in response.content.decode()
    assert OTHER_SECRET not in response.content.decode()
    assert VendorKey.objects.count() == 1
    # The same label for the other vendor is fine.
    alice_client.post(
        reverse("editor:vault_add"),
        {"vendor": "ailabtools", "label": "Work", "secret": OTHER_SECRET},
    )
    assert VendorKey.objects.count() == 2


def test_labels_are_per_owner(alice_client: Client, bob: User) -> None:
    make_key(bob, Vendor.AILABTOOLS, SECRET, label="Work")
    alice_client.post(
        reverse("editor:vault_add"), {"vendor": "ailabtools", "label": "Work", "secret": SECRET}
    )
    assert VendorKey.objects.filter(label="Work").count() == 2


def test_the_secret_never_reaches_the_logs(
    alice_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        alice_client.post(
            reverse("editor:vault_add"),
            {"vendor": "ailabtools", "label": "Work", "secret": SECRET},
            **HTMX,
        )
        alice_client.post(
            reverse("editor:vault_add"),
            {"vendor": "ailabtools", "label": "Work", "secret": OTHER_SECRET},
        )
    assert VendorKey.objects.count() == 1
    assert SECRET not in caplog.text
    assert OTHER_SECRET not in caplog.text


def test_error_reports_hide_the_secret(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    for url in (reverse("editor:vault_add"), reverse("editor:vault_edit", args=[key.pk])):
        response = alice_client.post(url, {"vendor": "picwish", "label": "X", "secret": SECRET})
        assert response.wsgi_request.sensitive_post_parameters == ("secret",)  # type: ignore[attr-defined]


# --- The row, editing, replacing ----------------------------------------------------------------


def test_the_row_fragment(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    url = reverse("editor:vault_key", args=[key.pk])
    response = alice_client.get(url, **HTMX)
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert f'id="key-{key.pk}"' in content
    assert "••••b8a6" in content
    assert SECRET not in content

    plain = alice_client.get(url)
    assert plain.status_code == 302
    assert plain["Location"] == f"{reverse('editor:vault')}#key-{key.pk}"


def test_the_edit_form_never_holds_the_secret(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    url = reverse("editor:vault_edit", args=[key.pk])
    fragment = alice_client.get(url, **HTMX).content.decode()
    assert "<html" not in fragment
    assert f'<label for="key-{key.pk}-label">' in fragment
    assert f'<label for="key-{key.pk}-secret">' in fragment
    assert 'value="Work"' in fragment
    assert 'type="password" name="secret" autocomplete="off"' in fragment
    page = alice_client.get(url).content.decode()
    assert "<html" in page
    assert f'id="key-{key.pk}-secret"' in page
    for content in (fragment, page):
        assert SECRET not in content
        assert key.ciphertext not in content


def test_relabel_by_htmx_returns_the_row(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    before = key.ciphertext
    response = alice_client.post(
        reverse("editor:vault_edit", args=[key.pk]), {"label": "Renamed", "secret": ""}, **HTMX
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert "Renamed" in content
    assert 'name="label"' not in content  # back to the row, out of edit mode
    key.refresh_from_db()
    assert key.label == "Renamed"
    assert key.ciphertext == before


def test_relabel_by_plain_post_redirects(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    response = alice_client.post(reverse("editor:vault_edit", args=[key.pk]), {"label": "Renamed"})
    assert response.status_code == 302
    assert response["Location"] == reverse("editor:vault")
    [message] = get_messages(response.wsgi_request)
    assert "Renamed" in str(message)
    key.refresh_from_db()
    assert key.label == "Renamed"


def test_replace_the_secret(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    key.last_error = "Invalid API key."
    key.save()
    response = alice_client.post(
        reverse("editor:vault_edit", args=[key.pk]),
        {"label": "Work", "secret": f" {OTHER_SECRET} "},
        **HTMX,
    )
    content = response.content.decode()
    assert "••••9876" in content
    assert "replaced" in content
    assert OTHER_SECRET not in content
    assert SECRET not in content
    key.refresh_from_db()
    assert key.last_four == "9876"
    assert key.last_error == ""
    assert vault.decrypt(key.ciphertext) == OTHER_SECRET


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"label": "", "secret": ""}, "This field is required."),
        (
            {"label": "Taken", "secret": ""},
            "Another of your AILabTools keys already has this label.",
        ),
        ({"label": "Work", "secret": "short"}, "at least 8 characters"),
    ],
)
def test_edit_errors_keep_the_row_in_edit_mode(
    alice_client: Client, alice: User, data: dict[str, str], error: str
) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    make_key(alice, Vendor.AILABTOOLS, OTHER_SECRET, label="Taken")
    url = reverse("editor:vault_edit", args=[key.pk])
    fragment = alice_client.post(url, data, **HTMX).content.decode()
    assert "<html" not in fragment
    assert error in fragment
    assert 'name="label"' in fragment
    page = alice_client.post(url, data)
    assert page.status_code == 200
    assert error in page.content.decode()
    key.refresh_from_db()
    assert key.label == "Work"
    assert vault.decrypt(key.ciphertext) == SECRET


def test_the_same_label_for_the_same_key_is_fine(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    response = alice_client.post(reverse("editor:vault_edit", args=[key.pk]), {"label": "Work"})
    assert response.status_code == 302


# --- Deleting -----------------------------------------------------------------------------------


def test_delete_by_htmx_returns_the_list(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    other = make_key(alice, Vendor.AILABTOOLS, OTHER_SECRET, label="Other")
    response = alice_client.post(reverse("editor:vault_delete", args=[key.pk]), **HTMX)
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content
    assert 'id="vault-keys"' in content
    assert "deleted" in content
    assert f'id="key-{other.pk}"' in content
    assert f'id="key-{key.pk}"' not in content
    assert list(VendorKey.objects.all()) == [other]

    last = alice_client.post(reverse("editor:vault_delete", args=[other.pk]), **HTMX)
    assert "No keys yet" in last.content.decode()


def test_delete_by_plain_post_redirects(alice_client: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    response = alice_client.post(reverse("editor:vault_delete", args=[key.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("editor:vault")
    [message] = get_messages(response.wsgi_request)
    assert "Work" in str(message)
    assert not VendorKey.objects.exists()


def test_delete_buttons_ask_first(alice_client: Client, alice: User) -> None:
    make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    assert "hx-confirm=" in alice_client.get(reverse("editor:vault")).content.decode()


# --- The secret stays secret --------------------------------------------------------------------


def test_no_template_mentions_the_ciphertext() -> None:
    for directory in settings.TEMPLATES[0]["DIRS"]:
        for template in Path(directory).rglob("*.html"):
            assert "ciphertext" not in template.read_text(), template


def test_the_secret_never_appears_after_saving(client: Client, alice: User) -> None:
    client.force_login(alice)
    responses = [
        client.post(
            reverse("editor:vault_add"),
            {"vendor": "ailabtools", "label": "Work", "secret": SECRET},
            **HTMX,
        )
    ]
    key = VendorKey.objects.get()
    responses += [
        client.get(reverse("editor:vault")),
        client.get(reverse("editor:vault_key", args=[key.pk]), **HTMX),
        client.get(reverse("editor:vault_edit", args=[key.pk])),
        client.get(reverse("editor:vault_edit", args=[key.pk]), **HTMX),
        client.post(reverse("editor:vault_edit", args=[key.pk]), {"label": "W2"}, **HTMX),
    ]
    assert SECRET not in str(key)
    assert SECRET not in repr(key)

    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-the-admin-1")
    client.force_login(admin)
    responses += [
        client.get(reverse("admin:editor_vendorkey_changelist")),
        client.get(reverse("admin:editor_vendorkey_change", args=[key.pk])),
        client.get(reverse("admin:editor_vendorkey_history", args=[key.pk])),
        client.get(reverse("admin:editor_vendorkey_delete", args=[key.pk])),
    ]
    for response in responses:
        assert response.status_code == 200, response.wsgi_request.path
        content = response.content.decode()
        assert SECRET not in content, response.wsgi_request.path
        assert key.ciphertext not in content, response.wsgi_request.path


# --- Admin --------------------------------------------------------------------------------------


@pytest.fixture
def admin_client_(client: Client) -> Client:
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-the-admin-1")
    client.force_login(admin)
    return client


def test_admin_lists_keys_masked(admin_client_: Client, alice: User) -> None:
    make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    changelist = admin_client_.get(reverse("admin:editor_vendorkey_changelist"))
    content = changelist.content.decode()
    assert "••••b8a6" in content
    assert "alice" in content
    search = admin_client_.get(reverse("admin:editor_vendorkey_changelist"), {"q": "alice"})
    assert "••••b8a6" in search.content.decode()


def test_admin_can_relabel_but_not_touch_the_secret(admin_client_: Client, alice: User) -> None:
    key = make_key(alice, Vendor.AILABTOOLS, SECRET, label="Work")
    url = reverse("admin:editor_vendorkey_change", args=[key.pk])
    page = admin_client_.get(url).content.decode()
    assert 'name="label"' in page
    assert 'name="ciphertext"' not in page
    assert 'name="owner"' not in page
    response = admin_client_.post(
        url, {"label": "Relabelled", "ciphertext": "forged", "last_four": "0000"}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.label == "Relabelled"
    assert key.last_four == "b8a6"
    assert vault.decrypt(key.ciphertext) == SECRET


def test_admin_shows_jobs_and_results_read_only(admin_client_: Client) -> None:
    for name in ("job", "result"):
        assert admin_client_.get(reverse(f"admin:editor_{name}_changelist")).status_code == 200
        assert admin_client_.get(reverse(f"admin:editor_{name}_add")).status_code == 403


def test_a_label_that_would_display_reversed_is_kept_without_its_override(
    alice_client: Client,
) -> None:
    """U+202E would show "invoice‮gpj.exe" as "invoiceexe.jpg": the characters that reorder
    text are removed from what a person types, wherever it is shown later."""
    alice_client.post(
        reverse("editor:vault_add"),
        {"vendor": "picwish", "label": "invoice\u202egpj.exe", "secret": SECRET},
    )
    assert VendorKey.objects.get().label == "invoicegpj.exe"
    page = alice_client.get(reverse("editor:vault")).content.decode()
    assert "invoicegpj.exe" in page
    assert "\u202e" not in page
