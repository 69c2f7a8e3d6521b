"""Admin for people, plans and the audit log.

Plans are named sets of limits; an admin assigns one to a person (their change page) or to a
group (the group's page), and overrides single limits for one person. Each of those changes is
written to the audit log (accounts.audit), which admins read here and nobody can edit.
editor.admin re-registers ``PlanAdmin`` with the operations and providers as checkboxes: the
names live in editor, which accounts never imports.
"""

from __future__ import annotations

import json
from typing import Any

from allauth.socialaccount.models import SocialApp, SocialToken
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Count, Model, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit, quotas, signin
from accounts.models import (
    AuditAction,
    AuditEvent,
    CompanyGroupPlan,
    GroupPlan,
    Plan,
    Quota,
    QuotaOverride,
    SignInRule,
    User,
)

MB = 1024 * 1024
PLAN_FIELDS = (
    "name",
    "description",
    "jobs_per_day",
    "credits_per_month",
    "storage_bytes",
    "concurrent_jobs",
    "waiting_jobs",
    "operations",
    "providers",
    "house_keys",
)
# Characters of an event's details shown in the list; the event's page shows them all.
SUMMARY_LENGTH = 80
OVERRIDE_FIELDS = (
    "jobs_per_day",
    "credits_per_month",
    "storage_bytes",
    "concurrent_jobs",
    "waiting_jobs",
    "note",
)


class MegabytesField(forms.IntegerField):
    """Stored bytes, typed and shown in megabytes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2**63 // MB - 1)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        # Only the model's own value (bytes, an int) is converted; typed text is shown back as is.
        if isinstance(value, int):
            return value // MB
        return value

    def to_python(self, value: Any) -> int | None:
        megabytes = super().to_python(value)
        return None if megabytes is None else megabytes * MB

    def run_validators(self, value: Any) -> None:
        # Limits are checked in megabytes, as typed.
        super().run_validators(None if value is None else value // MB)


class PlanForm(forms.ModelForm):  # type: ignore[type-arg]
    storage_bytes = MegabytesField(
        label=_("Storage (MB)"), help_text=_("Photos, results and thumbnails together.")
    )

    class Meta:
        model = Plan
        fields = PLAN_FIELDS

    def _names(self, field: str) -> list[str]:
        value = self.cleaned_data.get(field) or []
        if not isinstance(value, list) or not all(
            isinstance(name, str) and 0 < len(name) <= 40 for name in value
        ):
            raise forms.ValidationError(_('A list of names, such as ["colorize", "extend"].'))
        return sorted(set(value))

    def clean_operations(self) -> list[str]:
        return self._names("operations")

    def clean_providers(self) -> list[str]:
        return self._names("providers")


def plan_values(plan: Plan) -> dict[str, Any]:
    return {name: getattr(plan, name) for name in PLAN_FIELDS if name != "name"}


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = PlanForm
    list_display = (
        "name",
        "jobs_per_day",
        "credits_per_month",
        "storage",
        "concurrent_jobs",
        "waiting_jobs",
        "allowed_operations",
        "allowed_providers",
        "house_keys",
        "user_count",
        "group_count",
    )
    search_fields = ("name", "description")
    fields = PLAN_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        plans: QuerySet[Plan] = super().get_queryset(request)
        return plans.annotate(
            user_count=Count("users", distinct=True), group_count=Count("groups", distinct=True)
        )

    @admin.display(description=_("Storage"), ordering="storage_bytes")
    def storage(self, plan: Plan) -> str:
        return filesizeformat(plan.storage_bytes)

    @admin.display(description=_("Operations"))
    def allowed_operations(self, plan: Plan) -> str:
        return ", ".join(plan.operations) or gettext("all")

    @admin.display(description=_("Providers"))
    def allowed_providers(self, plan: Plan) -> str:
        return ", ".join(plan.providers) or gettext("all")

    @admin.display(description=_("People"), ordering="user_count")
    def user_count(self, plan: Plan) -> int:
        return int(getattr(plan, "user_count", 0))

    @admin.display(description=_("Groups"), ordering="group_count")
    def group_count(self, plan: Plan) -> int:
        return int(getattr(plan, "group_count", 0))

    def save_model(self, request: HttpRequest, obj: Plan, form: Any, change: bool) -> None:
        before = Plan.objects.filter(pk=obj.pk).values(*PLAN_FIELDS).first() if change else None
        super().save_model(request, obj, form, change)
        if before is None:
            audit.record(
                AuditAction.PLAN_CREATED, obj, request=request, details={"limits": plan_values(obj)}
            )
            return
        changes = {
            name: {"old": before[name], "new": getattr(obj, name)}
            for name in PLAN_FIELDS
            if before[name] != getattr(obj, name)
        }
        if changes:
            audit.record(
                AuditAction.PLAN_CHANGED, obj, request=request, details={"changes": changes}
            )

    def _record_deletion(self, request: HttpRequest, plan: Plan) -> None:
        audit.record(
            AuditAction.PLAN_DELETED,
            plan,
            request=request,
            details={
                "limits": plan_values(plan),
                # They fall back to their groups' plan, else the default one.
                "people": list(plan.users.values_list("username", flat=True)[:50]),
                "groups": list(plan.groups.values_list("group__name", flat=True)[:50]),
            },
        )

    def delete_model(self, request: HttpRequest, obj: Plan) -> None:
        self._record_deletion(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        for plan in queryset:
            self._record_deletion(request, plan)
        super().delete_queryset(request, queryset)


# --- People ----------------------------------------------------------------------------------


class QuotaOverrideForm(forms.ModelForm):  # type: ignore[type-arg]
    storage_bytes = MegabytesField(
        label=_("Storage (MB)"), required=False, help_text=_("Empty: the plan's.")
    )

    class Meta:
        model = QuotaOverride
        fields = OVERRIDE_FIELDS


class QuotaOverrideInline(admin.StackedInline):  # type: ignore[type-arg]
    model = QuotaOverride
    form = QuotaOverrideForm
    max_num = 1
    extra = 0
    verbose_name = _("limit override")
    verbose_name_plural = _("Limit overrides (each one beats the plan; empty: the plan's)")


class QuotaInline(admin.StackedInline):  # type: ignore[type-arg]
    """What the person used: counters of the current day and month only (older ones are stale
    until their next job rolls them over)."""

    model = Quota
    can_delete = False
    max_num = 1
    extra = 0
    fields = ("jobs_today", "credits_this_month", "active_jobs", "waiting_jobs", "stored")
    readonly_fields = fields
    verbose_name = _("usage")
    verbose_name_plural = _("Usage")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description=_("Jobs today"))
    def jobs_today(self, quota: Quota) -> int:
        return quota.jobs_today if quota.day == timezone.localdate() else 0

    @admin.display(description=_("Credits this month"))
    def credits_this_month(self, quota: Quota) -> int:
        month = timezone.localdate().replace(day=1)
        return quota.credits_this_month if quota.month == month else 0

    @admin.display(description=_("Jobs running"))
    def active_jobs(self, quota: Quota) -> int:
        return quota.active_jobs

    @admin.display(description=_("Jobs waiting for a slot"))
    def waiting_jobs(self, quota: Quota) -> int:
        return quota.waiting_jobs

    @admin.display(description=_("Stored"))
    def stored(self, quota: Quota) -> str:
        return filesizeformat(quota.stored_bytes)


def _override_changes(formset: BaseInlineFormSet) -> dict[str, dict[str, Any]]:  # type: ignore[type-arg]
    """Each override field that the valid ``formset`` is about to change: old and new value."""
    changes: dict[str, dict[str, Any]] = {}
    for form in formset.forms:
        if form.instance.pk is not None and form in formset.deleted_forms:
            for name in OVERRIDE_FIELDS:
                old = form.initial.get(name)
                if old not in (None, ""):
                    changes[name] = {"old": old, "new": None}
        elif form.has_changed():
            for name in form.changed_data:
                if name in OVERRIDE_FIELDS:
                    changes[name] = {
                        "old": form.initial.get(name),
                        "new": form.cleaned_data.get(name),
                    }
    return changes


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    list_display = (
        "username",
        "email",
        "plan",
        "is_staff",
        "is_active",
        "date_joined",
        "last_login",
    )
    list_filter = ("plan", *BaseUserAdmin.list_filter)
    list_select_related = ("plan",)
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (_("Plan"), {"fields": ("plan", "company_plan", "limits_now")}),
    )
    readonly_fields = ("company_plan", "limits_now")

    def get_inlines(self, request: HttpRequest, obj: User | None) -> list[type[Any]]:
        return [] if obj is None else [QuotaOverrideInline, QuotaInline]

    @admin.display(description=_("Limits now"))
    def limits_now(self, user: User) -> str:
        if user.pk is None:
            return "-"
        limits = quotas.limits_for(user)
        return gettext(
            "%(plan)s: %(jobs)d jobs a day, %(credits)d credits a month, %(storage)s stored, "
            "%(concurrent)d at once and %(waiting)d waiting for a slot; operations: "
            "%(operations)s; providers: %(providers)s; house keys: %(house)s."
        ) % {
            "plan": limits.plan or gettext("no plan (the studio's defaults)"),
            "jobs": limits.jobs_per_day,
            "credits": limits.credits_per_month,
            "storage": filesizeformat(limits.storage_bytes),
            "concurrent": limits.concurrent_jobs,
            "waiting": limits.waiting_jobs,
            "operations": ", ".join(limits.operations) or gettext("all"),
            "providers": ", ".join(limits.providers) or gettext("all"),
            "house": gettext("yes") if limits.house_keys else gettext("no"),
        }

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        old_plan = (
            User.objects.filter(pk=obj.pk).values_list("plan__name", flat=True).first()
            if change
            else None
        )
        super().save_model(request, obj, form, change)
        new_plan = obj.plan.name if obj.plan is not None else None
        if change and old_plan != new_plan:
            audit.record(
                AuditAction.PLAN_ASSIGNED,
                obj,
                request=request,
                details={"old": old_plan, "new": new_plan},
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        changes = _override_changes(formset) if formset.model is QuotaOverride else {}
        super().save_formset(request, form, formset, change)
        if changes:
            audit.record(
                AuditAction.OVERRIDE_CHANGED,
                form.instance,
                request=request,
                details={"changes": changes},
            )


# --- Groups ----------------------------------------------------------------------------------


class GroupPlanInline(admin.StackedInline):  # type: ignore[type-arg]
    model = GroupPlan
    max_num = 1
    extra = 0
    verbose_name = _("plan of this group")
    verbose_name_plural = _("Plan (for members without a plan of their own)")


def _group_plan_state(group: Group) -> dict[str, Any] | None:
    row = GroupPlan.objects.filter(group=group).values("plan__name", "priority").first()
    return None if row is None else {"plan": row["plan__name"], "priority": row["priority"]}


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin):
    inlines = (GroupPlanInline,)
    list_display = ("name", "plan")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Group]:
        return super().get_queryset(request).select_related("plan_assignment__plan")

    @admin.display(description=_("Plan"))
    def plan(self, group: Group) -> str:
        assignment = getattr(group, "plan_assignment", None)
        return str(assignment.plan) if assignment is not None else "-"

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        group = form.instance
        before = _group_plan_state(group) if formset.model is GroupPlan else None
        super().save_formset(request, form, formset, change)
        if formset.model is not GroupPlan:
            return
        after = _group_plan_state(group)
        if before != after:
            audit.record(
                AuditAction.GROUP_PLAN_CHANGED,
                group,
                request=request,
                details={"old": before, "new": after},
            )


# --- Company sign-in -------------------------------------------------------------------------
# Providers come from the OIDC_PROVIDERS setting (the environment), never from the database:
# allauth's own SocialApp and SocialToken pages are taken away, so no client secret or token
# can be typed into or shown by the admin.

for _model in (SocialApp, SocialToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class ProviderChoiceForm(forms.ModelForm):  # type: ignore[type-arg]
    """``provider_id`` as a choice of the configured providers (their names, nothing else)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = list(signin.providers().items())
        current = self.instance.provider_id if self.instance.pk else ""
        if current and current not in dict(choices):
            choices.append((current, gettext("%(id)s (not configured)") % {"id": current}))
        self.fields["provider_id"] = forms.ChoiceField(
            label=_("company sign-in"),
            choices=choices,
            help_text=_("The providers set in OIDC_PROVIDERS."),
        )

    def clean_provider_id(self) -> str:
        value = str(self.cleaned_data["provider_id"])
        if value not in signin.providers():
            raise forms.ValidationError(gettext("This provider is not configured."))
        return value


class SignInRuleForm(ProviderChoiceForm):
    class Meta:
        model = SignInRule
        fields = ("domain", "provider_id", "required")

    def clean_domain(self) -> str:
        domain = str(self.cleaned_data["domain"]).strip().lower().lstrip("@")
        if not domain or "@" in domain or "." not in domain or " " in domain:
            raise forms.ValidationError(gettext("Enter a domain such as acme.com."))
        return domain


@admin.register(SignInRule)
class SignInRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = SignInRuleForm
    list_display = ("domain", "provider_id", "required")
    list_filter = ("required", "provider_id")
    search_fields = ("domain",)


class CompanyGroupPlanForm(ProviderChoiceForm):
    class Meta:
        model = CompanyGroupPlan
        fields = ("provider_id", "group", "plan", "priority")


@admin.register(CompanyGroupPlan)
class CompanyGroupPlanAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The provider's groups claim → studio plan table, applied at each company sign-in."""

    form = CompanyGroupPlanForm
    list_display = ("group", "provider_id", "plan", "priority")
    list_filter = ("provider_id", "plan")
    list_select_related = ("plan",)
    search_fields = ("group",)


# --- Audit log -------------------------------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read only, for everyone: the log is written by accounts.audit.record alone."""

    list_display = (
        "created_at",
        "action",
        "actor_name",
        "target_label",
        "summary",
        "ip",
    )
    list_filter = ("action", "created_at", "target_type")
    search_fields = ("actor_name", "target_label")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "action",
        "actor",
        "actor_name",
        "target_type",
        "target_id",
        "target_label",
        "details",
        "ip",
    )
    readonly_fields = fields

    @admin.display(description=_("Details"))
    def summary(self, event: AuditEvent) -> str:
        # Sorted: PostgreSQL keeps JSON keys in its own order, SQLite in the written one.
        text = json.dumps(event.details, ensure_ascii=False, default=str, sort_keys=True)
        return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
