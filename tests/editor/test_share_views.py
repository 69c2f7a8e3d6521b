"""Share links: making, listing, copying and revoking them, and what the public sees."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import jobs
from editor.models import Job, ShareLink, share_token_hash
from limiter import core as limiter
from tests.factories import made_link, make_job, make_user
from tests.images import camera_jpeg, has_gps
from tests.pages import new_url, without_csrf

pytestmark = pytest.mark.django_db


def page_url(token: str) -> str:
    return reverse("editor:shared", args=[token])


def file_url(token: str, kind: str = "result") -> str:
    return reverse("editor:shared_file", args=[token, kind])


def text(response: Any) -> str:
    assert isinstance(response, HttpResponse)
    return response.content.decode()


# --- Making a link -------------------------------------------------------------------------------


def test_the_form_shows_the_result_and_the_choices(client: Client, alice: User) -> None:
    result = make_job(alice).results.get()
    client.force_login(alice)
    response = client.get(new_url(result))
    assert response.status_code == 200
    page = text(response)
    assert reverse("editor:result_thumbnail", args=[result.job_id, result.pk]) in page
    for label in ("1 hour", "1 day", "7 days", "30 days", "Until I revoke it"):
        assert label in page
    assert 'name="password"' in page
    assert 'name="include_original"' in page


def test_making_a_link_stores_only_a_hash_and_lists_the_link(client: Client, alice: User) -> None:
    result = make_job(alice).results.get()
    client.force_login(alice)
    before = timezone.now()
    response = client.post(new_url(result), {"lifetime": "1h", "password": ""})
    link = ShareLink.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('editor:shares')}?made={link.pk}#share-{link.pk}"
    token = link.token
    assert len(token) == 43  # 32 random bytes, URL-safe base64
    assert link.token_hash == share_token_hash(token) != token
    assert token not in link.token_ciphertext
    assert link.owner == alice
    assert link.result == result
    assert not link.has_password
    assert link.expires_at is not None
    assert (
        before + dt.timedelta(hours=1) <= link.expires_at <= timezone.now() + dt.timedelta(hours=1)
    )

    listing = text(client.get(response["Location"]))
    assert f"http://testserver/s/{token}/" in listing
    assert "Link made." in listing
    assert "share-row--made" in listing


def test_a_link_that_never_expires_and_one_with_a_password(client: Client, alice: User) -> None:
    result = make_job(alice).results.get()
    client.force_login(alice)
    client.post(
        new_url(result), {"lifetime": "never", "password": "s3cret pass", "include_original": "on"}
    )
    link = ShareLink.objects.get()
    assert link.expires_at is None
    assert link.include_original
    assert link.has_password
    assert "s3cret pass" not in link.password_hash
    assert link.check_password("s3cret pass")
    assert not link.check_password("s3cret")


def test_a_bad_choice_gets_the_form_back(client: Client, alice: User) -> None:
    result = make_job(alice).results.get()
    client.force_login(alice)
    response = client.post(new_url(result), {"lifetime": "forever"})
    assert response.status_code == 400
    assert "Select a valid choice." in text(response)
    assert not ShareLink.objects.exists()


def test_only_a_finished_job_has_something_to_share(client: Client, alice: User) -> None:
    result = make_job(alice).results.get()
    Job.objects.filter(pk=result.job_id).update(status="running")
    client.force_login(alice)
    assert client.get(new_url(result)).status_code == 404


def test_the_job_page_offers_share_for_each_result(client: Client, alice: User) -> None:
    result = make_job(alice).results.get()
    client.force_login(alice)
    page = text(client.get(reverse("editor:job", args=[result.job_id])))
    assert f'href="{new_url(result)}"' in page


# --- The owner's list ----------------------------------------------------------------------------


def test_the_list_shows_each_link_with_its_state(client: Client, alice: User) -> None:
    live, live_token = made_link(alice, password="pw", include_original=True)
    expired, expired_token = made_link(alice)
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    revoked, revoked_token = made_link(alice)
    revoked.revoke()
    ShareLink.objects.filter(pk=live.pk).update(views=7)
    client.force_login(alice)
    page = text(client.get(reverse("editor:shares")))
    assert f"/s/{live_token}/" in page
    # A dead link's address is not offered for copying any more.
    assert expired_token not in page
    assert revoked_token not in page
    for state in ("Live", "Expired", "Revoked"):
        assert state in page
    assert "<dd>7</dd>" in page


def test_the_list_costs_the_same_queries_for_3_or_30_links(client: Client, alice: User) -> None:
    client.force_login(alice)
    results = [make_job(alice).results.get() for _ in range(3)]
    for result in results:
        ShareLink.create(result, lifetime=None)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("editor:shares"))
    for number in range(27):
        ShareLink.create(results[number % 3], lifetime=None)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("editor:shares"))
    assert len(many.captured_queries) == len(few.captured_queries) <= 6
    assert text(response).count('class="card share-row') == 25  # one page
    assert "Page 1 of 2" in text(response)


def test_the_list_shows_only_the_persons_own_links(client: Client, alice: User, bob: User) -> None:
    _link, token = made_link(bob)
    client.force_login(alice)
    page = text(client.get(reverse("editor:shares")))
    assert token not in page
    assert "You have not shared anything yet." in page


def test_revoking_a_link_stops_it_at_once(client: Client, alice: User) -> None:
    link, token = made_link(alice)
    assert client.get(page_url(token)).status_code == 200
    client.force_login(alice)
    response = client.post(reverse("editor:share_revoke", args=[link.pk]))
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
    client.logout()
    assert client.get(page_url(token)).status_code == 404
    assert client.get(file_url(token)).status_code == 404


def test_revoking_by_htmx_swaps_the_row(client: Client, alice: User) -> None:
    link, token = made_link(alice)
    client.force_login(alice)
    response = client.post(reverse("editor:share_revoke", args=[link.pk]), HTTP_HX_REQUEST="true")
    page = text(response)
    assert page.lstrip().startswith(f'<li id="share-{link.pk}"')
    assert "Revoked" in page
    assert token not in page
    assert "<html" not in page


def test_someone_else_cannot_revoke(client: Client, alice: User, bob: User) -> None:
    link, _token = made_link(alice)
    client.force_login(bob)
    assert client.post(reverse("editor:share_revoke", args=[link.pk])).status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_deleting_the_job_deletes_its_links(alice: User) -> None:
    link, token = made_link(alice)
    assert link.result is not None
    jobs.delete(link.result.job)
    assert not ShareLink.objects.exists()
    assert ShareLink.find(token) is None


# --- What the public sees ------------------------------------------------------------------------


def test_anyone_with_the_link_sees_the_result(client: Client, alice: User) -> None:
    link, token = made_link(alice)
    response = client.get(page_url(token))
    assert response.status_code == 200
    page = text(response)
    assert f'src="{file_url(token)}"' in page
    assert f'href="{file_url(token)}?download=1"' in page
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert f'<meta property="og:image" content="http://testserver{file_url(token)}">' in page
    assert f'<meta property="og:url" content="http://testserver{page_url(token)}">' in page
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "same-origin"  # the address never goes to other sites
    assert "no-store" in response["Cache-Control"]
    # Nothing else of the owner's: no job page, no before photo unless allowed.
    assert link.result is not None
    assert reverse("editor:job", args=[link.result.job_id]) not in page
    assert file_url(token, "original") not in page
    link.refresh_from_db()
    assert link.views == 1
    assert link.last_viewed_at is not None


def test_the_image_is_served_with_a_fixed_type_and_no_gps(client: Client, alice: User) -> None:
    link, token = made_link(alice, include_original=True)
    result = link.result
    assert result is not None
    data = camera_jpeg()
    assert has_gps(data)
    result.file = default_storage.save("jobs/camera-result.jpg", ContentFile(data))
    result.save()
    job = result.job
    job.inputs = {"image": default_storage.save("jobs/camera-input.jpg", ContentFile(data))}
    job.save()
    for kind in ("result", "original"):
        response = client.get(file_url(token, kind))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert not has_gps(response.content)
    download = client.get(f"{file_url(token)}?download=1")
    assert re.fullmatch(
        r'attachment; filename="colorize-\d{4}-\d\d-\d\d-[0-9a-f]{8}\.jpg"',
        download["Content-Disposition"],
    )
    assert not has_gps(download.content)


def test_the_original_only_when_the_owner_allowed_it(client: Client, alice: User) -> None:
    _link, token = made_link(alice)
    assert client.get(file_url(token, "original")).status_code == 404
    _link, allowed = made_link(alice, include_original=True)
    page = text(client.get(page_url(allowed)))
    assert f'src="{file_url(allowed, "original")}"' in page
    assert "data-compare" in page
    assert client.get(file_url(allowed, "original")).status_code == 200
    assert client.get(file_url(allowed, "thumbnail")).status_code == 404


def test_unknown_expired_and_revoked_links_get_the_same_404(client: Client, alice: User) -> None:
    expired, expired_token = made_link(alice)
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    revoked, revoked_token = made_link(alice)
    revoked.revoke()
    unknown = "A" * 43
    answers = [client.get(page_url(token)) for token in (unknown, expired_token, revoked_token)]
    assert {response.status_code for response in answers} == {404}
    # The same page, but for the CSRF token every page masks afresh.
    assert len({without_csrf(response) for response in answers}) == 1
    assert "This link does not open" in text(answers[0])
    for token in (unknown, expired_token, revoked_token):
        for kind in ("result", "original"):
            missing = client.get(file_url(token, kind))
            assert missing.status_code == 404
            assert without_csrf(missing) == without_csrf(answers[0])
    expired.refresh_from_db()
    assert expired.views == 0


def test_a_link_expires_on_its_own(client: Client, alice: User) -> None:
    link, token = made_link(alice, lifetime=dt.timedelta(hours=1))
    assert client.get(page_url(token)).status_code == 200
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    assert client.get(page_url(token)).status_code == 404


# --- Passwords -----------------------------------------------------------------------------------


def test_a_password_link_shows_nothing_before_the_password(client: Client, alice: User) -> None:
    link, token = made_link(alice, password="open sesame")
    response = client.get(page_url(token))
    assert response.status_code == 200
    page = text(response)
    assert "Password needed" in page
    assert file_url(token) not in page
    assert "og:image" not in page
    assert client.get(file_url(token)).status_code == 404
    link.refresh_from_db()
    assert link.views == 0


def test_the_right_password_opens_the_page_for_this_browser(client: Client, alice: User) -> None:
    _link, token = made_link(alice, password="open sesame")
    wrong = client.post(page_url(token), {"password": "open"})
    assert wrong.status_code == 403
    assert "That password is not right." in text(wrong)
    right = client.post(page_url(token), {"password": "open sesame"})
    assert right.status_code == 302
    assert right["Location"] == page_url(token)
    page = text(client.get(page_url(token)))
    assert f'src="{file_url(token)}"' in page
    assert "og:image" not in page  # previews fetch without a session
    assert client.get(file_url(token)).status_code == 200
    assert Client().get(file_url(token)).status_code == 404  # another browser


def test_wrong_passwords_are_slowed_down(
    client: Client, alice: User, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The delays, the per-link guard and the owner's count: tests/editor/test_share_passwords.py.
    # The clock stands still (the database store on Python's clock), so a slow machine never
    # lets the one-second delay pass between the third guess and the fourth try.
    settings.RATE_LIMIT_URL = ""
    monkeypatch.setattr(limiter.DatabaseStore, "_now", staticmethod(time.time))
    with time_machine.travel(timezone.now(), tick=False):
        _wrong_passwords_are_slowed_down(client, alice)


def _wrong_passwords_are_slowed_down(client: Client, alice: User) -> None:
    _link, token = made_link(alice, password="open sesame")
    for _ in range(3):
        assert client.post(page_url(token), {"password": "guess"}).status_code == 403
    blocked = client.post(page_url(token), {"password": "open sesame"})
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "1"
    assert "Too many wrong passwords. You can try again in 1 second." in text(blocked)
    assert client.get(file_url(token)).status_code == 404


def test_right_passwords_do_not_use_up_the_limit(client: Client, alice: User) -> None:
    _link, token = made_link(alice, password="open sesame")
    for _ in range(8):
        assert Client().post(page_url(token), {"password": "open sesame"}).status_code == 302


def test_the_limit_is_per_link(client: Client, alice: User) -> None:
    _link, token = made_link(alice, password="one")
    _other, other_token = made_link(alice, password="two")
    for _ in range(5):
        client.post(page_url(token), {"password": "guess"})
    assert client.post(page_url(other_token), {"password": "two"}).status_code == 302


# --- Secrets stay out of the admin ---------------------------------------------------------------


def test_the_admin_shows_links_but_never_their_tokens(client: Client, alice: User) -> None:
    link, token = made_link(alice, password="pw")
    admin = make_user("admin")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    listing = text(client.get(reverse("admin:editor_sharelink_changelist")))
    detail = text(client.get(reverse("admin:editor_sharelink_change", args=[link.pk])))
    assert "Failed passwords" in listing
    assert "Last failed password at" in listing
    for page in (listing, detail):
        assert str(link.pk) in page
        assert token not in page
        assert link.token_hash not in page
        assert link.token_ciphertext not in page
        assert link.password_hash not in page
    client.post(
        reverse("admin:editor_sharelink_changelist"),
        {"action": "revoke", "_selected_action": [str(link.pk)]},
    )
    link.refresh_from_db()
    assert link.revoked_at is not None
