from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from editor.models import plain_text

# Tokens start with this, so a leaked one is recognisable (secret scanners, logs).
PREFIX = "pst_"


def token_hash(token: str) -> str:
    """A token is 256 random bits: one round of SHA-256 is all the storage needs."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def live(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal access token for the JSON API: shown once when made, stored as a hash."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=80)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters after the prefix, to tell tokens apart in a list.
    hint = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    def __repr__(self) -> str:
        return f"<ApiToken {self.pk}>"

    @property
    def masked(self) -> str:
        return f"{PREFIX}{self.hint}…"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def create(cls, owner: models.Model, name: str) -> tuple[ApiToken, str]:
        """A new token and its plain text, which is never stored or shown again."""
        body = secrets.token_urlsafe(32)
        token = PREFIX + body
        made = cls.objects.create(
            owner_id=owner.pk,
            name=plain_text(name).strip(),
            token_hash=token_hash(token),
            hint=body[:6],
        )
        return made, token

    @classmethod
    def find(cls, token: str) -> ApiToken | None:
        """The live token for a presented plain text; None for unknown and revoked alike."""
        if not token.startswith(PREFIX) or len(token) > 100:
            return None
        return (
            cls.objects.live().select_related("owner").filter(token_hash=token_hash(token)).first()
        )

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self) -> None:
        """Record use, at most once a minute (a script may call many times a second)."""
        now = timezone.now()
        if self.last_used_at is None or (now - self.last_used_at).total_seconds() >= 60:
            ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


class Webhook(models.Model):
    """Where to tell the caller that a job ended (``webhook_url`` on POST /api/v1/jobs), and how
    the latest delivery went. One per job: each end of the job (it may be retried and end
    again) starts a new delivery with a new ``delivery`` id.

    ``token_hash`` is a snapshot of the hash of the token that created the job: it is the
    signing key (the caller computes it from their token), and it stays valid when the token is
    later revoked, so the studio never needs the token itself.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.OneToOneField("editor.Job", on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=2000)
    token_hash = models.CharField(max_length=64, editable=False)
    delivery = models.UUIDField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"webhook of job {self.job_id}"

    def __repr__(self) -> str:
        return f"<Webhook {self.pk}>"


class IdempotencyKey(models.Model):
    """A POST sent with an ``Idempotency-Key`` header (api.idempotency): the request it named
    (its line and fingerprint) and, once the work is done, the answer it got, kept for
    ``API_IDEMPOTENCY_SECONDS`` so that the same request sent again gets that answer instead of
    doing the work twice. Keys are per person: nobody reaches another person's answers.

    The row is inserted before the work starts, with no ``status`` (in flight), and the
    unique constraint lets exactly one of two racing requests with the same key in; the answer
    is written in the transaction that does the work. ``attempt`` names the request that holds
    the row: a row left in flight by a request that died is taken over by changing it.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # "POST /api/v1/jobs", to say which request a key was used for.
    request = models.CharField(max_length=300)
    fingerprint = models.CharField(max_length=64)
    attempt = models.UUIDField(default=uuid.uuid4)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.BinaryField(default=b"", blank=True)
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["owner", "key"], name="unique_idempotency_key"),
        )

    def __str__(self) -> str:
        return f"idempotency key of {self.owner_id} for {self.request}"

    def __repr__(self) -> str:
        return f"<IdempotencyKey {self.pk}>"

    @property
    def in_flight(self) -> bool:
        return self.status is None
