"""The one validator of a submission, called by the operation page's form and by the API's
``POST /jobs`` alike: an operation, a provider, the parameter values as sent, the photos and
the key asked for in; a validated ``Submission`` out, or ``SubmissionInvalid`` with the errors
by field.

Values are checked against the operation's declarations (editor.operations): every declared
parameter that was sent must be valid for its kind and range; those the chosen provider and
mode use are stored in their types. Photos are checked from their headers only (format,
dimensions, decompression bombs), never decoded here. The key is the person's chosen key, else
their own most recently used one, else the studio's house key when their plan includes it.

Where the photos come from (an upload, a draft kept from an earlier try, an earlier job's photo)
is the caller's business: they arrive here as bytes or uploaded files with a name.
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from accounts import quotas
from accounts.models import User
from editor import images, metadata, uploads
from editor.models import VendorKey, plain_text
from editor.operations import FileInput, Operation, Param, Provider

HEX_COLOR = re.compile(r"^#?(?:[0-9A-Fa-f]{2})?([0-9A-Fa-f]{6})$")


@dataclass(frozen=True)
class Photo:
    """One photo for one file input, with the name the person gave it (for display only)."""

    content: UploadedFile | bytes
    name: str = ""
    # What the studio keeps of its EXIF (metadata.photo_details), read before it is stripped.
    details: bytes = b""


@dataclass(frozen=True)
class Submission:
    """A submission that passed every check: what editor.jobs.start needs."""

    owner: User
    operation: Operation
    provider: Provider
    params: dict[str, Any]
    # Every photo to send, by file role: several for the ``image`` of a batch, else one.
    photos: dict[str, list[Photo]]
    key: VendorKey | None
    # What will be done to fit the photos (for example scaled down), to tell the person.
    notes: tuple[str, ...] = ()
    # The owner's limits as the validator read them: the charge that follows needs them again.
    limits: quotas.Limits | None = None

    @property
    def batch(self) -> list[Photo]:
        """The photos of a batch (several photos, one job each); empty for a single photo."""
        photos = self.photos.get("image", [])
        return photos if len(photos) > 1 else []

    @property
    def single(self) -> dict[str, Photo]:
        """The first photo of each role: all of them, for a single job."""
        return {role: photos[0] for role, photos in self.photos.items() if photos}

    @property
    def photo_details(self) -> bytes:
        photos = self.photos.get("image", [])
        return photos[0].details if photos else b""

    @property
    def photo_name(self) -> str:
        photos = self.photos.get("image", [])
        return photos[0].name if photos else ""


class SubmissionInvalid(Exception):
    """What is wrong: ``errors`` by field (a parameter's name, a file role, ``provider`` or
    ``key``) and, for a problem of the whole submission, ``code`` ("no_key", "not_in_plan") and
    ``message``. ``passed``: the photos that passed their checks, by role, which the page keeps
    for the next try."""

    def __init__(
        self,
        errors: dict[str, list[str]],
        *,
        passed: dict[str, list[Photo]],
        code: str = "invalid",
        message: str = "",
    ) -> None:
        super().__init__(message or "; ".join(f"{k}: {v[0]}" for k, v in errors.items()))
        self.errors = errors
        self.passed = passed
        self.code = code
        self.message = message


# --- Parameters ------------------------------------------------------------------------------


class CardChoiceField(forms.ChoiceField):
    """A choice whose values the page can show as picker cards: name and description."""

    cards: list[tuple[str, Any, Any]] = []  # noqa: RUF012 (set per instance, never mutated)


def field_for(param: Param) -> forms.Field:
    """The form field that reads and checks one declared parameter: the page's form shows it,
    and the validator cleans every sent value with it, so both say the same."""
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
        number = forms.FloatField(min_value=param.minimum, max_value=param.maximum, **common)
        if param.step:
            number.widget.attrs["step"] = str(param.step)
        return number
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


def clean_values(
    operation: Operation, values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Every declared parameter sent in ``values``, read by its field; and the errors of those
    that are not valid for their kind or range."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for param in operation.params:
        if param.name in cleaned or param.name in errors:
            continue  # declared once per provider: the first declaration reads it
        try:
            cleaned[param.name] = field_for(param).clean(values.get(param.name))
        except forms.ValidationError as error:
            errors[param.name] = list(error.messages)
    return cleaned, errors


def clean_params(
    operation: Operation,
    provider: Provider,
    cleaned: Mapping[str, Any],
    failed: Collection[str] = (),
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The parameters the chosen provider and mode use, in their stored types, from values
    their fields read (``cleaned``); and the errors of those missing or malformed. ``failed``:
    names whose field already refused the value."""
    params: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for param in operation.params_for(provider):
        if param.name in failed:
            # Its field said what is wrong (out of range, not a number): it is missing from
            # ``cleaned`` for that reason, not because nothing was sent.
            continue
        if not operation.applies(param.when, cleaned):
            continue
        value = cleaned.get(param.name)
        if param.kind == "colors":
            try:
                value = parse_colors(str(value or ""), param.max_items)
            except forms.ValidationError as error:
                errors.setdefault(param.name, []).extend(error.messages)
                continue
        if value in (None, ""):
            if param.required:
                errors.setdefault(param.name, []).append(_("This field is required."))
            continue
        if param.kind == "text":
            value = plain_text(str(value))
        if param.kind == "text" and param.max_words:
            value = " ".join(str(value).split())
        params[param.name] = value
    return params, errors


def check_preset_params(operation: Operation, provider_name: str, params: Any) -> dict[str, Any]:
    """Stored preset parameters as an admin types them (JSON): every name declared by the
    operation (and its provider, when one is set), every value valid for its field. Returns
    the values in their stored types; raises forms.ValidationError."""
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
                values[name] = list(parse_colors(_palette_text(value), param.max_items))
            else:
                values[name] = field_for(param).clean(value)
        except forms.ValidationError as error:
            errors.extend(
                forms.ValidationError(f"{param.label}: {message}") for message in error.messages
            )
    if errors:
        raise forms.ValidationError(errors)
    return values


def _palette_text(value: Any) -> str:
    """A stored palette (a list of hex colors, or the page's "A, B" text) as the page's text;
    a list of anything but text is refused, not joined."""
    if not isinstance(value, list):
        return str(value)
    if not all(isinstance(item, str) for item in value):
        raise forms.ValidationError(_("Give the colors as text, like DB0D0D."))
    return ", ".join(value)


# --- Providers and files -----------------------------------------------------------------------


def allowed_providers(operation: Operation, limits: quotas.Limits) -> list[Provider]:
    """The providers the person's plan allows for this operation; none: not in the plan."""
    return [p for p in operation.providers if limits.allows(operation.slug, p.name)]


def offered_providers(operation: Operation, limits: quotas.Limits) -> list[Provider]:
    """The providers a form offers: those the plan allows (all of them when the plan includes
    none, so that the page can still show what the operation is)."""
    return allowed_providers(operation, limits) or list(operation.providers)


def chosen_provider(operation: Operation, limits: quotas.Limits, name: object) -> Provider:
    """The provider named, when offered; else the first one offered."""
    offered = offered_providers(operation, limits)
    return next((provider for provider in offered if provider.name == name), offered[0])


def wanted_files(
    operation: Operation, provider: Provider, cleaned: Mapping[str, Any]
) -> tuple[FileInput, ...]:
    """The file inputs the chosen provider and mode take."""
    return tuple(
        spec for spec in operation.files_for(provider) if operation.applies(spec.when, cleaned)
    )


@dataclass
class _Photos:
    """The photos of a submission as they are checked."""

    passed: dict[str, list[Photo]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _cleaned(photo: Photo, data: bytes, *, changed: bool) -> Photo:
    """``photo`` with ``data`` (what metadata.clean_upload made of it) as its content. An upload
    stays an uploaded file, written to a temporary file of its own rather than held in memory
    (a batch has many): the form keeps uploads that passed as drafts."""
    content = photo.content
    if isinstance(content, bytes):
        return Photo(data, photo.name, photo.details)
    if not changed:
        return photo  # nothing was cut or stripped: no copy
    cleaned = uploads.temporary_upload(
        content.name or "", content.content_type, len(data), content.charset
    )
    cleaned.write(data)
    cleaned.seek(0)
    return Photo(cleaned, photo.name, photo.details)


def _read(content: UploadedFile | bytes) -> bytes:
    if isinstance(content, bytes):
        return content
    content.seek(0)
    data: bytes = content.read()
    content.seek(0)
    return data


@dataclass(frozen=True)
class _Checked:
    """One photo after its checks: what is wrong with it ("" when nothing is), whether that
    is the file's own content (damaged: named even when it is the only photo), and the photo
    as the studio keeps it."""

    problem: str
    photo: Photo
    damaged: bool = False


def _check_photo(spec: FileInput, provider: Provider, photo: Photo, found: _Photos) -> _Checked:
    """Check one photo for this provider and make it what the studio keeps (decoded whole,
    cut to the picture's end, without its GPS position, camera serial or comments:
    metadata.clean_upload); notes when it will be scaled down to the vendor's limits."""
    content = photo.content
    if uploads.too_large(content):
        return _Checked(uploads.limit_message(), photo, damaged=True)
    stream = io.BytesIO(content) if isinstance(content, bytes) else content
    try:
        header = images.check_upload(stream)
    except images.ImageRejected as error:
        return _Checked(str(error), photo)
    limits = provider.adapter.limits(provider.vendor_operation, spec.role)
    label = provider.adapter.label
    if spec.role != "mask" and (
        header.width > limits.max_width or header.height > limits.max_height
    ):
        found.notes.append(
            _(
                "%(label)s is %(width)d×%(height)d pixels; it will be scaled down to fit "
                "%(vendor)s's limit of %(max_w)d×%(max_h)d."
            )
            % {
                "label": spec.label,
                "width": header.width,
                "height": header.height,
                "vendor": label,
                "max_w": limits.max_width,
                "max_h": limits.max_height,
            }
        )
    elif (
        spec.role != "mask"
        and header.format == "JPEG"
        and header.width * header.height > images.full_decode_cap()
    ):
        found.notes.append(images.decoded_smaller(header.width, header.height))
    if header.width < limits.min_width or header.height < limits.min_height:
        too_small = _(
            "This image is %(w)d×%(h)d pixels; %(vendor)s needs at least %(mw)d×%(mh)d."
        ) % {
            "w": header.width,
            "h": header.height,
            "vendor": label,
            "mw": limits.min_width,
            "mh": limits.min_height,
        }
        return _Checked(too_small, photo)
    try:
        # Still from the header: a photo no later step could decode within the memory budget
        # is refused now, naming the file, rather than failing its job.
        if spec.role == "mask":
            images.check_mask_memory(stream)
        else:
            images.check_fit_memory(stream, limits)
    except images.ImageRejected as error:
        return _Checked(str(error), photo, damaged=True)
    # Only now, past the cheap header checks: this decodes every pixel (a 12-megapixel JPEG
    # takes about 45 ms, decoded at an eighth of its size).
    raw = _read(content)
    try:
        cleaned = metadata.clean_upload(raw)
    except images.ImageRejected as error:
        return _Checked(str(error), photo, damaged=True)
    if spec.role == "image" and not photo.details:
        photo = Photo(photo.content, photo.name, metadata.photo_details(raw))
    return _Checked("", _cleaned(photo, cleaned, changed=cleaned != raw))


def _check_photos(
    specs: Sequence[FileInput],
    provider: Provider,
    photos: Mapping[str, Sequence[Photo]],
    errors: dict[str, list[str]],
) -> _Photos:
    found = _Photos()
    for spec in specs:
        sent = list(photos.get(spec.role, []))
        if not sent:
            if spec.required:
                errors.setdefault(spec.role, []).append(_("Choose a photo."))
            continue
        if len(sent) > settings.BATCH_MAX_PHOTOS:
            errors.setdefault(spec.role, []).append(
                _("At most %(count)d photos at once: this batch has %(sent)d.")
                % {"count": settings.BATCH_MAX_PHOTOS, "sent": len(sent)}
            )
            continue
        passed = []
        for photo in sent:
            checked = _check_photo(spec, provider, photo, found)
            if checked.problem:
                # In a batch, say which photo; a single one is the field's own, unless the
                # file itself is damaged: then its name says which file to look at.
                named = photo.name and (len(sent) > 1 or checked.damaged)
                message = f"{photo.name}: {checked.problem}" if named else checked.problem
                errors.setdefault(spec.role, []).append(message)
            else:
                passed.append(checked.photo)
        found.passed[spec.role] = passed
    if len(found.passed.get("image", [])) > 1 and found.passed.get("mask"):
        errors.setdefault("mask", []).append(
            _("A mask fits one photo: send the photos one at a time to paint a mask for each.")
        )
    return found


def _chosen_key(owner: User, key: object, errors: dict[str, list[str]]) -> VendorKey | None:
    """The person's own key named by ``key`` (never another person's, never a house key by
    name); a name that is not one is an error on the field."""
    choice = forms.ModelChoiceField(queryset=VendorKey.objects.filter(owner=owner), required=False)
    try:
        chosen: VendorKey | None = choice.clean(key)
    except forms.ValidationError as error:
        errors.setdefault("key", []).extend(error.messages)
        return None
    return chosen


# --- The validator ---------------------------------------------------------------------------


def validate(
    operation: Operation,
    owner: User,
    *,
    provider: str | None,
    values: Mapping[str, Any],
    photos: Mapping[str, Sequence[Photo]],
    key: object = None,
    limits: quotas.Limits | None = None,
) -> Submission:
    """Check a submission of ``owner``'s. ``provider``: a provider's name, or None for the
    first one the plan offers. ``values``: the parameters as sent (text, as a form posts
    them). ``photos``: by file role. ``key``: the id of one of the owner's keys, or None.
    ``limits``: the owner's, when the caller has them already. Raises SubmissionInvalid."""
    limits = limits or quotas.limits_for(owner)
    errors: dict[str, list[str]] = {}
    offered = offered_providers(operation, limits)
    if provider and provider not in {p.name for p in offered}:
        errors["provider"] = [
            _("This provider is not in your plan. Choose one of the providers offered.")
        ]
    chosen = chosen_provider(operation, limits, provider)
    chosen_key = _chosen_key(owner, key, errors)
    cleaned, value_errors = clean_values(operation, values)
    errors.update(value_errors)
    params, param_errors = clean_params(operation, chosen, cleaned, failed=errors)
    for name, messages in param_errors.items():
        errors.setdefault(name, []).extend(messages)
    found = _check_photos(wanted_files(operation, chosen, cleaned), chosen, photos, errors)

    if not allowed_providers(operation, limits):
        raise SubmissionInvalid(
            errors,
            passed=found.passed,
            code="not_in_plan",
            message=_("%(operation)s is not in your plan.") % {"operation": operation.label},
        )
    to_use: VendorKey | None = None
    if chosen.vendor is not None:
        to_use = VendorKey.objects.for_job(
            owner,
            chosen.vendor,
            chosen=chosen_key,
            house_keys=limits.house_keys,
        )
        if to_use is None:
            raise SubmissionInvalid(
                errors,
                passed=found.passed,
                code="no_key",
                message=_("You have no %(vendor)s key yet. Add one in your vault first.")
                % {"vendor": chosen.vendor.label},
            )
    if errors:
        raise SubmissionInvalid(errors, passed=found.passed)
    return Submission(
        owner=owner,
        operation=operation,
        provider=chosen,
        params=params,
        photos=found.passed,
        key=to_use,
        notes=tuple(found.notes),
        limits=limits,
    )
