"""The studio: the home page, the list of operations, each operation's form (one photo or a
batch, with presets and the photos kept from an earlier try) and its presets panel."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from accounts import quotas
from accounts.http import AuthenticatedHttpRequest, HtmxHttpRequest
from accounts.models import User
from accounts.quotas import QuotaExceeded
from editor import access, jobs, media, operations, storage
from editor.forms import OperationForm, PresetForm, initial_values
from editor.models import Batch, Draft, Job, Preset

# Query parameters of the operation page that are not form fields.
QUERY_ONLY = frozenset({"from", "preset"})


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("editor:studio")
    return render(request, "editor/home.html")


@require_GET
@login_required
def studio(request: AuthenticatedHttpRequest) -> HttpResponse:
    recent = (
        Job.objects.filter(owner=request.user)
        .prefetch_related("results")
        .order_by("-created_at")[:12]
    )
    limits = quotas.limits_for(request.user)
    return render(
        request,
        "editor/studio.html",
        {
            # Each operation with whether the person's plan includes it (with some provider).
            "operations": [
                (
                    operation,
                    any(limits.allows(operation.slug, p.name) for p in operation.providers),
                )
                for operation in operations.OPERATIONS
            ],
            "recent_jobs": [(job, operations.label_of(job.operation)) for job in recent],
        },
    )


def _operation_or_404(slug: str) -> operations.Operation:
    try:
        return operations.get(slug)
    except KeyError:
        raise Http404 from None


def _source(
    request: AuthenticatedHttpRequest, operation: operations.Operation, value: str | None
) -> Job | None:
    """The earlier job named by ``?from=`` (or the form's ``from``), if any."""
    return access.get_source_job_for_user(request.user, operation, value) if value else None


def _operation_url(
    operation: operations.Operation, *, preset: Preset | None = None, source: Job | None = None
) -> str:
    query = {}
    if preset is not None:
        query["preset"] = str(preset.pk)
    if source is not None:
        query["from"] = str(source.pk)
    url = reverse("editor:operation", args=[operation.slug])
    return f"{url}?{urlencode(query)}" if query else url


@dataclass(frozen=True)
class PresetChoice:
    """One preset as the form's presets panel shows it: a link that applies it server-side
    (no JavaScript) and the field values the page's script fills in place."""

    preset: Preset
    href: str
    values_json: str
    own: bool


def _preset_choices(
    user: User, operation: operations.Operation, source: Job | None
) -> list[PresetChoice]:
    presets = Preset.objects.filter(
        Q(owner=user) | Q(owner__isnull=True), operation=operation.slug
    ).order_by(F("owner").asc(nulls_first=True), "name")
    choices = []
    for preset in presets:
        values = initial_values(operation, preset.params)
        if preset.provider:
            values["provider"] = preset.provider
        choices.append(
            PresetChoice(
                preset=preset,
                href=_operation_url(operation, preset=preset, source=source),
                values_json=json.dumps(values),
                own=preset.owner_id == user.pk,
            )
        )
    return choices


def _presets_context(
    request: AuthenticatedHttpRequest,
    operation: operations.Operation,
    source: Job | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "operation": operation,
        "presets": _preset_choices(request.user, operation, source),
        "source_job": source,
        **extra,
    }


def _initial(
    request: HttpRequest,
    operation: operations.Operation,
    source: Job | None,
    preset: Preset | None,
) -> dict[str, Any]:
    """What an unbound form starts from: the earlier job's settings, then the preset's, then
    anything named in the query string (``?provider=local``)."""
    initial: dict[str, Any] = {}
    if source is not None:
        initial["provider"] = source.provider
        if source.key_id is not None:
            initial["key"] = source.key_id
        initial.update(initial_values(operation, source.params))
    if preset is not None:
        if preset.provider:
            initial["provider"] = preset.provider
        initial.update(initial_values(operation, preset.params))
    initial.update(
        {name: value for name, value in request.GET.dict().items() if name not in QUERY_ONLY}
    )
    return initial


@login_required
@vary_on_headers("HX-Request")
def operation(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    declared = _operation_or_404(slug)
    user = request.user
    source = _source(
        request, declared, (request.POST if request.method == "POST" else request.GET).get("from")
    )
    if request.method == "POST":
        if "_submit" in request.POST and request.POST.get("preset_name", "").strip():
            # Enter pressed in a field while a preset name was typed (the form's first, hidden
            # submit button): the person is saving a preset, not spending credits on a run.
            response = preset_save(request, slug)
            if request.htmx:
                retarget(response, "#saved-presets")
                reswap(response, "outerHTML")
            return response
        form = OperationForm(declared, user, request.POST, request.FILES, source=source)
        if form.is_valid() and form.submission is not None:
            try:
                with transaction.atomic():
                    # The kept photos move into the job: their bytes stop counting as drafts
                    # before the job's are charged, and stay drafts if the job is refused.
                    for draft in form.drafts_used:
                        draft.discard()
                    started = jobs.start(form.submission, source_job=form.photo_source)
            except QuotaExceeded as exceeded:
                form.add_error(None, exceeded.message)
            except storage.StorageUnavailable as unavailable:
                form.add_error(None, unavailable.message)
            else:
                for note in form.submission.notes:
                    messages.info(request, note)
                url = _started_url(started)
                if request.htmx:
                    return HttpResponseClientRedirect(url)
                return redirect(url)
        # Sent back with errors: whatever photos passed their checks stay for the next try
        # (unless the storage will not take them: the person then chooses them again).
        try:
            form.show_drafts(
                {
                    role: [Draft.keep(user, role, upload, details) for upload, details in uploads]
                    for role, uploads in form.new_uploads().items()
                }
            )
        except storage.StorageUnavailable as unavailable:
            if unavailable.message not in form.non_field_errors():
                form.add_error(None, unavailable.message)
    elif request.method == "GET":
        preset_id = request.GET.get("preset")
        preset = access.get_preset_for_user(user, declared, preset_id) if preset_id else None
        initial = _initial(request, declared, source, preset)
        form = OperationForm(declared, user, initial=initial or None, source=source)
    else:
        return HttpResponse(status=405)
    template = "editor/operation.html#form" if request.htmx else "editor/operation.html"
    return render(request, template, _operation_context(request, declared, form, source))


def _started_url(started: Job | Batch) -> str:
    if isinstance(started, Batch):
        return reverse("editor:batch", args=[started.pk])
    return reverse("editor:job", args=[started.pk])


def _operation_context(
    request: AuthenticatedHttpRequest,
    operation: operations.Operation,
    form: OperationForm,
    source: Job | None,
    **extra: Any,
) -> dict[str, Any]:
    provider = form.chosen_provider()
    return {
        **_presets_context(request, operation, source, **extra),
        "form": form,
        "provider": provider,
        "keys": form.keys_for(provider),
    }


@require_POST
@login_required
@vary_on_headers("HX-Request")
def preset_save(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Save the operation form's current settings as a named preset of this person's. The
    operation form posts here (a second submit button), so it works without JavaScript too."""
    declared = _operation_or_404(slug)
    user = request.user
    source = _source(request, declared, request.POST.get("from"))
    form = PresetForm(declared, request.POST)
    saved: Preset | None = None
    notice = ""
    if form.is_valid():
        saved, created = Preset.objects.update_or_create(
            owner=user,
            operation=declared.slug,
            name=form.cleaned_data["preset_name"],
            defaults={"provider": form.chosen.name, "params": form.params},
        )
        notice = (
            _("Saved the preset “%(name)s”.") if created else _("Updated the preset “%(name)s”.")
        ) % {"name": saved.name}
    if request.htmx:
        return render(
            request,
            "editor/_presets.html#preset-panel",
            _presets_context(request, declared, source, preset_form=form, notice=notice),
        )
    if saved is not None:
        messages.success(request, notice)
        return redirect(_operation_url(declared, preset=saved, source=source))
    # Without JavaScript: the operation page again, with what was typed and why it was not saved.
    typed = OperationForm(
        declared,
        user,
        initial={name: value for name, value in request.POST.dict().items() if value},
        source=source,
    )
    return render(
        request,
        "editor/operation.html",
        _operation_context(request, declared, typed, source, preset_form=form),
    )


@require_POST
@login_required
@vary_on_headers("HX-Request")
def preset_delete(request: HtmxHttpRequest, slug: str, preset_id: uuid.UUID) -> HttpResponse:
    declared = _operation_or_404(slug)
    preset = access.get_preset_for_user(request.user, declared, preset_id, own=True)
    source = _source(request, declared, request.POST.get("from"))
    preset.delete()
    notice = _("Deleted the preset “%(name)s”.") % {"name": preset.name}
    if request.htmx:
        return render(
            request,
            "editor/_presets.html#preset-panel",
            _presets_context(request, declared, source, notice=notice),
        )
    messages.success(request, notice)
    return redirect(_operation_url(declared, source=source))


@require_GET
@login_required
def draft_file(request: AuthenticatedHttpRequest, draft_id: uuid.UUID) -> HttpResponseBase:
    """A photo kept from a form sent back with errors, shown on that form again."""
    draft = access.get_draft_for_user(request.user, draft_id)
    return media.private_image(draft.file.name)
