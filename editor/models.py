from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
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
        indexes = (models.Index(fields=["owner", "-created_at"]),)

    def __str__(self) -> str:
        return f"{self.operation} job {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def remaining(self) -> dt.timedelta:
        return self.deadline - timezone.now()


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
