"""The operation form, built from an operation's declaration (editor.operations).

Every parameter of every provider is a field; ``clean`` applies the ones the chosen provider
and mode use, checks uploads from their headers only, and finds the key to use.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from accounts.models import User
from editor import images
from editor.models import Vendor, VendorKey
from editor.operations import FileInput, Operation, Param, Provider

HEX_COLOR = re.compile(r"^#?(?:[0-9A-Fa-f]{2})?([0-9A-Fa-f]{6})$")


def _field(param: Param) -> forms.Field:
    common: dict[str, Any] = {
        "label": param.label,
        "required": False,
        "help_text": param.help,
        "initial": param.default,
    }
    if param.kind == "choice":
        return forms.ChoiceField(choices=param.choices, **common)
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
        return forms.CharField(max_length=200, **common)
    return forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), **common)


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


class OperationForm(forms.Form):
    provider = forms.ChoiceField(label=_("Provider"))
    key = forms.ModelChoiceField(
        queryset=VendorKey.objects.none(), required=False, label=_("API key")
    )

    def __init__(self, operation: Operation, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.operation = operation
        self.user = user
        self.notes: list[str] = []
        provider_field = cast(forms.ChoiceField, self.fields["provider"])
        provider_field.choices = [(p.name, p.label) for p in operation.providers]
        provider_field.initial = operation.default_provider.name
        key_field = cast("forms.ModelChoiceField[VendorKey]", self.fields["key"])
        key_field.queryset = VendorKey.objects.filter(owner=user)
        for param in operation.params:
            if param.name not in self.fields:
                self.fields[param.name] = _field(param)
        for spec in operation.files:
            self.fields[f"file_{spec.role}"] = forms.FileField(
                label=spec.label,
                required=False,
                help_text=spec.help,
                widget=forms.ClearableFileInput(
                    attrs={"accept": "image/jpeg,image/png,image/webp"}
                ),
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

    def chosen_provider(self) -> Provider:
        name = self.data.get("provider") if self.is_bound else None
        try:
            return self.operation.provider(str(name or ""))
        except KeyError:
            return self.operation.default_provider

    def key_blocks(self) -> list[tuple[Vendor, list[VendorKey]]]:
        """The person's keys for each vendor this operation can use, newest-used first."""
        vendors = list(dict.fromkeys(p.vendor for p in self.operation.providers if p.vendor))
        return [(vendor, self.keys_for_vendor(vendor)) for vendor in vendors]

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
        values: dict[str, Any] = {}
        for param in self.operation.params_for(provider):
            if not self.operation.applies(param.when, cleaned):
                continue
            value = cleaned.get(param.name)
            if param.kind == "colors" and param.name not in self.errors:
                try:
                    value = parse_colors(str(value or ""), param.max_items)
                except forms.ValidationError as error:
                    self.add_error(param.name, error)
                    continue
            if value in (None, ""):
                if param.required:
                    self.add_error(param.name, _("This field is required."))
                continue
            if param.kind == "text" and param.max_words:
                value = " ".join(str(value).split())
            values[param.name] = value
        self.params = values

        self.files_by_role: dict[str, UploadedFile] = {}
        for spec in self.operation.files_for(provider):
            self._clean_file(spec, provider, cleaned)

        self.key_to_use: VendorKey | None = None
        if provider.vendor is not None:
            chosen = cleaned.get("key")
            keys = self.keys_for(provider)
            if chosen is not None and chosen.vendor == provider.vendor:
                self.key_to_use = chosen
            elif keys:
                self.key_to_use = keys[0]
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
        upload = cleaned.get(name)
        if not self.operation.applies(spec.when, cleaned):
            return
        if not upload:
            if spec.required:
                self.add_error(name, _("Choose a photo."))
            return
        try:
            header = images.check_upload(upload)
        except images.ImageRejected as error:
            self.add_error(name, str(error))
            return
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
            self.add_error(
                name,
                _("This image is %(w)d×%(h)d pixels; %(vendor)s needs at least %(mw)d×%(mh)d.")
                % {
                    "w": header.width,
                    "h": header.height,
                    "vendor": provider.adapter.label,
                    "mw": limits.min_width,
                    "mh": limits.min_height,
                },
            )
            return
        self.files_by_role[spec.role] = upload

    @property
    def needs_key(self) -> bool:
        return any(error.code == "no_key" for error in self.non_field_errors().as_data())
