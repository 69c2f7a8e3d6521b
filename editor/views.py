from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget
from django_htmx.middleware import HtmxDetails

from accounts import quotas
from accounts.models import User
from accounts.quotas import QuotaExceeded
from editor import images, jobs, media, operations
from editor.forms import OperationForm, PresetForm, initial_values
from editor.models import Draft, Job, JobStatus, Preset, Result

# Error codes that mean the vendor no longer offers the operation: retrying cannot help.
RETIRED_CODES = frozenset({"ERROR_AI_NOT_EXISTS", "retired"})


class HtmxHttpRequest(HttpRequest):
    """What django-htmx's middleware makes of every request (its documented typing pattern)."""

    htmx: HtmxDetails


def current_user(request: HttpRequest) -> User:
    """The signed-in person (views behind login_required only)."""
    assert isinstance(request.user, User)
    return request.user


def get_job_for_user(request: HttpRequest, job_id: uuid.UUID) -> Job:
    return get_object_or_404(Job, pk=job_id, owner=current_user(request))


def get_source_job_for_user(
    request: HttpRequest, operation: operations.Operation, value: str | None
) -> Job | None:
    """The earlier job named by ``?from=`` (or the form's ``from``): only the person's own job
    of this operation; anything else is a 404, so nobody can reuse another person's photo."""
    if not value:
        return None
    try:
        job_id = uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None
    return get_object_or_404(Job, pk=job_id, owner=current_user(request), operation=operation.slug)


def get_preset_for_user(
    request: HttpRequest,
    operation: operations.Operation,
    preset_id: uuid.UUID | str,
    *,
    own: bool = False,
) -> Preset:
    """A preset the person may apply (their own or a studio one) or, with ``own``, change."""
    try:
        pk = uuid.UUID(str(preset_id))
    except ValueError:
        raise Http404 from None
    mine = Q(owner=current_user(request))
    visible = mine if own else mine | Q(owner__isnull=True)
    return get_object_or_404(Preset.objects.filter(visible), pk=pk, operation=operation.slug)


def get_result_for_user(request: HttpRequest, job_id: uuid.UUID, result_id: uuid.UUID) -> Result:
    return get_object_or_404(
        Result.objects.select_related("job"),
        pk=result_id,
        job_id=job_id,
        job__owner=current_user(request),
    )


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("editor:studio")
    return render(request, "editor/home.html")


@require_GET
@login_required
def studio(request: HttpRequest) -> HttpResponse:
    recent = (
        Job.objects.filter(owner=current_user(request))
        .prefetch_related("results")
        .order_by("-created_at")[:12]
    )
    labels = {operation.slug: operation.label for operation in operations.OPERATIONS}
    limits = quotas.limits_for(current_user(request))
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
            "recent_jobs": [(job, labels.get(job.operation, job.operation)) for job in recent],
        },
    )


def _operation_or_404(slug: str) -> operations.Operation:
    try:
        return operations.get(slug)
    except KeyError:
        raise Http404 from None


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
    request: HttpRequest,
    operation: operations.Operation,
    source: Job | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "operation": operation,
        "presets": _preset_choices(current_user(request), operation, source),
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


# Query parameters of the operation page that are not form fields.
QUERY_ONLY = frozenset({"from", "preset"})


@login_required
def operation(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    declared = _operation_or_404(slug)
    user = current_user(request)
    source = get_source_job_for_user(
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
        if form.is_valid():
            try:
                with transaction.atomic():
                    # The kept photos move into the job: their bytes stop counting as drafts
                    # before the job's are charged, and stay drafts if the job is refused.
                    for draft in form.drafts_used:
                        draft.discard()
                    url = _submit(form)
            except QuotaExceeded as exceeded:
                form.add_error(None, exceeded.message)
            else:
                for note in form.notes:
                    messages.info(request, note)
                if request.htmx:
                    return HttpResponseClientRedirect(url)
                return redirect(url)
        # Sent back with errors: whatever photos passed their checks stay for the next try.
        form.keep_uploads()
    elif request.method == "GET":
        preset_id = request.GET.get("preset")
        preset = get_preset_for_user(request, declared, preset_id) if preset_id else None
        initial = _initial(request, declared, source, preset)
        form = OperationForm(declared, user, initial=initial or None, source=source)
    else:
        return HttpResponse(status=405)
    template = "editor/operation.html#form" if request.htmx else "editor/operation.html"
    return render(request, template, _operation_context(request, declared, form, source))


def _submit(form: OperationForm) -> str:
    """Start the job (or the batch's jobs) a valid form asks for; returns the page to see it
    on. Raises QuotaExceeded, with nothing started."""
    provider = form.chosen_provider()
    if form.batch:
        shared = {role: content for role, content in form.files_by_role.items() if role != "image"}
        batch = jobs.submit_batch(
            owner=form.user,
            operation=form.operation,
            provider=provider,
            params=form.params,
            photos=form.batch,
            files=shared,
            key=form.key_to_use,
        )
        return reverse("editor:batch", args=[batch.pk])
    job = jobs.submit(
        owner=form.user,
        operation=form.operation,
        provider=provider,
        params=form.params,
        files=form.files_by_role,
        key=form.key_to_use,
        source_job=form.photo_source,
        photo_name=form.photo_name,
    )
    return reverse("editor:job", args=[job.pk])


def _operation_context(
    request: HttpRequest,
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
def preset_save(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    """Save the operation form's current settings as a named preset of this person's. The
    operation form posts here (a second submit button), so it works without JavaScript too."""
    declared = _operation_or_404(slug)
    user = current_user(request)
    source = get_source_job_for_user(request, declared, request.POST.get("from"))
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
def preset_delete(request: HtmxHttpRequest, slug: str, preset_id: uuid.UUID) -> HttpResponse:
    declared = _operation_or_404(slug)
    preset = get_preset_for_user(request, declared, preset_id, own=True)
    source = get_source_job_for_user(request, declared, request.POST.get("from"))
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


@dataclass(frozen=True)
class Setting:
    label: str
    value: str
    changed: bool = False


@dataclass(frozen=True)
class Variant:
    """One result on the job page's comparison: of this job, or of another run on its photo."""

    job: Job
    result: Result
    number: int
    current: bool
    settings: list[Setting] = field(default_factory=list)


def _display(param: operations.Param, value: Any) -> str:
    if param.kind == "choice":
        return str(dict(param.choices).get(str(value), value))
    if param.kind == "colors" and isinstance(value, list | tuple):
        return ", ".join(f"#{color}" for color in value)
    if isinstance(value, float):
        return number_format(value)
    return str(value)


def describe(job: Job, compared_to: Job | None = None) -> list[Setting]:
    """A job's provider and parameters as a person reads them; with ``compared_to``, marked
    where they differ from that job's."""
    operation = operations.get(job.operation)
    try:
        provider_label = str(operation.provider(job.provider).label)
    except KeyError:
        provider_label = job.provider
    settings = [
        Setting(
            _("Provider"),
            provider_label,
            compared_to is not None and compared_to.provider != job.provider,
        )
    ]
    seen: set[str] = set()
    for param in operation.params:
        if param.name in seen or param.name not in job.params:
            continue
        seen.add(param.name)
        value = job.params[param.name]
        changed = compared_to is not None and compared_to.params.get(param.name) != value
        settings.append(Setting(str(param.label), _display(param, value), changed))
    return settings


def _variants(job: Job, results: list[Result]) -> list[Variant]:
    variants = [
        Variant(job, result, number, current=True) for number, result in enumerate(results, start=1)
    ]
    for other in job.family():
        if other.pk == job.pk or other.status != JobStatus.SUCCEEDED:
            continue
        settings = describe(other, compared_to=job)
        variants += [
            Variant(other, result, number, current=False, settings=settings)
            for number, result in enumerate(other.results.all(), start=1)
        ]
    return variants


@require_GET
@login_required
def job_detail(request: HtmxHttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = get_job_for_user(request, job_id)
    operation = operations.get(job.operation)
    template = "editor/job.html#status" if request.htmx else "editor/job.html"
    results = list(job.results.all())
    # The comparison needs the family of runs on this photo only once there is something to
    # compare; while the job runs, the status fragment polls every second and stays cheap.
    variants = _variants(job, results) if results else []
    chosen = request.GET.get("compare")
    compared = next(
        (v for v in variants if str(v.result.pk) == chosen),
        variants[0] if variants else None,
    )
    return render(
        request,
        template,
        {
            "job": job,
            "operation": operation,
            "provider": operation.provider(job.provider),
            "results": results,
            "variants": variants,
            "compared": compared,
            "other_runs": any(not v.current for v in variants),
            "settings": describe(job),
            "vendor_retired": job.error_code in RETIRED_CODES,
        },
    )


@require_POST
@login_required
def job_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = get_job_for_user(request, job_id)
    if jobs.cancel(job):
        messages.success(request, _("Job canceled. Its credits were refunded."))
    return redirect("editor:job", job_id=job.pk)


@require_POST
@login_required
def job_retry(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = get_job_for_user(request, job_id)
    try:
        jobs.retry(job)
    except QuotaExceeded as exceeded:
        messages.error(request, exceeded.message)
    return redirect("editor:job", job_id=job.pk)


def _image_type(name: str) -> str:
    with default_storage.open(name, "rb") as handle:
        media = images.sniff(handle.read(16))
    return media.mime if media else "application/octet-stream"


@require_GET
@login_required
def draft_file(request: HttpRequest, draft_id: uuid.UUID) -> HttpResponseBase:
    """A photo kept from a form sent back with errors, shown on that form again."""
    draft = get_object_or_404(Draft, pk=draft_id, owner=current_user(request))
    if not default_storage.exists(draft.file.name):
        raise Http404
    return media.private_file(draft.file.name, _image_type(draft.file.name))


@require_GET
@login_required
def job_input(request: HttpRequest, job_id: uuid.UUID, role: str) -> HttpResponseBase:
    job = get_job_for_user(request, job_id)
    name = job.prepared.get(role) or job.inputs.get(role)
    if not name or not default_storage.exists(name):
        raise Http404
    return media.private_file(name, _image_type(name))


@require_GET
@login_required
def result_file(request: HttpRequest, job_id: uuid.UUID, result_id: uuid.UUID) -> HttpResponseBase:
    result = get_result_for_user(request, job_id, result_id)
    return media.private_file(result.file.name, result.media_type)


@require_GET
@login_required
def result_thumbnail(
    request: HttpRequest, job_id: uuid.UUID, result_id: uuid.UUID
) -> HttpResponseBase:
    result = get_result_for_user(request, job_id, result_id)
    return media.private_file(result.thumbnail.name, "image/jpeg")
