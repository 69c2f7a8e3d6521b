from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# "Never started a job": before any real moment, so such a person comes first in the queue.
NEVER = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class Plan(models.Model):
    """A named set of limits. A person gets one through, in order: their own assignment
    (``User.plan``), the highest-priority plan of their groups (``GroupPlan``), the plan named by
    ``settings.DEFAULT_PLAN``, else the ``QUOTA_*`` settings. A ``QuotaOverride`` beats any plan,
    one limit at a time (accounts.quotas.limits_for)."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    jobs_per_day = models.PositiveIntegerField(_("jobs per day"))
    credits_per_month = models.PositiveIntegerField(
        _("vendor credits per month"),
        help_text=_("At the vendors' prices per call; the built-in engine costs nothing."),
    )
    storage_bytes = models.PositiveBigIntegerField(
        _("stored bytes"), help_text=_("Photos, results and thumbnails together.")
    )
    concurrent_jobs = models.PositiveIntegerField(_("concurrent jobs"))
    waiting_jobs = models.PositiveIntegerField(
        _("jobs waiting for a slot"),
        default=500,
        help_text=_(
            "Jobs accepted beyond the concurrent jobs, waiting for one of them to end; a "
            "submission past this is refused."
        ),
    )
    operations = models.JSONField(
        _("operations allowed"),
        default=list,
        blank=True,
        help_text=_('Operation slugs, e.g. ["colorize", "extend"]. Empty: every operation.'),
    )
    providers = models.JSONField(
        _("providers allowed"),
        default=list,
        blank=True,
        help_text=_(
            "Provider names: picwish, ailabtools, ailabtools_advanced, local. Empty: every one."
        ),
    )
    house_keys = models.BooleanField(
        _("may use house keys"),
        default=True,
        help_text=_("People without their own key for a vendor use the studio's key."),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """The studio's user. Custom from the first migration so it can grow without pain."""

    plan = models.ForeignKey(
        Plan,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="users",
        help_text=_("Empty: the plan of their groups, else the default plan."),
    )
    # Set at each company sign-in from the provider's groups (accounts.social, CompanyGroupPlan);
    # kept apart from ``plan`` so a sign-in never overwrites what an admin assigned by hand.
    company_plan = models.ForeignKey(
        Plan,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="company_users",
        verbose_name=_("plan from company groups"),
        help_text=_("Set at each company sign-in from the provider's groups."),
    )
    # Opt-in: an email when a batch ends, or a job that took longer than a minute
    # (editor.notifications).
    email_when_done = models.BooleanField(_("email me when my work ends"), default=False)
    # A choice made with the language switcher; empty follows the browser (accounts.languages).
    language = models.CharField(
        _("language"),
        max_length=16,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Empty: the language of their browser."),
    )
    # The language the studio last served them in, so that what reaches them from a worker
    # (an email, a vendor's reason) is in it too when they never chose one.
    browser_language = models.CharField(max_length=16, blank=True, editable=False)


class GroupPlan(models.Model):
    """The plan for every member of a group who has no plan of their own."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="plan_assignment")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="groups")
    priority = models.IntegerField(
        _("priority"),
        default=0,
        help_text=_("For someone in several groups, the highest priority wins."),
    )

    class Meta:
        ordering = ("-priority", "group__name")

    def __str__(self) -> str:
        return f"{self.group} → {self.plan}"


class SignInRule(models.Model):
    """How people whose email is in ``domain`` sign in: with ``required``, only through the
    company's OpenID Connect provider (the password form refuses them and sends them there)."""

    domain = models.CharField(
        _("email domain"),
        max_length=253,
        unique=True,
        help_text=_("For example acme.com: everyone whose email ends in @acme.com."),
    )
    provider_id = models.CharField(
        _("company sign-in"),
        max_length=50,
        help_text=_("One of the providers in the OIDC_PROVIDERS setting."),
    )
    required = models.BooleanField(
        _("only way in"),
        default=True,
        help_text=_("People of this domain cannot sign in with a password."),
    )

    class Meta:
        ordering = ("domain",)

    def __str__(self) -> str:
        return self.domain

    def save(self, *args: object, **kwargs: object) -> None:
        self.domain = self.domain.strip().lower().lstrip("@")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class CompanyGroupPlan(models.Model):
    """A group named in the provider's groups claim, and the studio plan its members get.
    Applied at each company sign-in; for someone in several groups, the highest priority wins."""

    provider_id = models.CharField(_("company sign-in"), max_length=50)
    group = models.CharField(
        _("group in the provider's claim"),
        max_length=200,
        help_text=_("Exactly as the provider sends it in the groups claim."),
    )
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="company_groups")
    priority = models.IntegerField(_("priority"), default=0)

    class Meta:
        ordering = ("provider_id", "-priority", "group")
        constraints = (
            models.UniqueConstraint(
                fields=["provider_id", "group"], name="company_group_plan_unique_group"
            ),
        )

    def __str__(self) -> str:
        return f"{self.provider_id}: {self.group} → {self.plan}"


class QuotaOverride(models.Model):
    """Limits for one person that beat their plan, each one only when set."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="quota_override",
    )
    jobs_per_day = models.PositiveIntegerField(_("jobs per day"), null=True, blank=True)
    credits_per_month = models.PositiveIntegerField(
        _("vendor credits per month"), null=True, blank=True
    )
    storage_bytes = models.PositiveBigIntegerField(_("stored bytes"), null=True, blank=True)
    concurrent_jobs = models.PositiveIntegerField(_("concurrent jobs"), null=True, blank=True)
    waiting_jobs = models.PositiveIntegerField(_("jobs waiting for a slot"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    def __str__(self) -> str:
        return gettext("Override for user %(user)s") % {"user": self.user_id}


class Quota(models.Model):
    """One person's running usage against their limits, one row per user.

    Every charge and refund is a single conditional UPDATE on this row (see accounts.quotas),
    so concurrent submissions can never push a counter past its limit.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="quota"
    )
    day = models.DateField(default=dt.date.min)
    jobs_today = models.PositiveIntegerField(default=0)
    month = models.DateField(default=dt.date.min, help_text=_("First day of the counted month."))
    credits_this_month = models.PositiveIntegerField(default=0)
    active_jobs = models.PositiveIntegerField(default=0)
    # Jobs accepted (and charged) that wait for one of the ``active_jobs`` slots (editor.fairqueue).
    waiting_jobs = models.PositiveIntegerField(default=0)
    # The concurrent-jobs limit as last read for this person (at a charge or a promotion): lets
    # the sweeper find people with a free slot and waiting jobs in one indexed query, without
    # working out every waiting person's plan. Only a hint: a promotion reads the limit afresh.
    slots = models.PositiveIntegerField(default=0)
    # When a job of theirs last took a slot: who waited longest goes first (editor.fairqueue).
    last_started_at = models.DateTimeField(default=NEVER)
    stored_bytes = models.PositiveBigIntegerField(
        default=0, help_text=_("Bytes of this person's photos, results, thumbnails and drafts.")
    )

    class Meta:
        indexes = (
            # The sweeper's fair order over the people who have jobs waiting, in index order
            # to the last tie (editor.fairqueue.next_in_turn).
            models.Index(
                fields=["active_jobs", "last_started_at", "user"],
                condition=models.Q(waiting_jobs__gt=0),
                name="quota_waiting_fair_order",
            ),
        )

    def __str__(self) -> str:
        return gettext("Quota of user %(user)s") % {"user": self.user_id}


class StoredFile(models.Model):
    """The ledger behind ``Quota.stored_bytes``: one row per file kept for a person, with the
    bytes it was counted at. A row and its bytes on the count are written in one transaction
    (accounts.quotas), so the count is always the sum of the person's rows; storage itself is
    not transactional, so a file can exist without a row (written, then the process died) or
    a row outlive its file, and ``editor.reconcile`` mends both."""

    # The storage name (``jobs/<owner>/<job>/result-0.png``): names are ours, never a person's.
    name = models.CharField(max_length=255, primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stored_files"
    )
    bytes = models.PositiveBigIntegerField()
    counted_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class AuditAction(models.TextChoices):
    KEY_ADDED = "key_added", _("Key added")
    KEY_REPLACED = "key_replaced", _("Key replaced")
    KEY_CHANGED = "key_changed", _("Key changed")
    KEY_DELETED = "key_deleted", _("Key deleted")
    PLAN_CREATED = "plan_created", _("Plan created")
    PLAN_CHANGED = "plan_changed", _("Plan changed")
    PLAN_DELETED = "plan_deleted", _("Plan deleted")
    PLAN_ASSIGNED = "plan_assigned", _("Plan assigned")
    GROUP_PLAN_CHANGED = "group_plan_changed", _("Group plan changed")
    OVERRIDE_CHANGED = "override_changed", _("Quota override changed")
    SHARE_CREATED = "share_created", _("Share link created")
    SHARE_REVOKED = "share_revoked", _("Share link revoked")
    JOB_RETRIED = "job_retried", _("Job retried by an admin")
    JOB_CANCELED = "job_canceled", _("Job canceled by an admin")


class AuditEvent(models.Model):
    """A security-relevant event, written by accounts.audit.record: who did what to which
    object, and a few details that are never secret (no key, token or password)."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    # Kept when the actor's account is deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        if self.actor_name:
            return gettext("%(action)s by %(actor)s") % {
                "action": self.get_action_display(),
                "actor": self.actor_name,
            }
        return gettext("%(action)s by the studio") % {"action": self.get_action_display()}
