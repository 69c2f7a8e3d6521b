from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Vendor(models.TextChoices):
    AILABTOOLS = "ailabtools", "AILabTools"
    PICWISH = "picwish", "PicWish"


class VendorKey(models.Model):
    """A person's API key for one vendor, stored encrypted (editor.vault)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vendor_keys"
    )
    vendor = models.CharField(max_length=20, choices=Vendor.choices)
    label = models.CharField(max_length=100)
    ciphertext = models.TextField(editable=False)
    last_four = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ("vendor", "label")
        constraints = (
            models.UniqueConstraint(
                fields=["owner", "vendor", "label"], name="unique_key_label_per_vendor"
            ),
        )

    def __str__(self) -> str:
        return f"{self.label} ({self.get_vendor_display()}, {self.masked})"

    def __repr__(self) -> str:
        return f"<VendorKey {self.pk} {self.vendor} {self.masked}>"

    @property
    def masked(self) -> str:
        return f"••••{self.last_four}"

    def set_secret(self, secret: str) -> None:
        from editor import vault

        self.ciphertext = vault.encrypt(secret)
        self.last_four = secret[-4:]


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting on vendor")
    STORING = "storing", _("Storing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING, JobStatus.STORING)
ENDED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)
# How far the job page follows "run again" links, and how many jobs it compares at most.
FAMILY_DEPTH = 20
FAMILY_SIZE = 48


class Job(models.Model):
    """One run of one operation. The database is the source of truth for its progress: the
    status says which step comes next, and ``dispatch``/``lease_until`` make sure exactly one
    worker does it (see editor.jobs)."""

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
    source_job = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reruns",
        help_text="The earlier job whose photo this one reused (Run again with changes).",
    )
    inputs = models.JSONField(default=dict, help_text="File role -> storage name.")
    prepared = models.JSONField(default=dict, help_text="File role -> fitted storage name.")
    notes = models.JSONField(default=list, help_text="What was done to fit the inputs.")
    status = models.CharField(
        max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    vendor_ref = models.CharField(max_length=200, blank=True)
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

    class Meta:
        ordering = ("-created_at",)
        indexes = (
            models.Index(fields=["owner", "-created_at"]),
            # The job feed asks for a person's jobs that ended since a moment.
            models.Index(fields=["owner", "finished_at"]),
        )

    def __str__(self) -> str:
        return f"{self.operation} job {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

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
        return f"Result {self.position} of job {self.job_id}"

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

    @property
    def is_studio(self) -> bool:
        return self.owner_id is None


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
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"Draft {self.role} of {self.owner_id}"

    def read(self) -> bytes | None:
        """The kept bytes, or None when the file is gone."""
        if not self.file.name or not default_storage.exists(self.file.name):
            return None
        with default_storage.open(self.file.name, "rb") as handle:
            data: bytes = handle.read()
        return data

    def delete_file(self) -> None:
        if self.file.name:
            default_storage.delete(self.file.name)
