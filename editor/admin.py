"""Admin for keys, jobs, results, presets and share links.

People add their own keys in the vault; here an admin sees every key (masked), relabels one,
deletes one, and adds the studio's house keys (no owner, one per vendor), whose secret goes
in through a password field, is encrypted at once (VendorKey.set_secret) and never comes back:
the ciphertext is on no admin form or page, and neither is a share link's token (hash or
ciphertext): an admin can see that a link exists and revoke it, not open it. Jobs are read
only, with two actions: retry (charged to the job's owner, like their own retry) and cancel.
Presets are managed here too: admins add the studio's presets (no owner).

Every change to a key, a share link or a job made here is written to the audit log.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from accounts import audit
from accounts.admin import PlanAdmin as AccountsPlanAdmin
from accounts.admin import PlanForm as AccountsPlanForm
from accounts.models import AuditAction, Plan
from accounts.quotas import QuotaExceeded
from editor import jobs, keycheck, keys, notifications, operations, recipes, submissions
from editor.models import (
    UNFINISHED_STATUSES,
    Album,
    AlbumItem,
    EmailNotice,
    Job,
    JobStatus,
    NoticeStatus,
    Preset,
    Recipe,
    RecipeRun,
    Result,
    ShareLink,
    Vendor,
    VendorKey,
)

# --- Plans: the operations and providers as checkboxes ------------------------------------------


# Outside the form: its ``operations`` field would hide the module inside the class body.
OPERATION_CHOICES = [(operation.slug, operation.label) for operation in operations.OPERATIONS]
PROVIDER_CHOICES = [(name, provider.label) for name, provider in operations.PROVIDERS.items()]


class PlanForm(AccountsPlanForm):
    operations = forms.MultipleChoiceField(
        label=_("Operations allowed"),
        required=False,
        choices=OPERATION_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every operation."),
    )
    providers = forms.MultipleChoiceField(
        label=_("Providers allowed"),
        required=False,
        choices=PROVIDER_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every provider."),
    )


admin.site.unregister(Plan)


@admin.register(Plan)
class PlanAdmin(AccountsPlanAdmin):
    form = PlanForm


# --- Keys --------------------------------------------------------------------------------------


def _key_details(key: VendorKey, **extra: Any) -> dict[str, Any]:
    """What the audit log keeps about a key: never the key itself, only its last four."""
    return {
        "house": key.is_house_key,
        "owner": key.owner.get_username() if key.owner is not None else None,
        "vendor": key.vendor,
        "label": key.label,
        "last_four": key.last_four,
        **extra,
    }


class HouseKeyAddForm(forms.ModelForm):  # type: ignore[type-arg]
    """A new house key: the studio's key for one vendor, used by people without their own."""

    secret = forms.CharField(
        label=_("API key"),
        max_length=keys.SECRET_MAX,
        widget=keys.secret_widget(),
        help_text=_("Stored encrypted. Only its last four characters are shown again."),
    )

    # The vendor's word on the secret, from ``clean`` (editor.keycheck).
    check: keycheck.Outcome

    class Meta:
        model = VendorKey
        fields = ("vendor", "label", "monthly_credit_cap")

    def clean_vendor(self) -> str:
        vendor: str = self.cleaned_data["vendor"]
        if VendorKey.objects.filter(owner__isnull=True, vendor=vendor).exists():
            raise forms.ValidationError(
                _("The studio already has a %(vendor)s house key. Open it to replace its secret.")
                % {"vendor": Vendor(vendor).label}
            )
        return vendor

    def clean_secret(self) -> str:
        return keys.clean_secret(self.cleaned_data["secret"])

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or self.cleaned_data
        vendor, secret = cleaned.get("vendor"), cleaned.get("secret")
        if vendor and secret and not self.errors:
            # Asked last, once everything else is right: a form refused for its label would
            # otherwise call the vendor for nothing.
            try:
                self.check = keys.check_with_vendor(vendor, secret)
            except keys.KeyRefused as refused:
                self.add_error("secret", refused.message)
        return cleaned

    def save(self, commit: bool = True) -> VendorKey:
        key: VendorKey = super().save(commit=False)
        key.owner = None
        key.set_secret(self.cleaned_data["secret"])
        keycheck.record(key, self.check, timezone.now())
        if commit:
            key.save()
        return key


class KeyChangeForm(forms.ModelForm):  # type: ignore[type-arg]
    """A key's label (any key) and, for a house key, its cap and a new secret."""

    class Meta:
        model = VendorKey
        fields = ("label",)

    def clean_label(self) -> str:
        label: str = self.cleaned_data["label"]
        key = self.instance
        if (
            VendorKey.objects.filter(owner_id=key.owner_id, vendor=key.vendor, label=label)
            .exclude(pk=key.pk)
            .exists()
        ):
            raise forms.ValidationError(_("Another key of this owner and vendor has this label."))
        return label


class HouseKeyChangeForm(KeyChangeForm):
    new_secret = forms.CharField(
        label=_("New API key"),
        max_length=keys.SECRET_MAX,
        required=False,
        widget=keys.secret_widget(),
        help_text=_("Leave blank to keep the current key."),
    )
    check: keycheck.Outcome

    class Meta:
        model = VendorKey
        fields = ("label", "monthly_credit_cap")

    def clean_new_secret(self) -> str:
        secret: str = self.cleaned_data["new_secret"]
        if not secret:
            return ""
        secret = keys.clean_secret(secret)
        try:
            self.check = keys.check_with_vendor(self.instance.vendor, secret)
        except keys.KeyRefused as refused:
            raise forms.ValidationError(refused.message) from None
        return secret

    def save(self, commit: bool = True) -> VendorKey:
        key: VendorKey = super().save(commit=False)
        if self.cleaned_data.get("new_secret"):
            key.set_secret(self.cleaned_data["new_secret"])
            # The old key's error says nothing about the new one.
            key.last_error = ""
            key.checked_at = key.checked_credits = None
            keycheck.record(key, self.check, timezone.now())
        if commit:
            key.save()
        return key


@admin.register(VendorKey)
class VendorKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "label",
        "owner_or_house",
        "vendor",
        "masked",
        "last_used_at",
        "cap",
        "created_at",
        "last_error",
    )
    list_filter = ("vendor", ("owner", admin.EmptyFieldListFilter))
    list_select_related = ("owner",)
    search_fields = ("label", "owner__username")
    exclude = ("ciphertext",)

    def get_form(
        self,
        request: HttpRequest,
        obj: VendorKey | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> Any:
        if obj is None:
            kwargs["form"] = HouseKeyAddForm
        elif obj.is_house_key:
            kwargs["form"] = HouseKeyChangeForm
        else:
            kwargs["form"] = KeyChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: VendorKey | None = None) -> Any:
        if obj is None:
            return ("vendor", "label", "secret", "monthly_credit_cap")
        if obj.is_house_key:
            return (
                "label",
                "owner_or_house",
                "vendor",
                "masked",
                "new_secret",
                "monthly_credit_cap",
                "this_month",
                "created_at",
                "last_used_at",
                "last_error",
                "check_status",
                "checked_at",
                "checked_credits",
            )
        return (
            "label",
            "owner",
            "vendor",
            "masked",
            "cap",
            "this_month",
            "created_at",
            "last_used_at",
            "last_error",
            "check_status",
            "checked_at",
            "checked_credits",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: VendorKey | None = None) -> Any:
        if obj is None:
            return ()
        return (
            "owner",
            "owner_or_house",
            "vendor",
            "masked",
            "cap",
            "this_month",
            "created_at",
            "last_used_at",
            "last_error",
            "check_status",
            "checked_at",
            "checked_credits",
        )

    @method_decorator(sensitive_post_parameters("secret", "new_secret"))
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("Owner"), ordering="owner__username")
    def owner_or_house(self, key: VendorKey) -> str:
        return key.owner.get_username() if key.owner is not None else gettext("House key")

    @admin.display(description=_("Key"))
    def masked(self, key: VendorKey) -> str:
        return key.masked

    @admin.display(description=_("Monthly cap"), ordering="monthly_credit_cap")
    def cap(self, key: VendorKey) -> str:
        return str(key.monthly_credit_cap) if key.monthly_credit_cap is not None else "-"

    @admin.display(description=_("Credits this month"))
    def this_month(self, key: VendorKey) -> int:
        month = timezone.localdate().replace(day=1)
        return key.credits_this_month if key.credits_month == month else 0

    def save_model(self, request: HttpRequest, obj: VendorKey, form: Any, change: bool) -> None:
        before: dict[str, Any] | None = None
        if change:
            before = dict(
                VendorKey.objects.filter(pk=obj.pk)
                .values("label", "monthly_credit_cap", "last_four", "ciphertext")
                .get()
            )
        super().save_model(request, obj, form, change)
        if before is None:
            audit.record(AuditAction.KEY_ADDED, obj, request=request, details=_key_details(obj))
            return
        if before["ciphertext"] != obj.ciphertext:
            audit.record(
                AuditAction.KEY_REPLACED,
                obj,
                request=request,
                details=_key_details(obj, old_last_four=before["last_four"]),
            )
        changes = {
            name: {"old": before[name], "new": getattr(obj, name)}
            for name in ("label", "monthly_credit_cap")
            if before[name] != getattr(obj, name)
        }
        if changes:
            audit.record(
                AuditAction.KEY_CHANGED,
                obj,
                request=request,
                details=_key_details(obj, changes=changes),
            )

    def delete_model(self, request: HttpRequest, obj: VendorKey) -> None:
        audit.record(AuditAction.KEY_DELETED, obj, request=request, details=_key_details(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[VendorKey]) -> None:
        for key in queryset.select_related("owner"):
            audit.record(AuditAction.KEY_DELETED, key, request=request, details=_key_details(key))
        super().delete_queryset(request, queryset)


# --- Jobs and results ----------------------------------------------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Jobs and results are made by the studio. Delete stays allowed so that deleting a user
    (whose jobs cascade) still works from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


def _job_details(job: Job, status: str) -> dict[str, Any]:
    return {
        "owner": job.owner.get_username(),
        "operation": job.operation,
        "provider": job.provider,
        "status": status,
    }


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "owner",
        "operation",
        "provider",
        "house_key",
        "status",
        "error_code",
        "progress",
        "created_at",
        "finished_at",
    )
    list_filter = (
        "status",
        "operation",
        "provider",
        "house_key",
        ("owner", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("owner",)
    search_fields = ("owner__username", "error_code")
    date_hierarchy = "created_at"
    actions = ("retry", "cancel")

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("editor.change_job")

    @admin.action(
        description=_("Retry the selected failed or canceled jobs (charged to their owners)"),
        permissions=("manage",),
    )
    def retry(self, request: HttpRequest, queryset: models.QuerySet[Job]) -> None:
        retried = 0
        ended = (JobStatus.FAILED, JobStatus.CANCELED)
        skipped = queryset.exclude(status__in=ended).count()
        for job in queryset.filter(status__in=ended).select_related("owner"):
            status = job.status
            try:
                jobs.retry(job)
            except QuotaExceeded as exceeded:
                self.message_user(
                    request,
                    gettext("Job %(job)s of %(owner)s was not retried: %(reason)s")
                    % {
                        "job": job.pk,
                        "owner": job.owner.get_username(),
                        "reason": exceeded.message,
                    },
                    messages.ERROR,
                )
                continue
            if job.status in (JobStatus.PENDING, JobStatus.QUEUED):
                retried += 1
                audit.record(
                    AuditAction.JOB_RETRIED, job, request=request, details=_job_details(job, status)
                )
        if retried:
            self.message_user(request, gettext("%(count)d job(s) sent again.") % {"count": retried})
        if skipped:
            self.message_user(
                request,
                gettext("%(count)d job(s) skipped: only failed or canceled jobs can be retried.")
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(
        description=_("Cancel the selected jobs (their credits are refunded)"),
        permissions=("manage",),
    )
    def cancel(self, request: HttpRequest, queryset: models.QuerySet[Job]) -> None:
        canceled = 0
        for job in queryset.filter(status__in=UNFINISHED_STATUSES).select_related("owner"):
            status = job.status
            if jobs.cancel(job):
                canceled += 1
                audit.record(
                    AuditAction.JOB_CANCELED,
                    job,
                    request=request,
                    details=_job_details(job, status),
                )
        self.message_user(request, gettext("%(count)d job(s) canceled.") % {"count": canceled})


@admin.register(Result)
class ResultAdmin(ReadOnlyAdmin):
    list_display = ("id", "job", "position", "media_type", "width", "height", "bytes", "created_at")
    list_select_related = ("job",)


class PresetAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """A preset's parameters as JSON, checked against the operation's declarations like the
    ones saved from the operation page."""

    operation = forms.ChoiceField(label=_("Operation"))

    class Meta:
        model = Preset
        fields = ("name", "owner", "operation", "provider", "params")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        operation_field = cast(forms.ChoiceField, self.fields["operation"])
        operation_field.choices = [(o.slug, o.label) for o in operations.OPERATIONS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        slug = cleaned.get("operation")
        if not slug:
            return cleaned
        operation = operations.get(str(slug))
        provider = str(cleaned.get("provider") or "")
        if provider and provider not in {p.name for p in operation.providers}:
            self.add_error(
                "provider",
                _("%(operation)s runs on: %(names)s.")
                % {
                    "operation": operation.label,
                    "names": ", ".join(p.name for p in operation.providers),
                },
            )
            return cleaned
        if "params" in cleaned:
            try:
                cleaned["params"] = submissions.check_preset_params(
                    operation, provider, cleaned["params"]
                )
            except forms.ValidationError as error:
                self.add_error("params", error)
        return cleaned


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = PresetAdminForm
    list_display = ("name", "operation", "provider", "shared_by", "created_at")
    list_filter = ("operation", ("owner", admin.EmptyFieldListFilter))
    list_select_related = ("owner",)
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)
    fields = ("name", "owner", "operation", "provider", "params", "created_at")
    readonly_fields = ("created_at",)

    @admin.display(description=_("Owner"), ordering="owner__username")
    def shared_by(self, preset: Preset) -> str:
        return preset.owner.get_username() if preset.owner else str(_("Studio (everyone)"))


class RecipeAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """A recipe's steps as JSON, checked as the studio and the API check them, each error naming
    its step and field. No owner: a studio recipe, offered to everyone."""

    class Meta:
        model = Recipe
        fields = ("name", "owner", "steps")

    def clean_steps(self) -> list[dict[str, Any]]:
        try:
            steps = recipes.check_steps(self.cleaned_data.get("steps"))
        except recipes.RecipeInvalid as invalid:
            raise forms.ValidationError(
                [recipes.describe(error) for error in invalid.errors]
            ) from None
        return [step.as_json() for step in steps]


@admin.register(Recipe)
class RecipeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = RecipeAdminForm
    list_display = ("name", "shared_by", "updated_at")
    list_filter = (("owner", admin.EmptyFieldListFilter),)
    list_select_related = ("owner",)
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description=_("Owner"), ordering="owner__username")
    def shared_by(self, recipe: Recipe) -> str:
        return recipe.owner.get_username() if recipe.owner else str(_("Studio (everyone)"))


@admin.register(RecipeRun)
class RecipeRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "owner", "name", "source_job", "batch", "created_at")
    list_select_related = ("owner", "batch")
    search_fields = ("owner__username", "name")


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "owner",
        "result",
        "album",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
        "has_password",
        "include_original",
        "views",
        "failed_passwords",
        "last_failed_password_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "include_original")
    list_select_related = ("owner", "result", "album")
    search_fields = ("owner__username",)
    fields = (
        "id",
        "owner",
        "result",
        "album",
        "name",
        "created_at",
        "expires_at",
        "revoked_at",
        "include_original",
        "views",
        "last_viewed_at",
        "failed_passwords",
        "last_failed_password_at",
    )
    readonly_fields = fields
    actions = ("revoke",)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("editor.change_sharelink")

    @admin.display(description=_("Password"), boolean=True)
    def has_password(self, link: ShareLink) -> bool:
        return link.has_password

    @admin.action(description=_("Revoke the selected links"), permissions=("manage",))
    def revoke(self, request: HttpRequest, queryset: models.QuerySet[ShareLink]) -> None:
        count = 0
        for link in queryset.filter(revoked_at__isnull=True).select_related("owner"):
            link.revoke()
            audit.record(
                AuditAction.SHARE_REVOKED,
                link,
                request=request,
                details={
                    "owner": link.owner.get_username(),
                    "result": str(link.result_id) if link.result_id else None,
                    "album": str(link.album_id) if link.album_id else None,
                },
            )
            count += 1
        self.message_user(request, _("%(count)d link(s) revoked.") % {"count": count})


class AlbumItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = AlbumItem
    fields = ("position", "result", "added_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("position",)

    def has_add_permission(self, request: HttpRequest, obj: Album | None = None) -> bool:
        return False


@admin.register(Album)
class AlbumAdmin(ReadOnlyAdmin):
    """People's albums (editor.albums): what is in them and how many links they have; their
    links are revoked from the share links' list."""

    list_display = ("title", "owner", "photos", "live_links", "deleted_results", "created_at")
    list_select_related = ("owner",)
    search_fields = ("owner__username", "title")
    fields = ("id", "owner", "title", "deleted_results", "created_at")
    readonly_fields = fields
    inlines = (AlbumItemInline,)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Album]:
        now = timezone.now()
        live = models.Q(share_links__revoked_at__isnull=True) & (
            models.Q(share_links__expires_at__isnull=True)
            | models.Q(share_links__expires_at__gt=now)
        )
        queryset: models.QuerySet[Album] = super().get_queryset(request)
        return queryset.annotate(
            photo_count=models.Count("items", distinct=True),
            live_link_count=models.Count("share_links", filter=live, distinct=True),
        )

    @admin.display(description=_("Photos"), ordering="photo_count")
    def photos(self, album: Album) -> int:
        return int(getattr(album, "photo_count", 0))

    @admin.display(description=_("Live links"), ordering="live_link_count")
    def live_links(self, album: Album) -> int:
        return int(getattr(album, "live_link_count", 0))


@admin.register(EmailNotice)
class EmailNoticeAdmin(ReadOnlyAdmin):
    """The emails saying work ended (editor.notifications): what failed to send, and why."""

    list_display = ("created_at", "owner", "about", "status", "attempts", "last_error", "sent_at")
    list_filter = ("status",)
    list_select_related = ("owner",)
    search_fields = ("owner__username", "owner__email")
    fields = (
        "id",
        "owner",
        "job",
        "batch",
        "recipe_run",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "due_at",
        "sent_at",
    )
    readonly_fields = fields
    actions = ("send_again",)

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("editor.change_emailnotice")

    @admin.display(description=_("About"))
    def about(self, notice: EmailNotice) -> str:
        if notice.recipe_run_id:
            return gettext("recipe run %(id)s") % {"id": notice.recipe_run_id}
        if notice.batch_id:
            return gettext("batch %(id)s") % {"id": notice.batch_id}
        if notice.job_id:
            return gettext("job %(id)s") % {"id": notice.job_id}
        return "—"

    @admin.action(description=_("Try sending the selected emails again"), permissions=("manage",))
    def send_again(self, request: HttpRequest, queryset: models.QuerySet[EmailNotice]) -> None:
        count = notifications.send_again(queryset.exclude(status=NoticeStatus.SENT))
        self.message_user(request, _("%(count)d email(s) will be sent again.") % {"count": count})
