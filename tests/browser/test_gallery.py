"""The gallery from a person's seat, at a desktop and a phone viewport: scroll to load more,
filter by operation and by status (the address follows, the back button undoes), open a card,
delete its job and see it gone.

The jobs are rows and small files made here (the pipeline is not the point), so no worker runs.
Screenshots of the gallery go to test-artifacts/screenshots/ to be looked at.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import User
from editor import operations
from editor.models import Job, JobStatus, Result
from editor.pages.gallery import PAGE_SIZE
from tests.browser.steps import (
    DEVICES,
    EVERY_DEVICE,
    assert_loaded,
    photo,
    portrait,
    screenshot,
    sign_in,
)

pytestmark = [pytest.mark.django_db(transaction=True), EVERY_DEVICE]

JOBS = 30
# Succeeded jobs have a result and a thumbnail; the others show a placeholder.
STATUSES = (
    JobStatus.SUCCEEDED,
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.SUCCEEDED,
    JobStatus.CANCELED,
)
SLUGS = ("colorize", "retouch", "expression")
LOAD_ALL_IMAGES = """
() => Promise.all(Array.from(document.images).map((img) => {
  img.loading = "eager";
  return img.complete ? null : new Promise((done) => { img.onload = img.onerror = done; });
}))
"""


def pictures(tmp_path: Path) -> list[bytes]:
    """A few distinct small photos, tinted, so the grid's thumbnails tell jobs apart."""
    bases = [
        Image.open(photo(tmp_path / "landscape.jpg")).convert("RGB"),
        Image.open(portrait(tmp_path / "face.jpg")).convert("RGB"),
        Image.open(photo(tmp_path / "old.jpg", gray=True)).convert("RGB"),
    ]
    tints = [(255, 255, 255), (255, 200, 160), (170, 210, 255), (200, 255, 190)]
    out = []
    for base in bases:
        for tint in tints:
            overlay = Image.new("RGB", base.size, tint)
            buffer = io.BytesIO()
            Image.blend(base, overlay, 0.25).save(buffer, "JPEG", quality=85)
            out.append(buffer.getvalue())
    return out


def make_gallery(owner: User, tmp_path: Path) -> list[Job]:
    """``JOBS`` jobs an hour apart, mixed operations and statuses, with their files stored."""
    images = pictures(tmp_path)
    now = timezone.now()
    made = []
    for number in range(JOBS):
        operation = operations.get(SLUGS[number % len(SLUGS)])
        status = STATUSES[number % len(STATUSES)]
        job = Job.objects.create(
            owner=owner,
            operation=operation.slug,
            provider=operation.default_provider.name,
            status=status,
            credits=1,
            charged_on=now.date(),
            deadline=now,
            created_at=now - dt.timedelta(hours=number),
            finished_at=now - dt.timedelta(hours=number),
            error_message="The vendor could not read this image." if status == "failed" else "",
        )
        picture = images[number % len(images)]
        folder = f"jobs/{owner.pk}/{job.pk}"
        job.inputs = {
            "image": default_storage.save(f"{folder}/input-image.jpg", ContentFile(picture))
        }
        job.save()
        if status == JobStatus.SUCCEEDED:
            Result.objects.create(
                job=job,
                file=default_storage.save(f"{folder}/result-0.jpg", ContentFile(picture)),
                thumbnail=default_storage.save(f"{folder}/thumb-0.jpg", ContentFile(picture)),
                media_type="image/jpeg",
                width=320,
                height=240,
                bytes=len(picture),
            )
        made.append(job)
    return made


def test_browse_filter_open_and_delete(
    page: Page, live_server: LiveServer, device: str, tmp_path: Path
) -> None:
    sign_in(page, live_server, "gina")
    jobs = make_gallery(User.objects.get(username="gina"), tmp_path)
    cards = page.locator(".gallery-card")

    page.get_by_role("link", name="Gallery", exact=True).click()
    expect(page.get_by_role("heading", name="Your gallery")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/gallery/")
    expect(cards).to_have_count(PAGE_SIZE)
    # Newest first: the first card is the newest job.
    # The card's own link comes first ("Add to album" follows it).
    expect(cards.first.get_by_role("link").first).to_have_attribute("href", f"/jobs/{jobs[0].pk}/")
    assert_loaded(cards.first.locator("img"))
    expect(cards.nth(2).locator(".gallery-card__placeholder")).to_have_count(1)  # failed
    # A full-page picture shows the cards below the fold too: load their lazy thumbnails.
    page.evaluate(LOAD_ALL_IMAGES)
    screenshot(page, "gallery", device)
    width = int(page.evaluate("document.documentElement.scrollWidth"))
    assert width <= DEVICES[device]["viewport"]["width"]

    # Scrolling to the end brings the rest, appended in place, without a "Load more" click.
    page.locator(".gallery-more").scroll_into_view_if_needed()
    expect(cards).to_have_count(JOBS)
    expect(page.locator(".gallery-more")).to_have_count(0)
    expect(cards.last.get_by_role("link").first).to_have_attribute("href", f"/jobs/{jobs[-1].pk}/")
    expect(page).to_have_url(f"{live_server.url}/gallery/")

    # Filtering by operation: the grid and the address change, the page does not reload.
    page.evaluate("window.__samePage = true")
    retouch = [job for job in jobs if job.operation == "retouch"]
    page.get_by_label("Operation").select_option(label="Retouch from a style")
    expect(page).to_have_url(re.compile(r"[?&]operation=retouch(&|$)"))
    expect(cards).to_have_count(len(retouch))
    expect(page.locator(".gallery-card:not([data-operation=retouch])")).to_have_count(0)

    # ... and by status, on top.
    failed_retouch = [job for job in retouch if job.status == JobStatus.FAILED]
    page.get_by_label("Status").select_option("failed")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(cards).to_have_count(len(failed_retouch))
    expect(cards.first.locator(".badge")).to_have_text("Failed")
    assert page.evaluate("window.__samePage") is True

    # Back undoes the last filter.
    page.go_back()
    expect(page).to_have_url(re.compile(r"operation=retouch"))
    expect(page).not_to_have_url(re.compile(r"status=failed"))
    expect(cards).to_have_count(len(retouch))

    # Nothing matches: a way back to everything.
    page.get_by_label("Status").select_option("canceled")
    page.get_by_label("Operation").select_option("expression")
    expect(cards).to_have_count(
        sum(1 for j in jobs if (j.operation, j.status) == ("expression", "canceled"))
    )
    page.get_by_label("Status").select_option("running")
    expect(page.get_by_role("heading", name="Nothing matches these filters")).to_be_visible()
    page.get_by_role("link", name="Reset the filters").click()
    expect(page).to_have_url(f"{live_server.url}/gallery/")
    expect(cards).to_have_count(PAGE_SIZE)

    # Open a card, delete its job (after a confirmation), and it is gone from the gallery.
    victim = jobs[1]
    page.locator(f'.gallery-card a[href="/jobs/{victim.pk}/"]').click()
    expect(page).to_have_url(f"{live_server.url}/jobs/{victim.pk}/")
    expect(page.get_by_role("heading", name=str(operations.get(victim.operation).label)))
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/gallery/")
    expect(page.locator(".message--success")).to_contain_text(
        "job deleted, with its photos and results"
    )
    expect(page.locator(f'.gallery-card a[href="/jobs/{victim.pk}/"]')).to_have_count(0)
    # The card's own link comes first ("Add to album" follows it).
    expect(cards.first.get_by_role("link").first).to_have_attribute("href", f"/jobs/{jobs[0].pk}/")
    assert not Job.objects.filter(pk=victim.pk).exists()
    assert not default_storage.exists(victim.inputs["image"])
