"""The operation form, built from an operation's declaration (editor.operations).

Every parameter of every provider is a field; ``clean`` applies the ones the chosen provider
and mode use, checks uploads from their headers only, and finds the key to use. A form made
from an earlier job (``source``) reuses that job's stored photos for the files left empty.

Presets store the same cleaned parameters: PresetForm (from the operation page) and
PresetAdminForm (the admin) both accept only what the operation declares.
"""

from __future__ import annotations

import io
import json
import re
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

from accounts import quotas
from accounts.models import User
from editor import images, operations
from editor.models import Draft, Job, Preset, Vendor, VendorKey, display_name
from editor.operations import FileInput, Operation, Param, Provider


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


HEX_COLOR = re.compile(r"^#?(?:[0-9A-Fa-f]{2})?([0-9A-Fa-f]{6})$")


class CardChoiceField(forms.ChoiceField):
    """A choice whose values the page can show as picker cards: name and description."""

    cards: list[tuple[str, Any, Any]] = []  # noqa: RUF012 (set per instance, never mutated)


def _values(data: Mapping[str, Any], name: str) -> list[Any]:
    """Every value sent under ``name``: a QueryDict's list, or a plain dict's one value."""
    if isinstance(data, QueryDict):
        return data.getlist(name)
    value = data.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _field(param: Param) -> forms.Field:
    common: dict[str, Any] = {
        "label": param.label,
        "required": False,
        "help_text": param.help,
        "initial": param.default,
    }
    if param.kind == "choice":
        choice = CardChoiceField(choices=param.choices, **common)
        about = dict(param.descriptions)
        if about:
            choice.cards = [(value, label, about.get(value, "")) for value, label in param.choices]
        return choice
    if param.kind == "int":
        return forms.IntegerField(
            min_value=None if param.minimum is None else int(param.minimum),
            max_value=None if param.maximum is None else int(param.maximum),
            **common,
        )
    if param.kind == "float":
        field = forms.FloatField(min_value=param.minimum, max_value=param.maximum, **common)
        if param.step:
            field.widget.attrs["step"] = str(param.step)
        return field
    if param.kind == "colors":
        common["initial"] = ", ".join(param.default or ())
        # The page's palette editor writes this field and stops adding colors at the limit.
        attrs = {"data-max-items": str(param.max_items)} if param.max_items else {}
        return forms.CharField(max_length=200, widget=forms.TextInput(attrs=attrs), **common)
    attrs = {"rows": "3"}
    if param.max_words:
        # The page counts words as they are typed and warns past the vendor's reading limit.
        attrs["data-max-words"] = str(param.max_words)
    return forms.CharField(max_length=2000, widget=forms.Textarea(attrs=attrs), **common)


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


def parse_colors(text: str, max_items: int) -> tuple[str, ...]:
    items = [item for item in re.split(r"[\s,;]+", text.strip()) if item]
    if not items:
        raise forms.ValidationError(_("Give at least one color."))
    if len(items) > max_items:
        raise forms.ValidationError(_("At most %(count)d colors.") % {"count": max_items})
    colors: list[str] = []
    for item in items:
        match = HEX_COLOR.match(item)
        if not match:
            raise forms.ValidationError(
                _("%(value)s is not a hex color like DB0D0D.") % {"value": item}
            )
        colors.append(match.group(1).upper())
    return tuple(colors)


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


def clean_params(
    form: forms.Form, operation: Operation, provider: Provider, cleaned: Mapping[str, Any]
) -> dict[str, Any]:
    """The parameters the chosen provider and mode use, in their stored types; errors go on
    the form's fields."""
    values: dict[str, Any] = {}
    for param in operation.params_for(provider):
        if not operation.applies(param.when, cleaned):
            continue
        value = cleaned.get(param.name)
        if param.kind == "colors" and param.name not in form.errors:
            try:
                value = parse_colors(str(value or ""), param.max_items)
            except forms.ValidationError as error:
                form.add_error(param.name, error)
                continue
        if value in (None, ""):
            if param.required:
                form.add_error(param.name, _("This field is required."))
            continue
        if param.kind == "text" and param.max_words:
            value = " ".join(str(value).split())
        values[param.name] = value
    return values


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
        self.notes: list[str] = []
        # Photos kept from an earlier try of this form, by role: the ones it names (still the
        # person's own and still stored), then the ones ``keep_uploads`` adds.
        self.kept_drafts: dict[str, list[Draft]] = self._named_drafts() if self.is_bound else {}
        self.fresh_drafts: set[str] = set()
        self.limits = quotas.limits_for(user)
        # The providers the person's plan allows for this operation; none: not in the plan.
        self.allowed_providers = [
            p for p in operation.providers if self.limits.allows(operation.slug, p.name)
        ]
        provider_field = cast(forms.ChoiceField, self.fields["provider"])
        provider_field.choices = [(p.name, p.label) for p in self.offered_providers]
        provider_field.initial = self.offered_providers[0].name
        provider_field.error_messages["invalid_choice"] = _(
            "This provider is not in your plan. Choose one of the providers offered."
        )
        key_field = cast("forms.ModelChoiceField[VendorKey]", self.fields["key"])
        # Only the person's own keys: never another person's, never a house key by name.
        key_field.queryset = VendorKey.objects.filter(owner=user)
        self._house_keys: dict[str, VendorKey | None] = {}
        for param in operation.params:
            if param.name not in self.fields:
                self.fields[param.name] = _field(param)
        for spec in operation.files:
            attrs = {
                "accept": images.ACCEPT,
                "data-role": spec.role,
                "data-limits": json.dumps(file_limits(operation, spec)),
            }
            if spec.role == "image":
                # Several photos make a batch: the same settings, one job each.
                attrs["data-batch-max"] = str(settings.BATCH_MAX_PHOTOS)
                self.fields[f"file_{spec.role}"] = PhotosField(
                    label=spec.label, required=False, help_text=spec.help, attrs=attrs
                )
            else:
                self.fields[f"file_{spec.role}"] = forms.FileField(
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
            name = spec.name if isinstance(spec, Param) else f"file_{spec.role}"
            if name in seen:
                continue
            seen.add(name)
            when = f"{spec.when[0]}={spec.when[1]}" if spec.when else ""
            providers = " ".join(sorted(spec.providers)) if spec.providers else ""
            rows.append((self[name], when, providers))
        return rows

    def kept_inputs(self) -> list[KeptInput]:
        """The photos this form already holds, per file input: drafts kept from an earlier
        try of this form (see ``keep_uploads``), else the earlier job's stored photo ("Run
        again with changes"). They are used unless the person unticks them or chooses new
        files; at first everything is ticked, on a form sent back what they left ticked."""
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

    def keep_uploads(self) -> None:
        """The form goes back to the person with an error: keep every photo that passed its
        checks as a draft, so that the next try needs no new upload."""
        for role, photos in getattr(self, "passed", {}).items():
            uploads = [content for content, _name in photos if isinstance(content, UploadedFile)]
            if uploads:
                self.kept_drafts[role] = [Draft.keep(self.user, role, u) for u in uploads]
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

    @property
    def offered_providers(self) -> list[Provider]:
        """The providers the form offers: those the plan allows (all of them when the plan
        includes none, so that the page can still show what the operation is)."""
        return self.allowed_providers or list(self.operation.providers)

    def chosen_provider(self) -> Provider:
        """The provider named by the form, when offered; else the first one offered."""
        name = self.data.get("provider") if self.is_bound else self.initial.get("provider")
        for provider in self.offered_providers:
            if provider.name == name:
                return provider
        return self.offered_providers[0]

    def key_blocks(self) -> list[tuple[Vendor, list[VendorKey], VendorKey | None]]:
        """For each vendor the offered providers use: the person's own keys, newest-used
        first, and the studio's house key they would run on without one (None when there is
        none or their plan does not include house keys)."""
        vendors = list(dict.fromkeys(p.vendor for p in self.offered_providers if p.vendor))
        return [
            (vendor, self.keys_for_vendor(vendor), self.house_key_for(vendor)) for vendor in vendors
        ]

    def house_key_for(self, vendor: Vendor) -> VendorKey | None:
        """The studio's key for the vendor, if the person's plan lets them use it."""
        if not self.limits.house_keys:
            return None
        if vendor not in self._house_keys:
            self._house_keys[vendor] = VendorKey.objects.filter(
                owner__isnull=True, vendor=vendor
            ).first()
        return self._house_keys[vendor]

    def keys_for_vendor(self, vendor: Vendor) -> list[VendorKey]:
        return list(
            VendorKey.objects.filter(owner=self.user, vendor=vendor).order_by(
                "-last_used_at", "-created_at"
            )
        )

    def keys_for(self, provider: Provider) -> list[VendorKey]:
        return [] if provider.vendor is None else self.keys_for_vendor(provider.vendor)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        provider = self.chosen_provider()
        self.params = clean_params(self, self.operation, provider, cleaned)

        self.files_by_role: dict[str, UploadedFile | bytes] = {}
        # Every photo of each role that passed its checks, with the name the person gave it.
        self.passed: dict[str, list[tuple[UploadedFile | bytes, str]]] = {}
        self.reused_roles: set[str] = set()
        self.drafts_used: list[Draft] = []
        for spec in self.operation.files_for(provider):
            self._clean_file(spec, provider, cleaned)
        if self.batch and self.passed.get("mask"):
            self.add_error(
                "file_mask",
                _("A mask fits one photo: send the photos one at a time to paint a mask for each."),
            )

        self.key_to_use: VendorKey | None = None
        if not self.in_plan:
            self.add_error(
                None,
                forms.ValidationError(
                    _("%(operation)s is not in your plan.") % {"operation": self.operation.label},
                    code="not_in_plan",
                ),
            )
            return cleaned

        if provider.vendor is not None:
            chosen = cleaned.get("key")
            keys = self.keys_for(provider)
            house = self.house_key_for(provider.vendor)
            if chosen is not None and chosen.vendor == provider.vendor:
                self.key_to_use = chosen
            elif keys:
                # A person's own key always wins over the studio's.
                self.key_to_use = keys[0]
            elif house is not None:
                self.key_to_use = house
            else:
                self.add_error(
                    None,
                    forms.ValidationError(
                        _("You have no %(vendor)s key yet. Add one in your vault first.")
                        % {"vendor": provider.vendor.label},
                        code="no_key",
                    ),
                )
        return cleaned

    def _clean_file(self, spec: FileInput, provider: Provider, cleaned: dict[str, Any]) -> None:
        name = f"file_{spec.role}"
        if not self.operation.applies(spec.when, cleaned):
            return
        chosen = cleaned.get(name)
        uploads: list[UploadedFile] = (
            chosen if isinstance(chosen, list) else [chosen] if chosen else []
        )
        photos: list[tuple[UploadedFile | bytes, str]] = [
            (upload, display_name(upload.name)) for upload in uploads
        ] or self._reused(spec)
        if not photos:
            if spec.required and name not in self.errors:
                self.add_error(name, _("Choose a photo."))
            return
        if len(photos) > settings.BATCH_MAX_PHOTOS:
            self.add_error(
                name,
                _("At most %(count)d photos at once: this batch has %(sent)d.")
                % {"count": settings.BATCH_MAX_PHOTOS, "sent": len(photos)},
            )
            return
        passed = []
        for content, photo_name in photos:
            problem = self._check_photo(spec, provider, content)
            if problem:
                # In a batch, say which photo; a single one is the field's own.
                self.add_error(name, f"{photo_name}: {problem}" if len(photos) > 1 else problem)
            else:
                passed.append((content, photo_name))
        self.passed[spec.role] = passed
        if len(passed) == len(photos):
            self.files_by_role[spec.role] = passed[0][0]

    def _check_photo(
        self, spec: FileInput, provider: Provider, content: UploadedFile | bytes
    ) -> str:
        """What is wrong with one photo for this provider ("" when nothing is); a note when it
        will be scaled down to the vendor's limits."""
        stream = io.BytesIO(content) if isinstance(content, bytes) else content
        try:
            header = images.check_upload(stream)
        except images.ImageRejected as error:
            return str(error)
        limits = provider.adapter.limits(provider.vendor_operation, spec.role)
        if spec.role != "mask" and (
            header.width > limits.max_width or header.height > limits.max_height
        ):
            self.notes.append(
                _(
                    "%(label)s is %(width)d×%(height)d pixels; it will be scaled down to fit "
                    "%(vendor)s's limit of %(max_w)d×%(max_h)d."
                )
                % {
                    "label": spec.label,
                    "width": header.width,
                    "height": header.height,
                    "vendor": provider.adapter.label,
                    "max_w": limits.max_width,
                    "max_h": limits.max_height,
                }
            )
        if header.width < limits.min_width or header.height < limits.min_height:
            return _(
                "This image is %(w)d×%(h)d pixels; %(vendor)s needs at least %(mw)d×%(mh)d."
            ) % {
                "w": header.width,
                "h": header.height,
                "vendor": provider.adapter.label,
                "mw": limits.min_width,
                "mh": limits.min_height,
            }
        return ""

    @property
    def batch(self) -> list[tuple[UploadedFile | bytes, str]]:
        """The photos of a batch (several photos, one job each); empty for a single photo."""
        photos = self.passed.get("image", [])
        return photos if len(photos) > 1 else []

    @property
    def photo_name(self) -> str:
        photos = self.passed.get("image", [])
        return photos[0][1] if photos else ""

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

    def _reused(self, spec: FileInput) -> list[tuple[UploadedFile | bytes, str]]:
        """The photos kept for this role, when the person left them ticked: drafts from an
        earlier try of this form, else the earlier job's stored photo."""
        if not self.data.get(f"reuse_{spec.role}"):
            return []
        missing = _("The photo you chose before is no longer stored. Choose the file again.")
        if self.data.get(f"draft_{spec.role}"):
            drafts = self.kept_drafts.get(spec.role, [])
            photos: list[tuple[UploadedFile | bytes, str]] = []
            for draft in drafts:
                data = draft.read()
                if data is None:
                    break
                photos.append((data, draft.name))
            if drafts and len(photos) == len(drafts):
                self.drafts_used += drafts
                return photos
            self.kept_drafts.pop(spec.role, None)
            if spec.required:
                self.add_error(f"file_{spec.role}", missing)
            return []
        if self.source is None or spec.role not in self.source.inputs:
            return []
        data = self.source.read_input(spec.role)
        if data is None:
            if spec.required:
                self.add_error(f"file_{spec.role}", missing)
            return []
        self.reused_roles.add(spec.role)
        return [(data, self.source.photo_name if spec.role == "image" else "")]

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
                self.fields[param.name] = _field(param)

    def clean_preset_name(self) -> str:
        name = " ".join(str(self.cleaned_data["preset_name"]).split())
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
        self.params = clean_params(self, self.operation, provider, cleaned)
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


def check_preset_params(operation: Operation, provider_name: str, params: Any) -> dict[str, Any]:
    """Admin input: every name declared by the operation (and its provider, when one is set),
    every value valid for its field. Returns the values in their stored types."""
    if not isinstance(params, dict):
        raise forms.ValidationError(_("Give the parameters as a JSON object."))
    provider = operation.provider(provider_name) if provider_name else None
    declared = operation.params if provider is None else operation.params_for(provider)
    by_name = {param.name: param for param in declared}
    values: dict[str, Any] = {}
    errors: list[forms.ValidationError] = []
    for name, value in params.items():
        param = by_name.get(name)
        if param is None:
            errors.append(
                forms.ValidationError(
                    _("%(name)s is not a parameter of %(operation)s. Known: %(known)s.")
                    % {
                        "name": name,
                        "operation": operation.label,
                        "known": ", ".join(sorted(by_name)) or "-",
                    }
                )
            )
            continue
        try:
            if param.kind == "colors":
                text = ", ".join(value) if isinstance(value, list) else str(value)
                values[name] = list(parse_colors(text, param.max_items))
            else:
                values[name] = _field(param).clean(value)
        except forms.ValidationError as error:
            errors.extend(
                forms.ValidationError(f"{param.label}: {message}") for message in error.messages
            )
    if errors:
        raise forms.ValidationError(errors)
    return values


class PresetAdminForm(forms.ModelForm):  # type: ignore[type-arg]
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
                cleaned["params"] = check_preset_params(operation, provider, cleaned["params"])
            except forms.ValidationError as error:
                self.add_error("params", error)
        return cleaned
