"""The operation page's forms, built from an operation's declaration (editor.operations).

``OperationForm`` shows every parameter of every provider and every file input, and what the
form already holds (photos kept from a try sent back with an error, or an earlier job's photo
for "Run again with changes"). Checking is editor.submissions' one validator, the same the API
calls: the form gathers the photos, calls it and shows its errors on the fields. The form never
writes: the view that sends it back keeps its photos as drafts (``Draft.keep``), and
``show_drafts`` shows them.

``ShareForm`` makes a share link to a result, ``AlbumShareForm`` one or several (one per
recipient) to an album (editor.shares).

``PresetForm`` saves the form's settings under a name, through the same parameter checks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import quotas
from accounts.models import User
from editor import images, submissions
from editor.models import Draft, Job, Vendor, VendorKey, display_name, plain_text
from editor.operations import FileInput, Operation, Param, Provider
from editor.submissions import Photo, Submission, SubmissionInvalid


@dataclass(frozen=True)
class KeptInput:
    """The photos the operation form already holds for one of its file inputs (several for a
    batch): drafts kept from an earlier try of the form, or an earlier job's photo."""

    spec: FileInput
    urls: list[str]
    checked: bool
    # Set for photos kept from an earlier try of the form; empty for an earlier job's photo.
    drafts: list[Draft]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """One photo or several (a batch): always cleans to a list, empty when none was sent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(widget=MultipleFileInput(attrs=kwargs.pop("attrs")), **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(PhotosField, self).clean(item, initial) for item in files]


def _values(data: Mapping[str, Any], name: str) -> list[Any]:
    """Every value sent under ``name``: a QueryDict's list, or a plain dict's one value."""
    if isinstance(data, QueryDict):
        return data.getlist(name)
    value = data.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def file_limits(operation: Operation, spec: FileInput) -> dict[str, dict[str, Any]]:
    """The input limits of each provider that takes this file, for the page to warn before
    upload that a photo will be fitted (the server says so again after upload)."""
    limits: dict[str, dict[str, Any]] = {}
    for provider in operation.providers:
        if spec not in operation.files_for(provider):
            continue
        found = provider.adapter.limits(provider.vendor_operation, spec.role)
        limits[provider.name] = {
            "vendor": provider.adapter.label,
            "formats": sorted(found.formats),
            "max_bytes": found.max_bytes,
            "max_width": found.max_width,
            "max_height": found.max_height,
            "min_width": found.min_width,
            "min_height": found.min_height,
        }
    return limits


def initial_values(operation: Operation, params: Mapping[str, Any]) -> dict[str, Any]:
    """Stored parameters as the form's fields show them: only declared names, a palette as
    "DB0D0D, 0E0CBB"."""
    declared = {param.name: param for param in operation.params}
    values: dict[str, Any] = {}
    for name, value in params.items():
        param = declared.get(name)
        if param is None or value is None:
            continue
        if param.kind == "colors" and isinstance(value, list | tuple):
            value = ", ".join(str(item) for item in value)
        values[name] = value
    return values


def _file_field(role: str) -> str:
    return f"file_{role}"


class OperationForm(forms.Form):
    provider = forms.ChoiceField(label=_("Provider"))
    key = forms.ModelChoiceField(
        queryset=VendorKey.objects.none(), required=False, label=_("API key")
    )

    def __init__(
        self,
        operation: Operation,
        user: User,
        *args: Any,
        source: Job | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.operation = operation
        self.user = user
        # An earlier job of this user (the view checked the owner): its photos are reused.
        self.source = source
        # Set by a successful clean: what the view starts.
        self.submission: Submission | None = None
        # Every photo of each role that passed its checks; the view keeps the uploads among
        # them when it sends the form back.
        self.passed: dict[str, list[Photo]] = {}
        # Photos kept from an earlier try of this form, by role: the ones it names (still the
        # person's own and still stored), then the ones ``show_drafts`` adds.
        self.kept_drafts: dict[str, list[Draft]] = self._named_drafts() if self.is_bound else {}
        self.fresh_drafts: set[str] = set()
        self.drafts_used: list[Draft] = []
        self.reused_roles: set[str] = set()
        self.limits = quotas.limits_for(user)
        self.allowed_providers = submissions.allowed_providers(operation, self.limits)
        self.offered_providers = submissions.offered_providers(operation, self.limits)
        provider_field = cast(forms.ChoiceField, self.fields["provider"])
        provider_field.choices = [(p.name, p.label) for p in self.offered_providers]
        provider_field.initial = self.offered_providers[0].name
        provider_field.error_messages["invalid_choice"] = _(
            "This provider is not in your plan. Choose one of the providers offered."
        )
        key_field = cast("forms.ModelChoiceField[VendorKey]", self.fields["key"])
        # Only the person's own keys: never another person's, never a house key by name.
        key_field.queryset = VendorKey.objects.filter(owner=user)
        for param in operation.params:
            if param.name not in self.fields:
                self.fields[param.name] = submissions.field_for(param)
        for spec in operation.files:
            attrs = {
                "accept": images.ACCEPT,
                "data-role": spec.role,
                "data-limits": json.dumps(file_limits(operation, spec)),
                # The server's pixel caps and its words for a photo over one: the page says
                # before upload what the server would say after.
                "data-pixel-caps": json.dumps(images.pixel_caps()),
            }
            if spec.role == "image":
                # Several photos make a batch: the same settings, one job each.
                attrs["data-batch-max"] = str(settings.BATCH_MAX_PHOTOS)
                self.fields[_file_field(spec.role)] = PhotosField(
                    label=spec.label, required=False, help_text=spec.help, attrs=attrs
                )
            else:
                self.fields[_file_field(spec.role)] = forms.FileField(
                    label=spec.label,
                    required=False,
                    help_text=spec.help,
                    widget=forms.ClearableFileInput(attrs=attrs),
                )

    def rows(self) -> list[tuple[forms.BoundField, str, str]]:
        """Each parameter and file field with when it applies, for the page's script to show
        only what the chosen provider and mode use: ``(field, "mode=AUTO", "picwish ...")``."""
        rows: list[tuple[forms.BoundField, str, str]] = []
        specs: list[Param | FileInput] = [*self.operation.files, *self.operation.params]
        seen: set[str] = set()
        for spec in specs:
            name = spec.name if isinstance(spec, Param) else _file_field(spec.role)
            if name in seen:
                continue
            seen.add(name)
            when = f"{spec.when[0]}={spec.when[1]}" if spec.when else ""
            providers = " ".join(sorted(spec.providers)) if spec.providers else ""
            rows.append((self[name], when, providers))
        return rows

    def kept_inputs(self) -> list[KeptInput]:
        """The photos this form already holds, per file input: drafts kept from an earlier
        try of this form, else the earlier job's stored photo ("Run again with changes"). They
        are used unless the person unticks them or chooses new files; at first everything is
        ticked, on a form sent back what they left ticked."""
        kept: list[KeptInput] = []
        for spec in self.operation.files:
            checked = not self.is_bound or bool(self.data.get(f"reuse_{spec.role}"))
            drafts = self.kept_drafts.get(spec.role, [])
            if drafts:
                urls = [reverse("editor:draft_file", args=[draft.pk]) for draft in drafts]
                fresh = spec.role in self.fresh_drafts
                kept.append(KeptInput(spec, urls, checked=fresh or checked, drafts=drafts))
            elif self.source is not None and spec.role in self.source.inputs:
                url = reverse("editor:job_input", args=[self.source.pk, spec.role])
                kept.append(KeptInput(spec, [url], checked=checked, drafts=[]))
        return kept

    @property
    def starts_in_mask_mode(self) -> bool:
        """The extender opens on its mask painter when the last try was sent with a mask, or
        the photos kept include one."""
        if self.is_bound and self.data.get("extend_mode") == "mask":
            return True
        return any(item.spec.role == "mask" and item.checked for item in self.kept_inputs())

    def new_uploads(self) -> dict[str, list[tuple[UploadedFile, bytes]]]:
        """The uploads of this try that passed their checks, by role, each with the details
        kept of its EXIF: what the view keeps as drafts when it sends the form back."""
        uploads = {
            role: [(p.content, p.details) for p in photos if isinstance(p.content, UploadedFile)]
            for role, photos in self.passed.items()
        }
        return {role: files for role, files in uploads.items() if files}

    def show_drafts(self, drafts: Mapping[str, list[Draft]]) -> None:
        """Show photos the view just kept as drafts, in place of the uploads they came from."""
        for role, kept in drafts.items():
            self.kept_drafts[role] = list(kept)
            self.fresh_drafts.add(role)

    @property
    def photo_source(self) -> Job | None:
        """The job to record as the new job's source: only when its photo was reused, so that
        jobs linked this way always share their photo (compared on the job page)."""
        return self.source if "image" in self.reused_roles else None

    @property
    def in_plan(self) -> bool:
        """Whether the person's plan includes this operation with at least one provider."""
        return bool(self.allowed_providers)

    def chosen_provider(self) -> Provider:
        """The provider named by the form, when offered; else the first one offered."""
        name = self.data.get("provider") if self.is_bound else self.initial.get("provider")
        return submissions.chosen_provider(self.operation, self.limits, name)

    def key_blocks(self) -> list[tuple[Vendor, list[VendorKey], VendorKey | None]]:
        """For each vendor the offered providers use: the person's own keys, newest-used
        first, and the studio's house key they would run on without one (None when there is
        none or their plan does not include house keys)."""
        vendors = list(dict.fromkeys(p.vendor for p in self.offered_providers if p.vendor))
        return [
            (
                vendor,
                list(VendorKey.objects.own(self.user, vendor)),
                VendorKey.objects.house(vendor) if self.limits.house_keys else None,
            )
            for vendor in vendors
        ]

    def keys_for(self, provider: Provider) -> list[VendorKey]:
        if provider.vendor is None:
            return []
        return list(VendorKey.objects.own(self.user, provider.vendor))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        provider = self.chosen_provider()
        # The validator reads the values again, by the same fields (editor.submissions); the
        # form only gathers the photos: new uploads, else the ones it holds.
        photos = {
            spec.role: self._photos(spec, cleaned)
            for spec in submissions.wanted_files(self.operation, provider, cleaned)
        }
        try:
            self.submission = submissions.validate(
                self.operation,
                self.user,
                provider=self.data.get("provider") or None,
                values=self.data,
                photos=photos,
                key=self.data.get("key") or None,
                limits=self.limits,
            )
        except SubmissionInvalid as invalid:
            self.passed = invalid.passed
            self._show(invalid)
        else:
            self.passed = self.submission.photos
        return cleaned

    def _show(self, invalid: SubmissionInvalid) -> None:
        """The validator's errors on the fields; a field that refused its value already says
        the same (it is the validator's own field)."""
        for name, messages in invalid.errors.items():
            field = name if name in self.fields else _file_field(name)
            if field not in self.fields or field in self.errors:
                continue
            for message in messages:
                self.add_error(field, message)
        if invalid.message:
            self.add_error(None, forms.ValidationError(invalid.message, code=invalid.code))

    def _photos(self, spec: FileInput, cleaned: Mapping[str, Any]) -> list[Photo]:
        chosen = cleaned.get(_file_field(spec.role))
        uploads: list[UploadedFile] = (
            chosen if isinstance(chosen, list) else [chosen] if chosen else []
        )
        if uploads:
            return [Photo(upload, display_name(upload.name)) for upload in uploads]
        return self._reused(spec)

    def _named_drafts(self) -> dict[str, list[Draft]]:
        ids: dict[str, list[uuid.UUID]] = {}
        for spec in self.operation.files:
            for value in _values(self.data, f"draft_{spec.role}"):
                try:
                    ids.setdefault(spec.role, []).append(uuid.UUID(str(value)))
                except ValueError:
                    continue
        wanted = [pk for pks in ids.values() for pk in pks]
        by_id = {d.pk: d for d in Draft.objects.filter(owner=self.user, pk__in=wanted)}
        named = {role: [by_id[pk] for pk in pks if pk in by_id] for role, pks in ids.items()}
        return {role: drafts for role, drafts in named.items() if drafts}

    def _reused(self, spec: FileInput) -> list[Photo]:
        """The photos kept for this role, when the person left them ticked: drafts from an
        earlier try of this form, else the earlier job's stored photo."""
        if not self.data.get(f"reuse_{spec.role}"):
            return []
        missing = _("The photo you chose before is no longer stored. Choose the file again.")
        if self.data.get(f"draft_{spec.role}"):
            drafts = self.kept_drafts.get(spec.role, [])
            photos: list[Photo] = []
            for draft in drafts:
                data = draft.read()
                if data is None:
                    break
                photos.append(Photo(data, draft.name, bytes(draft.photo_exif)))
            if drafts and len(photos) == len(drafts):
                self.drafts_used += drafts
                return photos
            self.kept_drafts.pop(spec.role, None)
            if spec.required:
                self.add_error(_file_field(spec.role), missing)
            return []
        if self.source is None or spec.role not in self.source.inputs:
            return []
        data = self.source.read_input(spec.role)
        if data is None:
            if spec.required:
                self.add_error(_file_field(spec.role), missing)
            return []
        self.reused_roles.add(spec.role)
        if spec.role != "image":
            return [Photo(data)]
        # The stored photo was stripped at its own submit: its details come from its job.
        return [Photo(data, self.source.photo_name, bytes(self.source.photo_exif))]

    @property
    def needs_key(self) -> bool:
        return any(error.code == "no_key" for error in self.non_field_errors().as_data())


class PresetForm(forms.Form):
    """Save the operation form's current settings under a name (the files are ignored)."""

    preset_name = forms.CharField(label=_("Preset name"), max_length=80)
    provider = forms.ChoiceField(label=_("Provider"))

    def __init__(self, operation: Operation, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operation = operation
        provider_field = cast(forms.ChoiceField, self.fields["provider"])
        provider_field.choices = [(p.name, p.label) for p in operation.providers]
        for param in operation.params:
            if param.name not in self.fields:
                self.fields[param.name] = submissions.field_for(param)

    def clean_preset_name(self) -> str:
        name = " ".join(plain_text(str(self.cleaned_data["preset_name"])).split())
        if not name:
            raise forms.ValidationError(_("Give the preset a name."))
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            provider = self.operation.provider(str(cleaned.get("provider") or ""))
        except KeyError:
            provider = self.operation.default_provider
        self.chosen = provider
        self.params, errors = submissions.clean_params(
            self.operation, provider, cleaned, failed=self.errors
        )
        for name, messages in errors.items():
            for message in messages:
                self.add_error(name, message)
        return cleaned

    def param_errors(self) -> list[str]:
        """Errors on the settings themselves, named by their labels, for the presets panel."""
        labels = {param.name: str(param.label) for param in self.operation.params}
        return [
            f"{labels[name]}: {error}"
            for name, errors in self.errors.items()
            if name in labels
            for error in errors
        ]


class NotificationsForm(forms.Form):
    """The person's choice of emails when their work ends (editor.notifications)."""

    email_when_done = forms.BooleanField(
        label=gettext_lazy("Email me when my work ends"),
        help_text=gettext_lazy("When a batch has ended, or a job that took longer than a minute."),
        required=False,
    )


class ShareForm(forms.Form):
    lifetime = forms.ChoiceField(
        label=gettext_lazy("Link works for"),
        choices=(
            ("1h", gettext_lazy("1 hour")),
            ("1d", gettext_lazy("1 day")),
            ("7d", gettext_lazy("7 days")),
            ("30d", gettext_lazy("30 days")),
            ("never", gettext_lazy("Until I revoke it")),
        ),
        initial="7d",
    )
    password = forms.CharField(
        label=gettext_lazy("Password (optional)"),
        required=False,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Whoever opens the link must type it. Leave empty for none."),
    )
    include_original = forms.BooleanField(
        label=gettext_lazy("Include my original photo, for a before/after view"),
        required=False,
    )


# One link per recipient: at most this many names on one form.
MAX_RECIPIENTS = 50


class AlbumShareForm(ShareForm):
    """A link to an album, for anyone, or one link per recipient (each with its own name, view
    count and revoke). The original photos are never part of an album link."""

    recipients = forms.CharField(
        label=gettext_lazy("One link per person (optional)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "One name per line, e.g. Grandma. Each person gets a link of their own, so you "
            "can see who opened it and revoke one without the others. Leave empty for one link."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["include_original"]

    def clean_recipients(self) -> list[str]:
        names: list[str] = []
        for line in str(self.cleaned_data.get("recipients") or "").splitlines():
            name = line.strip()
            if name and name not in names:
                names.append(name)
        if len(names) > MAX_RECIPIENTS:
            raise forms.ValidationError(
                _("At most %(count)d people at once.") % {"count": MAX_RECIPIENTS}
            )
        if any(len(name) > 80 for name in names):
            raise forms.ValidationError(_("A name has at most 80 characters."))
        return names


class AlbumForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=120)
