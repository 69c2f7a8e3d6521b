from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import check_password, make_password
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from editor import images, storage, vault


class Vendor(models.TextChoices):
    AILABTOOLS = "ailabtools", "AILabTools"
    PICWISH = "picwish", "PicWish"


class KeyCheck(models.TextChoices):
    """What the vendor said about a key when it was saved (editor.keycheck)."""

    CHECKED = "checked", _("Checked")
    # The vendor could not be reached: saved anyway, checked again later and on its next use.
    UNCHECKED = "unchecked", _("Not checked yet")
    # Checked again later, and then refused (a key revoked since, or one never valid).
    REFUSED = "refused", _("Refused by the vendor")
    # The vendor offers no call that checks a key without running a job (PicWish).
    UNCHECKABLE = "uncheckable", _("Can't be checked before use")


class VendorKeyQuerySet(models.QuerySet["VendorKey"]):
    def own(self, owner: AbstractBaseUser, vendor: str) -> VendorKeyQuerySet:
        """The person's own keys for the vendor, the most recently used first."""
        return self.filter(owner_id=owner.pk, vendor=vendor).order_by(
            "-last_used_at", "-created_at"
        )

    def house(self, vendor: str) -> VendorKey | None:
        """The studio's key for the vendor, if an admin added one."""
        return self.filter(owner__isnull=True, vendor=vendor).first()

    def for_job(
        self,
        owner: AbstractBaseUser,
        vendor: str,
        *,
        chosen: VendorKey | None = None,
        house_keys: bool,
    ) -> VendorKey | None:
        """The key a job of ``owner``'s runs on at ``vendor``: the one they chose (their own,
        checked by the caller) when it is for this vendor, else their most recently used own
        key (a person's own key always wins over the studio's), else the studio's house key
        when their plan includes house keys (``house_keys``); None when there is none."""
        if chosen is not None and chosen.vendor == vendor:
            return chosen
        own = self.own(owner, vendor).first()
        if own is not None:
            return own
        return self.house(vendor) if house_keys else None


class VendorKey(models.Model):
    """An API key for one vendor, stored encrypted (editor.vault): a person's own, or, with no
    owner, the studio's house key for that vendor (added by an admin; used by people without a
    key of their own whose plan allows it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="vendor_keys",
        help_text=_("Empty for the studio's house key."),
    )
    vendor = models.CharField(max_length=20, choices=Vendor.choices)
    label = models.CharField(max_length=100)
    ciphertext = models.TextField(editable=False)
    last_four = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=500, blank=True, editable=False)
    monthly_credit_cap = models.PositiveIntegerField(
        _("monthly credit cap"),
        null=True,
        blank=True,
        help_text=_("Stop using this key once this many vendor credits are spent in a month."),
    )
    # Credits charged to this key in ``credits_month`` (its first day), for the cap.
    credits_month = models.DateField(default=dt.date.min, editable=False)
    credits_this_month = models.PositiveIntegerField(default=0, editable=False)
    # The last check with the vendor (editor.keycheck): its outcome, when, and the credits the
    # vendor said the account had then (None where the vendor has no credit query).
    check_status = models.CharField(
        max_length=12, choices=KeyCheck.choices, default=KeyCheck.UNCHECKED, editable=False
    )
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    checked_credits = models.BigIntegerField(null=True, blank=True, editable=False)

    objects = VendorKeyQuerySet.as_manager()

    class Meta:
        ordering = ("vendor", "label")
        constraints = (
            models.UniqueConstraint(
                fields=["owner", "vendor", "label"], name="unique_key_label_per_vendor"
            ),
            models.UniqueConstraint(
                fields=["vendor"],
                condition=models.Q(owner__isnull=True),
                name="one_house_key_per_vendor",
            ),
        )

    def __str__(self) -> str:
        return f"{self.label} ({self.get_vendor_display()}, {self.masked})"

    def __repr__(self) -> str:
        return f"<VendorKey {self.pk} {self.vendor} {self.masked}>"

    @property
    def masked(self) -> str:
        return f"••••{self.last_four}"

    @property
    def is_house_key(self) -> bool:
        return self.owner_id is None

    def set_secret(self, secret: str) -> None:
        self.ciphertext = vault.encrypt(secret)
        self.last_four = secret[-4:]


class JobStatus(models.TextChoices):
    # Accepted and charged, waiting for one of its owner's concurrent-jobs slots (editor.fairqueue);
    # not to be confused with WAITING, a job whose task is at the vendor.
    PENDING = "pending", _("Waiting for a slot")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting on vendor")
    STORING = "storing", _("Storing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


# A job in these holds one of its owner's concurrent-jobs slots and is the workers' business.
ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING, JobStatus.STORING)
# Not ended yet: under way, or waiting for a slot.
UNFINISHED_STATUSES = (JobStatus.PENDING, *ACTIVE_STATUSES)
ENDED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)
# How far the job page follows "run again" links, and how many jobs it compares at most.
FAMILY_DEPTH = 20
FAMILY_SIZE = 48


# Characters that reorder the text around them (overrides, embeddings, isolates, marks): a name
# holding U+202E shows "gpj.exe" as "exe.jpg". Removed from every text a person gives us.
BIDI_CONTROLS = dict.fromkeys(
    (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
)


def plain_text(text: str) -> str:
    """A person's text without the characters that reorder how it displays."""
    return text.translate(BIDI_CONTROLS)


def display_name(name: str | None) -> str:
    """A person's file name as we show it: the last part of the path, without control
    characters, short enough for a card. Only ever shown or used in a download name."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(char for char in base if char.isprintable())[:120]


class JobQuerySet(models.QuerySet["Job"]):
    def transition(
        self,
        job: Job,
        *,
        statuses: tuple[str, ...] = ACTIVE_STATUSES,
        current: bool = True,
        **changes: Any,
    ) -> bool:
        """Move ``job`` on in one conditional UPDATE (compare and set): only while it is in one
        of ``statuses`` and, with ``current``, still at the dispatch number this copy holds, so
        a step loses when the job was canceled, retried or taken over meanwhile. Every
        transition bumps the dispatch number and drops the lease (unless ``lease_until`` is
        given: the caller takes the next step itself): a message sent for the step before it
        does nothing. Returns whether it moved."""
        found = self.filter(pk=job.pk, status__in=statuses)
        if current:
            found = found.filter(dispatch=job.dispatch)
        changes.setdefault("lease_until", None)
        return bool(found.update(dispatch=models.F("dispatch") + 1, **changes))


class Batch(models.Model):
    """Several photos sent at once with the same settings: one job each (``jobs``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="batches"
    )
    operation = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    # When the email saying it ended was decided on (editor.notifications): set once, by a
    # conditional UPDATE, so two last jobs ending at once make one email.
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at",)
        verbose_name_plural = _("batches")

    def __str__(self) -> str:
        return gettext("%(operation)s batch %(id)s") % {"operation": self.operation, "id": self.pk}


class Job(models.Model):
    """One run of one operation. The database is the source of truth for its progress: the
    status says which step comes next, and ``dispatch``/``lease_until`` make sure exactly one
    worker does it (see editor.pipeline)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    operation = models.CharField(max_length=40)
    provider = models.CharField(max_length=20)
    key = models.ForeignKey(
        VendorKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    params = models.JSONField(default=dict)
    house_key = models.BooleanField(
        default=False, help_text=_("Ran on the studio's house key, charged to the owner's plan.")
    )
    source_job = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reruns",
        help_text=_("The earlier job whose photo this one reused (Run again with changes)."),
    )
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    photo_name = models.CharField(
        max_length=120,
        blank=True,
        help_text=_(
            "The photo's file name as the person had it: shown and used for download "
            "names only, never in storage paths."
        ),
    )
    inputs = models.JSONField(default=dict, help_text=_("File role -> storage name."))
    prepared = models.JSONField(default=dict, help_text=_("File role -> fitted storage name."))
    notes = models.JSONField(default=list, help_text=_("What was done to fit the inputs."))
    # What the studio kept of the photo's EXIF at submit (editor.metadata.photo_details: the
    # capture date, camera and its settings, never the location), for downloads that keep it.
    photo_exif = models.BinaryField(
        default=b"",
        blank=True,
        help_text=_("The photo's capture date, camera and settings as a TIFF structure."),
    )
    status = models.CharField(
        max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    vendor_ref = models.CharField(max_length=200, blank=True)
    # Set just before a submit goes to the vendor, cleared once its outcome is recorded: a worker
    # that finds it set with no vendor_ref knows the last submit may have reached the vendor.
    submit_started_at = models.DateTimeField(null=True, blank=True)
    # Submits that went out again after such a crash (the vendor may have two tasks; the person
    # is charged once all the same).
    double_submits = models.PositiveSmallIntegerField(default=0)
    # When the vendor took the task (its answer to the submit), and how long it then took to be
    # seen done: what the first poll of later jobs is timed by (editor.polling).
    submitted_at = models.DateTimeField(null=True, blank=True)
    vendor_seconds = models.FloatField(null=True, blank=True)
    # The slot this job reserved in its key's rate budget (limiter clock), while it waits for it.
    rate_slot_at = models.FloatField(null=True, blank=True)
    # Every image of the job (its inputs, then its results) is small enough (JOB_LIGHT_PIXELS)
    # for the io worker to fit and thumbnail it itself: the job never waits on the cpu queue,
    # and its steps run back to back in one task (editor.jobs.queue_for).
    light = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    dispatch = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField()
    error_code = models.CharField(max_length=80, blank=True)
    error_message = models.TextField(blank=True)
    credits = models.PositiveIntegerField(default=0)
    charged_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = (
            models.Index(fields=["owner", "-created_at"]),
            # The job feed asks for a person's jobs that ended since a moment.
            models.Index(fields=["owner", "finished_at"]),
            # The first poll is timed by the recent jobs of one provider and operation.
            models.Index(fields=["provider", "operation", "-finished_at"]),
            # The waiting line: a person's jobs waiting for a slot, oldest first (editor.fairqueue).
            # Partial, so it holds only the waiting jobs however many rows the table has.
            models.Index(
                fields=["owner", "created_at", "id"],
                condition=models.Q(status="pending"),
                name="job_waiting_line",
            ),
        )

    def __str__(self) -> str:
        return gettext("%(operation)s job %(id)s (%(status)s)") % {
            "operation": self.operation,
            "id": self.pk,
            "status": self.status,
        }

    @property
    def is_active(self) -> bool:
        """Not ended: under way or waiting for a slot (it can be canceled, its page follows)."""
        return self.status in UNFINISHED_STATUSES

    @property
    def is_pending(self) -> bool:
        return self.status == JobStatus.PENDING

    @property
    def remaining(self) -> dt.timedelta:
        return self.deadline - timezone.now()

    def read_input(self, role: str) -> bytes | None:
        """The bytes of one stored input as uploaded, or None when it is gone."""
        name = self.inputs.get(role)
        if not name or not default_storage.exists(name):
            return None
        with default_storage.open(name, "rb") as handle:
            data: bytes = handle.read()
        return data

    def family(self) -> list[Job]:
        """This job and every job of the same owner run on the same photo: linked through
        ``source_job`` in either direction, oldest first. Bounded, so a long chain of re-runs
        cannot turn one page view into hundreds of queries."""
        root: Job = self
        for _hop in range(FAMILY_DEPTH):
            if root.source_job_id is None:
                break
            parent = Job.objects.filter(pk=root.source_job_id, owner_id=self.owner_id).first()
            if parent is None:
                break
            root = parent
        ids = {root.pk}
        frontier = [root.pk]
        for _depth in range(FAMILY_DEPTH):
            if not frontier or len(ids) >= FAMILY_SIZE:
                break
            frontier = list(
                Job.objects.filter(source_job__in=frontier, owner_id=self.owner_id)
                .exclude(pk__in=ids)
                .values_list("pk", flat=True)[:FAMILY_SIZE]
            )
            ids.update(frontier)
        return list(
            Job.objects.filter(pk__in=ids, owner_id=self.owner_id)
            .prefetch_related("results")
            .order_by("created_at")
        )


# The start of the name of a kept converted download (Result.conversion_name).
CONVERSION_PREFIX = "download-"


class Result(models.Model):
    """One image a job produced, stored unchanged in our own storage."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="results")
    position = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(max_length=200)
    thumbnail = models.FileField(max_length=200, blank=True)
    media_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("job", "position")
        constraints = (
            models.UniqueConstraint(fields=["job", "position"], name="unique_result_position"),
        )

    def __str__(self) -> str:
        return gettext("Result %(position)s of job %(job)s") % {
            "position": self.position,
            "job": self.job_id,
        }

    def conversion_name(self, choice: str, extension: str) -> str:
        """Where a converted download of this result is kept once made (editor.downloads), in
        its job's folder beside it: e.g. ``download-0-3f2a9c1b4d5e-jpeg-q90.jpg``. The result's
        id is in the name, so a retried job's new results never meet an old one's copies."""
        folder = PurePosixPath(self.file.name).parent
        return (
            f"{folder}/{CONVERSION_PREFIX}{self.position}-{self.pk.hex[:12]}-{choice}.{extension}"
        )

    def download_name(self, extension: str) -> str:
        """The name a download of this result gets, e.g. ``colorize-2026-11-22-3f2a9c1b.jpg``:
        the operation, the day its job started (studio time zone) and the first 8 hex digits of
        the job's id, so files from one job sort together and stay apart from other jobs'. A
        job's second result onwards adds its number (``-2``, ``-3``...); the first adds none."""
        operation = self.job.operation.replace("_", "-")  # a slug from editor.operations
        day = timezone.localdate(self.job.created_at).isoformat()
        number = f"-{self.position + 1}" if self.position else ""
        return f"{operation}-{day}-{self.job.pk.hex[:8]}{number}.{extension}"


class Preset(models.Model):
    """Named settings of one operation, applied to its form in one click. A person's own
    (``owner`` set) or provided by the studio's admins for everyone (``owner`` empty). Only the
    operation's declared parameters are stored (checked by editor.forms), never files."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="presets",
        help_text=_("Leave empty for a studio preset that everyone can use."),
    )
    operation = models.CharField(_("operation"), max_length=40, db_index=True)
    name = models.CharField(_("name"), max_length=80)
    provider = models.CharField(
        _("provider"),
        max_length=20,
        blank=True,
        help_text=_("Empty: keep the provider chosen in the form."),
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("operation", "name")
        constraints = (
            models.UniqueConstraint(
                fields=["owner", "operation", "name"], name="unique_preset_name_per_owner"
            ),
            models.UniqueConstraint(
                fields=["operation", "name"],
                condition=models.Q(owner__isnull=True),
                name="unique_studio_preset_name",
            ),
        )

    def __str__(self) -> str:
        return f"{self.name} ({self.operation})"


class Draft(models.Model):
    """A photo a person uploaded with a form that came back with an error (a missing key, a
    field out of range, a quota reached): kept so they need not choose it again. The form
    names it by id (checked against the owner); a submitted job stores its own copy, and
    drafts older than ``DRAFT_MAX_AGE`` are deleted by the sweeper."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts"
    )
    role = models.SlugField(max_length=20)
    file = models.FileField(max_length=200)
    # The file name the person chose, for the form and the job: never part of a storage path.
    name = models.CharField(max_length=120, blank=True)
    # What was kept of the photo's EXIF when it was checked (Job.photo_exif): the stored file
    # has none, so the job made from the draft takes it from here.
    photo_exif = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return gettext("Draft %(role)s of %(owner)s") % {"role": self.role, "owner": self.owner_id}

    @classmethod
    def keep(
        cls, owner: AbstractBaseUser, role: str, upload: UploadedFile, details: bytes = b""
    ) -> Draft:
        """Store an upload that passed its checks, under a name we make, with the details
        kept of its EXIF (``details``)."""
        upload.seek(0)
        media = images.sniff(upload.read(64))
        suffix = media.extension if media else "bin"
        upload.seek(0)
        draft = cls(
            owner_id=owner.pk, role=role, name=display_name(upload.name), photo_exif=details
        )
        # Copied, not moved: the upload may still be needed by the request. Counted like every
        # stored file of the person's (not limited: a draft is a photo the person already
        # sent, kept for a day at most).
        draft.file.name = storage.save(
            owner.pk, f"drafts/{owner.pk}/{draft.pk}-{role}.{suffix}", File(upload.file)
        )
        draft.save()
        return draft

    @classmethod
    def purge(cls, older_than: dt.datetime) -> int:
        """Delete drafts nobody came back for, with their files."""
        old = list(cls.objects.filter(created_at__lt=older_than))
        for draft in old:
            draft.discard()
        return len(old)

    def discard(self) -> None:
        """The draft is used up or abandoned: the row goes and its bytes are given back to the
        owner's storage quota, and the file goes once that holds."""
        name = self.file.name
        with transaction.atomic():
            # By a query, not by the instance: the bytes are given back only by the request
            # that really deleted the row, and a rolled-back discard leaves this draft usable.
            deleted, _counts = Draft.objects.filter(pk=self.pk).delete()
            if deleted and name:
                storage.uncount(self.owner_id, [name], named=[name])
        if deleted and name:
            transaction.on_commit(lambda: default_storage.delete(name))

    def read(self) -> bytes | None:
        """The kept bytes, or None when the file is gone."""
        if not self.file.name or not default_storage.exists(self.file.name):
            return None
        with default_storage.open(self.file.name, "rb") as handle:
            data: bytes = handle.read()
        return data


# How long a new share link lives: a choice on the share form, from an hour to never (None).
SHARE_LIFETIMES: dict[str, dt.timedelta | None] = {
    "1h": dt.timedelta(hours=1),
    "1d": dt.timedelta(days=1),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
    "never": None,
}


def share_token_hash(token: str) -> str:
    """What we store and look a token up by. A token is 256 random bits, so one round of
    SHA-256 is enough: there is nothing to guess that a slow hash would protect."""
    return hashlib.sha256(token.encode()).hexdigest()


class ShareLinkQuerySet(models.QuerySet["ShareLink"]):
    def live(self) -> ShareLinkQuerySet:
        """Links that open: not revoked, not expired."""
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ShareLink(models.Model):
    """A public link to one result. The token is the secret in the address: stored as a hash
    to look it up, and encrypted with the vault (``token_ciphertext``) so that its owner can copy
    the link again later. A password, when set, is hashed like an account's."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links"
    )
    # What the link opens: one result, or one album (editor.albums); exactly one of the two.
    result = models.ForeignKey(
        Result, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    album = models.ForeignKey(
        "Album", null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    # Whom the link was made for ("Grandma"), so that one link per recipient can be told apart
    # and revoked alone; empty for a link made for anyone.
    name = models.CharField(max_length=80, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_ciphertext = models.TextField(editable=False)
    password_hash = models.CharField(max_length=128, blank=True, editable=False)
    include_original = models.BooleanField(
        default=False, help_text=_("Show the photo the result was made from, for before/after.")
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    views = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)
    # Wrong passwords typed on the link, for its owner to see (someone may be guessing).
    failed_passwords = models.PositiveIntegerField(default=0)
    last_failed_password_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=["owner", "-created_at"]),)
        constraints = (
            models.CheckConstraint(
                condition=models.Q(result__isnull=False, album__isnull=True)
                | models.Q(result__isnull=True, album__isnull=False),
                name="share_link_opens_result_or_album",
            ),
        )

    def __str__(self) -> str:
        if self.album_id is not None:
            return gettext("Share link %(id)s of album %(album)s") % {
                "id": self.pk,
                "album": self.album_id,
            }
        return gettext("Share link %(id)s of result %(result)s") % {
            "id": self.pk,
            "result": self.result_id,
        }

    def __repr__(self) -> str:
        return f"<ShareLink {self.pk}>"

    @classmethod
    def create(
        cls,
        target: Result | Album,
        *,
        lifetime: dt.timedelta | None,
        password: str = "",
        include_original: bool = False,
        name: str = "",
    ) -> tuple[ShareLink, str]:
        """A new link to a result or an album and its token; the token is returned once here
        and never logged."""
        token = secrets.token_urlsafe(32)  # 32 bytes: 256 random bits
        if isinstance(target, Album):
            opens: dict[str, object] = {"owner_id": target.owner_id, "album": target}
        else:
            opens = {"owner_id": target.job.owner_id, "result": target}
        link = cls.objects.create(
            **opens,
            name=plain_text(name)[:80],
            token_hash=share_token_hash(token),
            token_ciphertext=vault.encrypt(token),
            password_hash=make_password(password) if password else "",
            # The photo a result was made from is only ever shown beside that one result.
            include_original=include_original and not isinstance(target, Album),
            expires_at=timezone.now() + lifetime if lifetime is not None else None,
        )
        return link, token

    @classmethod
    def find(cls, token: str) -> ShareLink | None:
        """The live link for a token from an address, or None for unknown, expired and revoked
        alike, so that nobody can tell them apart."""
        if not token or len(token) > 100:
            return None
        return (
            cls.objects.live()
            .select_related("result__job", "album")
            .filter(token_hash=share_token_hash(token))
            .first()
        )

    @property
    def token(self) -> str:
        """The token, decrypted for its owner's list; empty when VAULT_KEYS no longer opens it."""
        try:
            return vault.decrypt(self.token_ciphertext)
        except vault.VaultError:
            return ""

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password(password, self.password_hash)

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def count_view(self) -> None:
        """One more opening of the page, counted in the database so no view is lost."""
        now = timezone.now()
        ShareLink.objects.filter(pk=self.pk).update(views=models.F("views") + 1, last_viewed_at=now)

    def count_failed_password(self) -> None:
        """One more wrong password, counted in the database so none is lost to a race."""
        now = timezone.now()
        ShareLink.objects.filter(pk=self.pk).update(
            failed_passwords=models.F("failed_passwords") + 1, last_failed_password_at=now
        )


class Album(models.Model):
    """A person's collection of results, from any jobs or batches, in their own order
    (editor.albums), shared by link like one result (ShareLink.album)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="albums"
    )
    title = models.CharField(max_length=120)
    # Results of the album deleted since it was made (deleting a result takes it out of every
    # album): an album left with none says its photos were deleted rather than look unused.
    deleted_results = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=["owner", "-created_at"]),)

    def __str__(self) -> str:
        return self.title


class AlbumItem(models.Model):
    """One result in one album, at its place in the album's order (``position``, from 0)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="items")
    result = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="album_items")
    position = models.PositiveIntegerField(default=0)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("album", "position", "added_at")
        constraints = (
            models.UniqueConstraint(fields=["album", "result"], name="unique_album_result"),
        )

    def __str__(self) -> str:
        return gettext("Result %(result)s in album %(album)s") % {
            "result": self.result_id,
            "album": self.album_id,
        }


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("To send")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class EmailNotice(models.Model):
    """An email telling a person that work they started has ended: a batch, or one long job
    (editor.notifications). Kept with its outcome so that an admin sees what failed to send."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_notices"
    )
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="email_notices"
    )
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="email_notices"
    )
    recipe_run = models.ForeignKey(
        "RecipeRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="email_notices",
    )
    status = models.CharField(
        max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # The mail server's answer to the last failed try (never a password: Django's SMTP errors
    # carry the server's reply, not our credentials).
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When its next try is due: the sweeper re-sends a pending notice whose message was lost.
    due_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=("status", "due_at"), name="notice_due"),)

    def __str__(self) -> str:
        return gettext("notice %(id)s (%(status)s)") % {"id": self.pk, "status": self.status}


class Recipe(models.Model):
    """Operations chained: each step's result is the next step's photo (editor.recipes). The
    steps are checked by editor.recipes.check_steps before every save that pages, the API or the
    admin make; ``owner`` None: a studio recipe, offered to everyone, changed by admins only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="recipes",
        help_text=_("Empty: a studio recipe everyone can run."),
    )
    name = models.CharField(max_length=80)
    steps = models.JSONField(
        default=list, help_text=_("Each step: operation, provider and settings, in order.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name",)
        constraints = (
            models.UniqueConstraint(fields=["owner", "name"], name="unique_recipe_name"),
        )

    def __str__(self) -> str:
        return self.name


class RecipeBatch(models.Model):
    """A recipe started on several photos at once: one RecipeRun each (``runs``), shown
    together on one page. Each run goes its own way; the batch only groups them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recipe_batches"
    )
    recipe = models.ForeignKey(
        Recipe, null=True, blank=True, on_delete=models.SET_NULL, related_name="batches"
    )
    name = models.CharField(max_length=80, help_text=_("The recipe's name when the batch started."))
    created_at = models.DateTimeField(default=timezone.now)
    # When the one email saying every photo's run ended was decided on (editor.notifications):
    # set once, by a conditional UPDATE, so two runs ending at once make one email.
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at",)
        verbose_name_plural = _("recipe batches")

    def __str__(self) -> str:
        return gettext("%(recipe)s batch %(id)s") % {"recipe": self.name, "id": self.pk}


class RecipeRun(models.Model):
    """One photo taken through a recipe's steps. The steps are copied from the recipe when the
    run starts, so changing or deleting the recipe never changes a run under way."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recipe_runs"
    )
    recipe = models.ForeignKey(
        Recipe, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    name = models.CharField(max_length=80, help_text=_("The recipe's name when the run started."))
    steps = models.JSONField(default=list, help_text=_("The recipe's steps when the run started."))
    source_job = models.ForeignKey(
        Job,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="recipe_runs",
        help_text=_("The earlier job whose result the run started from, if any."),
    )
    batch = models.ForeignKey(
        RecipeBatch,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="runs",
        help_text=_("The batch the run was started in, if several photos were."),
    )
    photo_name = models.CharField(max_length=120, blank=True)
    original = models.CharField(
        max_length=200, blank=True, help_text=_("Storage name of the photo the run started from.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    # When the email saying it ended was decided on (editor.notifications): set once.
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=["owner", "-created_at"]),)

    def __str__(self) -> str:
        return gettext("%(recipe)s run %(id)s") % {"recipe": self.name, "id": self.pk}


class RecipeStepRun(models.Model):
    """One step of a run: the normal job that does it, once started. ``error``: why the step
    could not start (a quota, a missing key, a photo the operation does not take); a job that
    ran and failed keeps its own reason."""

    run = models.ForeignKey(RecipeRun, on_delete=models.CASCADE, related_name="step_runs")
    index = models.PositiveSmallIntegerField()
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="recipe_steps"
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("run", "index")
        constraints = (models.UniqueConstraint(fields=["run", "index"], name="unique_recipe_step"),)

    def __str__(self) -> str:
        return gettext("Step %(number)d of %(run)s") % {
            "number": self.index + 1,
            "run": self.run_id,
        }
