"""Admin for keys, jobs and results: for looking, not for running the studio.

Keys are added by their owners in the vault; here an admin can see them (masked), relabel one
and delete one. The ciphertext is on no admin form or page, and neither is a share link's
token (hash or ciphertext): an admin can see that a link exists and revoke it, not open it.
Presets are the exception to "looking": admins add the studio's presets (no owner) here and can
manage everyone's.
"""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from editor.forms import PresetAdminForm
from editor.models import Job, Preset, Result, ShareLink, VendorKey


@admin.register(VendorKey)
class VendorKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "label",
        "owner",
        "vendor",
        "masked",
        "created_at",
        "last_used_at",
        "last_error",
    )
    list_filter = ("vendor",)
    list_select_related = ("owner",)
    search_fields = ("label", "owner__username")
    fields = ("label", "owner", "vendor", "masked", "created_at", "last_used_at", "last_error")
    readonly_fields = ("owner", "vendor", "masked", "created_at", "last_used_at", "last_error")
    exclude = ("ciphertext",)

    @admin.display(description="Key")
    def masked(self, key: VendorKey) -> str:
        return key.masked

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Jobs and results are made by the studio. Delete stays allowed so that deleting a user
    (whose jobs cascade) still works from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "owner",
        "operation",
        "provider",
        "status",
        "progress",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "operation", "provider")
    list_select_related = ("owner",)
    search_fields = ("owner__username",)
    date_hierarchy = "created_at"


@admin.register(Result)
class ResultAdmin(ReadOnlyAdmin):
    list_display = ("id", "job", "position", "media_type", "width", "height", "bytes", "created_at")
    list_select_related = ("job",)


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


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "owner",
        "result",
        "created_at",
        "expires_at",
        "revoked_at",
        "has_password",
        "include_original",
        "views",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "include_original")
    list_select_related = ("owner", "result")
    search_fields = ("owner__username",)
    fields = (
        "id",
        "owner",
        "result",
        "created_at",
        "expires_at",
        "revoked_at",
        "include_original",
        "views",
        "last_viewed_at",
    )
    readonly_fields = fields
    actions = ("revoke",)

    @admin.display(description=_("Password"), boolean=True)
    def has_password(self, link: ShareLink) -> bool:
        return link.has_password

    @admin.action(description=_("Revoke the selected links"))
    def revoke(self, request: HttpRequest, queryset: models.QuerySet[ShareLink]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, _("%(count)d link(s) revoked.") % {"count": count})
