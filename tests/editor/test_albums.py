"""Albums: collecting, ordering and taking out results (editor.albums), their pages, their
links (editor.shares, the same links as one result's) and what a visitor of a link sees: the
album's photos only, without GPS, one at a time or as a ZIP that is streamed."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent, User
from editor import albums, jobs, shares
from editor.models import Album, JobStatus, Result, ShareLink
from tests.factories import camera_job, made_link, make_admin, make_album, make_job
from tests.images import has_gps
from tests.pages import without_csrf

pytestmark = pytest.mark.django_db


def order_of(album: Album) -> list[str]:
    return [str(item.result_id) for item in albums.items(album)]


def text(response: Any) -> str:
    return str(response.content.decode())


# --- The domain ----------------------------------------------------------------------------------


def test_results_are_added_at_the_end_once(alice: User) -> None:
    album = make_album(alice, photos=2)
    first, second = order_of(album)
    extra = make_job(alice).results.get()
    item = albums.add(album, extra)
    assert item.position == 2
    assert albums.add(album, extra).pk == item.pk  # already in: stays where it is
    assert order_of(album) == [first, second, str(extra.pk)]


def test_only_own_finished_results_go_in(alice: User, bob: User) -> None:
    album = albums.create(alice, "Mine")
    with pytest.raises(albums.AlbumError):
        albums.add(album, make_job(bob).results.get())
    running = make_job(alice)
    running.status = JobStatus.RUNNING
    running.save()
    with pytest.raises(albums.AlbumError):
        albums.add(album, running.results.get())
    assert not album.items.exists()


def test_titles_are_checked(alice: User) -> None:
    with pytest.raises(albums.AlbumError):
        albums.create(alice, "   ")
    with pytest.raises(albums.AlbumError):
        albums.create(alice, "x" * 121)
    assert albums.create(alice, "  Summer\u202e ").title == "Summer"


def test_moving_and_reordering(alice: User) -> None:
    album = make_album(alice, photos=3)
    a, b, c = (item.result for item in albums.items(album))
    assert albums.move(album, c, -1)
    assert order_of(album) == [str(a.pk), str(c.pk), str(b.pk)]
    assert not albums.move(album, a, -1)  # already first
    albums.reorder(album, [str(b.pk), str(a.pk), str(c.pk)])
    assert order_of(album) == [str(b.pk), str(a.pk), str(c.pk)]
    with pytest.raises(albums.AlbumError):
        albums.reorder(album, [str(b.pk), str(a.pk)])  # one missing
    with pytest.raises(albums.AlbumError):
        albums.reorder(album, [str(b.pk), str(a.pk), str(a.pk)])
    assert albums.remove(album, a)
    assert not albums.remove(album, a)
    assert order_of(album) == [str(b.pk), str(c.pk)]


def test_deleting_a_result_takes_it_out_and_the_album_says_so(client: Client, alice: User) -> None:
    album = make_album(alice, photos=2)
    for item in list(albums.items(album)):
        jobs.delete(item.result.job)
    album.refresh_from_db()
    assert not album.items.exists()
    assert album.deleted_results == 2
    client.force_login(alice)
    assert "data-album-emptied" in text(client.get(reverse("editor:album", args=[album.pk])))
    _link, token = ShareLink.create(album, lifetime=dt.timedelta(days=1))
    page = text(Client().get(reverse("editor:shared", args=[token])))
    assert "were deleted by their owner" in page


def test_revoke_all_for_an_album_or_everything(rf: Any, alice: User, bob: User) -> None:
    request = rf.post("/")
    request.user = alice
    album, other = make_album(alice, photos=1), make_album(alice, photos=1, title="Other")
    for _ in range(2):
        shares.make(request, album, lifetime="7d")
    shares.make(request, other, lifetime="7d")
    shares.make(request, make_job(alice).results.get(), lifetime="1d")
    bobs = make_album(bob, photos=1)
    ShareLink.create(bobs, lifetime=None)
    assert shares.revoke_all(request, alice, album=album) == 2
    assert ShareLink.objects.live().filter(owner=alice).count() == 2
    assert shares.revoke_all(request, alice) == 2
    assert not ShareLink.objects.live().filter(owner=alice).exists()
    assert ShareLink.objects.live().filter(owner=bob).count() == 1
    revoked = AuditEvent.objects.filter(action=AuditAction.SHARE_REVOKED)
    assert revoked.count() == 4
    assert all("album" in event.details for event in revoked)


def test_a_link_opens_a_result_or_an_album_never_both(alice: User) -> None:
    album = make_album(alice, photos=1)
    link, _token = ShareLink.create(album, lifetime=None, include_original=True, name="Gran")
    assert link.album_id == album.pk
    assert link.result_id is None
    assert link.name == "Gran"
    assert not link.include_original  # never from an album: shares.make and the model agree
    with transaction.atomic(), pytest.raises(IntegrityError):
        ShareLink.objects.filter(pk=link.pk).update(result=make_job(alice).results.get())


def test_the_zip_is_streamed_and_valid(alice: User) -> None:
    album = make_album(alice, photos=3)
    pieces = list(albums.zip_stream(album))
    assert len(pieces) > 3  # handed on photo by photo, not built whole
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.testzip() is None
    names = archive.namelist()
    assert [name[:5] for name in names] == ["0001-", "0002-", "0003-"]
    assert not has_gps(archive.read(names[0]))  # the camera JPEG, stripped


# --- The owner's pages -----------------------------------------------------------------------


def test_album_pages_need_a_sign_in(client: Client) -> None:
    response = client.get(reverse("editor:albums"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_making_an_album_and_adding_from_the_job_page(client: Client, alice: User) -> None:
    client.force_login(alice)
    job = make_job(alice)
    result = job.results.get()
    assert reverse("editor:album_add", args=[job.pk, result.pk]) in text(
        client.get(reverse("editor:job", args=[job.pk]))
    )
    add = reverse("editor:album_add", args=[job.pk, result.pk])
    assert add in text(client.get(reverse("editor:gallery")))  # and from the gallery
    response = client.post(add, {"title": "Trip"})
    album = Album.objects.get(owner=alice)
    assert response.status_code == 302
    assert response["Location"] == reverse("editor:album", args=[album.pk])
    assert order_of(album) == [str(result.pk)]
    assert client.post(add, {"title": ""}).status_code == 400  # no title: said so
    other = make_job(alice)
    add_other = reverse("editor:album_add", args=[other.pk, other.results.get().pk])
    assert client.post(add_other, {"album": str(album.pk)}).status_code == 302
    assert len(order_of(album)) == 2
    listing = text(client.get(reverse("editor:albums")))
    assert "Trip" in listing


def test_moving_with_htmx_answers_the_photos_only(client: Client, alice: User) -> None:
    album = make_album(alice, photos=2)
    first, second = order_of(album)
    client.force_login(alice)
    response = client.post(
        reverse("editor:album_move", args=[album.pk, second]),
        {"direction": "up"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert text(response).lstrip().startswith('<section id="photos"')
    assert order_of(album) == [second, first]
    moved = reverse("editor:album_move", args=[album.pk, second])
    assert client.post(moved, {"direction": "sideways"}).status_code == 404


def test_sharing_an_album_has_safe_defaults_and_one_link_per_person(
    client: Client, alice: User
) -> None:
    album = make_album(alice, photos=1)
    client.force_login(alice)
    page = text(client.get(reverse("editor:album", args=[album.pk])))
    assert '<option value="7d" selected>' in page  # an expiry unless the person removes it
    before = timezone.now()
    response = client.post(
        reverse("editor:album_share", args=[album.pk]),
        {"lifetime": "7d", "recipients": "Grandma\nUncle Bob\nGrandma\n"},
    )
    assert response.status_code == 302
    links = ShareLink.objects.filter(album=album).order_by("name")
    assert [link.name for link in links] == ["Grandma", "Uncle Bob"]
    assert all(link.expires_at and link.expires_at > before for link in links)
    page = text(client.get(reverse("editor:album", args=[album.pk])))
    assert all(shares.url(client.get("/").wsgi_request, link.token) in page for link in links)
    bad = client.post(reverse("editor:album_share", args=[album.pk]), {"lifetime": "forever"})
    assert bad.status_code == 400
    client.post(reverse("editor:album_revoke_all", args=[album.pk]))
    assert not ShareLink.objects.live().filter(album=album).exists()


def test_revoke_all_on_the_links_page(client: Client, alice: User) -> None:
    album = make_album(alice, photos=1)
    ShareLink.create(album, lifetime=None)
    ShareLink.create(make_job(alice).results.get(), lifetime=None)
    client.force_login(alice)
    listing = text(client.get(reverse("editor:shares")))
    assert reverse("editor:album", args=[album.pk]) in listing
    assert client.post(reverse("editor:shares_revoke_all")).status_code == 302
    assert not ShareLink.objects.live().exists()


# --- What a visitor sees ---------------------------------------------------------------------


def test_a_visitor_sees_the_album_and_nothing_else(alice: User) -> None:
    album = make_album(alice, photos=2)
    link, token = ShareLink.create(album, lifetime=dt.timedelta(days=1))
    visitor = Client()
    response = visitor.get(reverse("editor:shared", args=[token]))
    assert response.status_code == 200
    page = text(response)
    items = list(albums.items(album))
    for item in items:
        assert reverse("editor:shared_album_photo", args=[token, item.pk]) in page
        assert str(item.result.job_id) not in page  # no job of the owner's
    assert "alice" not in page
    assert reverse("editor:shared_album_zip", args=[token]) in page
    assert "js/album.js" in page
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    link.refresh_from_db()
    assert link.views == 1
    photo = visitor.get(reverse("editor:shared_album_photo", args=[token, items[0].pk]))
    assert photo.status_code == 200
    assert not has_gps(photo.content)
    download = visitor.get(
        reverse("editor:shared_album_photo", args=[token, items[0].pk]) + "?download=1"
    )
    assert download["Content-Disposition"].startswith("attachment;")


def test_expired_revoked_and_guessed_album_links_get_the_result_links_404(
    alice: User,
) -> None:
    """An album link that cannot open answers exactly as a result's link that cannot: the same
    404 page for the album, each of its photos and its ZIP, so a guesser learns nothing, not even
    that the token once named an album."""
    album = make_album(alice, photos=1)
    item = album.items.get()
    expired, expired_token = ShareLink.create(album, lifetime=dt.timedelta(days=1))
    ShareLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    revoked, revoked_token = ShareLink.create(album, lifetime=None)
    revoked.revoke()
    result_link, result_token = made_link(alice)
    result_link.revoke()
    visitor = Client()
    dead_result_link = visitor.get(reverse("editor:shared", args=[result_token]))
    assert dead_result_link.status_code == 404
    expected = without_csrf(dead_result_link)
    for token in ("A" * 43, expired_token, revoked_token):
        for url in (
            reverse("editor:shared", args=[token]),
            reverse("editor:shared_album_photo", args=[token, item.pk]),
            reverse("editor:shared_album_photo", args=[token, item.pk]) + "?download=1",
            reverse("editor:shared_album_zip", args=[token]),
        ):
            answer = visitor.get(url)
            assert answer.status_code == 404, url
            assert without_csrf(answer) == expected, url
    expired.refresh_from_db()
    assert expired.views == 0


def test_the_album_zip_is_a_streaming_response(alice: User) -> None:
    album = make_album(alice, photos=2)
    _link, token = ShareLink.create(album, lifetime=dt.timedelta(days=1))
    response = Client().get(reverse("editor:shared_album_zip", args=[token]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="holidays.zip"'
    assert "no-store" in response["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    assert archive.testzip() is None
    assert len(archive.namelist()) == 2
    assert not any(has_gps(archive.read(name)) for name in archive.namelist())


def test_a_password_keeps_the_album_closed(alice: User) -> None:
    album = make_album(alice, photos=1)
    _link, token = ShareLink.create(album, lifetime=None, password="open sesame")
    visitor = Client()
    page = visitor.get(reverse("editor:shared", args=[token]))
    assert page.templates[0].name == "editor/shared_password.html"
    item = album.items.get()
    photo = reverse("editor:shared_album_photo", args=[token, item.pk])
    assert visitor.get(photo).status_code == 404
    assert visitor.get(reverse("editor:shared_album_zip", args=[token])).status_code == 404


def test_a_camera_photo_loses_its_location(alice: User) -> None:
    _job, result = camera_job(alice)
    found = albums.read_stripped(result)
    assert found is not None
    assert not has_gps(found[0])


# --- The admin -------------------------------------------------------------------------------


def test_the_admin_lists_albums_with_their_photos_and_live_links(
    client: Client, alice: User
) -> None:
    album = make_album(alice, photos=2)
    ShareLink.create(album, lifetime=None, name="Gran")
    revoked, _token = ShareLink.create(album, lifetime=None)
    revoked.revoke()
    client.force_login(make_admin())
    listing = client.get(reverse("admin:editor_album_changelist"))
    assert listing.status_code == 200
    row = re.search(r"<tr[^>]*>.*?Holidays.*?</tr>", text(listing), re.S)
    assert row is not None
    cells = re.findall(r'<td class="field-(\w+)">([^<]*)</td>', row.group(0))
    assert ("photos", "2") in cells
    assert ("live_links", "1") in cells
    detail = client.get(reverse("admin:editor_album_change", args=[album.pk]))
    assert detail.status_code == 200
    links = client.get(reverse("admin:editor_sharelink_changelist"))
    assert "Gran" in text(links)
    assert revoked.token not in text(links)  # never a token


def test_deleting_an_album_keeps_its_photos_and_ends_its_links(client: Client, alice: User) -> None:
    album = make_album(alice, photos=1)
    result_id = album.items.get().result_id
    _link, token = ShareLink.create(album, lifetime=None)
    client.force_login(alice)
    response = client.post(
        reverse("editor:album_delete", args=[album.pk]), headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == reverse("editor:albums")
    assert not Album.objects.exists()
    assert not ShareLink.objects.exists()
    assert Client().get(reverse("editor:shared", args=[token])).status_code == 404
    assert Result.objects.filter(pk=result_id).exists()  # the photo stays in the gallery
    revoked = AuditEvent.objects.filter(action=AuditAction.SHARE_REVOKED)
    assert revoked.count() == 1
