"""The one home of the rows tests make: people, plans, keys, jobs (with their stored files)
and share links, and the two figures every storage test compares."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts import quotas
from accounts.models import Plan, Quota, User
from editor import albums
from editor.models import (
    ACTIVE_STATUSES,
    Album,
    Job,
    JobStatus,
    Result,
    ShareLink,
    Vendor,
    VendorKey,
)
from tests.images import camera_jpeg, make_image, phone_details

PASSWORD = "correct horse battery staple"
MB = 1024 * 1024
# A key that the vault shows as "••••b8a6"; a sandbox key (``sandbox-``) reaches the sandbox.
SECRET = "sk-alice-7f3a9c2e51d4b8a6"
OTHER_SECRET = "sk-alice-new-0b1c2d3e4f5a9876"
SANDBOX_SECRET = "sandbox-key-0001"
# What make_job's result holds, and when camera_job's job started.
RESULT = make_image((80, 60), "PNG", color=(1, 2, 3))
STARTED = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)


# --- People and plans ------------------------------------------------------------------------


def make_user(username: str, password: str = PASSWORD) -> User:
    return User.objects.create_user(
        username=username, email=f"{username}@example.com", password=password
    )


def make_admin(username: str = "root") -> User:
    admin = make_user(username)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    return admin


def make_plan(name: str = "Basic", jobs: int = 10, **limits: Any) -> Plan:
    """A plan of ``jobs`` a day, its other limits in proportion unless given: ten credits, a
    megabyte and one job at once per job a day."""
    values: dict[str, Any] = {
        "jobs_per_day": jobs,
        "credits_per_month": jobs * 10,
        "storage_bytes": jobs * MB,
        "concurrent_jobs": jobs,
    }
    return Plan.objects.create(name=name, **(values | limits))


# --- Keys --------------------------------------------------------------------------------------


def make_key(
    owner: User | None,
    vendor: str = Vendor.AILABTOOLS,
    secret: str = SANDBOX_SECRET,
    *,
    label: str = "",
) -> VendorKey:
    """A vendor key of ``owner``'s (None: the studio's house key), labelled like the vault's
    first key for the vendor unless ``label`` says otherwise."""
    key = VendorKey(owner=owner, vendor=vendor, label=label or f"{Vendor(vendor).label} key")
    key.set_secret(secret)
    key.save()
    return key


# --- Jobs --------------------------------------------------------------------------------------


def make_job(owner: User, status: str = JobStatus.SUCCEEDED) -> Job:
    """A colorization charged to ``owner``'s quota, with its photo stored and, when it
    succeeded, its result (``RESULT``) and a thumbnail. A job under way holds one of the
    owner's slots, a pending one its place in their line, an ended one neither."""
    now = timezone.now()
    charged_on = quotas.charge(owner, 1)
    if status in ACTIVE_STATUSES:
        quotas.take_slots(owner.pk, 1, quotas.limits_for(owner), now)
    elif status != JobStatus.PENDING:
        quotas.release(owner.pk, 1, charged_on, refund=False, had_slot=False)
    job = Job.objects.create(
        owner=owner,
        operation="colorize",
        provider="picwish",
        params={"format": "png"},
        status=status,
        credits=1,
        charged_on=charged_on,
        deadline=now + dt.timedelta(minutes=5),
        error_message="PicWish could not read this image." if status == JobStatus.FAILED else "",
    )
    job.inputs = {
        "image": default_storage.save(
            f"jobs/{owner.pk}/{job.pk}/input-image.jpg", ContentFile(make_image())
        )
    }
    job.save()
    if status == JobStatus.SUCCEEDED:
        Result.objects.create(
            job=job,
            file=default_storage.save(
                f"jobs/{owner.pk}/{job.pk}/result-0.png", ContentFile(RESULT)
            ),
            thumbnail=default_storage.save(
                f"jobs/{owner.pk}/{job.pk}/thumb-0.jpg", ContentFile(make_image())
            ),
            media_type="image/png",
            width=80,
            height=60,
            bytes=len(RESULT),
        )
    return job


def make_job_row(
    owner: User,
    status: str,
    *,
    finished: dt.datetime | None = None,
    operation: str = "colorize",
) -> Job:
    """Only a job's row: no charge, no files (for pages that read rows alone)."""
    now = timezone.now()
    return Job.objects.create(
        owner=owner,
        operation=operation,
        provider="picwish",
        status=status,
        deadline=now + dt.timedelta(minutes=10),
        charged_on=now.date(),
        finished_at=finished,
    )


def with_prepared(job: Job) -> Job:
    """The job with a fitted copy of its photo stored, as the worker's first step leaves it."""
    job.prepared = {
        "image": default_storage.save(
            f"jobs/{job.owner_id}/{job.pk}/prepared-image.jpg", ContentFile(make_image())
        )
    }
    job.save()
    return job


def camera_job(owner: User) -> tuple[Job, Result]:
    """A finished job whose result is a JPEG with GPS EXIF, an ICC profile and an orientation
    tag (90° clockwise: stored 96×64, shown 64×96), started at ``STARTED``."""
    job = make_job(owner)
    job.created_at = STARTED
    job.save()
    result = job.results.get()
    data = camera_jpeg(orientation=6)
    result.file = default_storage.save(f"jobs/{owner.pk}/{job.pk}/result-0.jpg", ContentFile(data))
    result.media_type = "image/jpeg"
    result.bytes = len(data)
    result.save()
    return job, result


def made_link(owner: User, **options: Any) -> tuple[ShareLink, str]:
    """A share link to a new job's result (a day long unless ``lifetime`` says), and its
    token."""
    result = make_job(owner).results.get()
    options.setdefault("lifetime", dt.timedelta(days=1))
    return ShareLink.create(result, **options)


def make_album(owner: User, photos: int = 2, title: str = "Holidays") -> Album:
    """An album of ``photos`` new finished results of ``owner``'s, in the order made; the
    first is a camera JPEG with GPS data (``camera_job``)."""
    album = albums.create(owner, title)
    for number in range(photos):
        result = camera_job(owner)[1] if number == 0 else make_job(owner).results.get()
        albums.add(album, result)
    return album


# --- Stored files ------------------------------------------------------------------------------


def files_of(job: Job) -> list[str]:
    """Every stored file of a job: inputs, fitted inputs, results and thumbnails."""
    names = [*job.inputs.values(), *job.prepared.values()]
    for result in job.results.all():
        names += [result.file.name, result.thumbnail.name]
    return names


def disk_bytes(user: User) -> int:
    """What storage really holds for the person: every file under their folders."""
    root = Path(settings.MEDIA_ROOT)
    return sum(
        path.stat().st_size
        for folder in (root / "jobs" / str(user.pk), root / "drafts" / str(user.pk))
        if folder.exists()
        for path in folder.rglob("*")
        if path.is_file()
    )


def stored(user: User) -> int:
    """What the person's quota counts as stored."""
    return Quota.objects.get(user=user).stored_bytes


def job_with_details(owner: User) -> Result:
    """A finished job (``camera_job``) whose photo's details were kept at submit: a phone's
    camera, capture date and aperture (``tests.images.phone_exif``)."""
    job, result = camera_job(owner)
    job.photo_exif = phone_details()
    job.save()
    return result
