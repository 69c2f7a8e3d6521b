"""A job's page: its progress (the status fragment polls while it runs), its results with the
before/after slider and the comparison of variants, the settings it ran with; cancel, retry and
delete; and the job's stored photos and results as private files."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from accounts.http import AuthenticatedHttpRequest, HtmxHttpRequest
from accounts.quotas import QuotaExceeded
from editor import access, fairqueue, jobs, media, operations, pipeline, polling
from editor.models import Job, JobStatus, Result

# Error codes that mean the vendor no longer offers the operation: retrying cannot help.
RETIRED_CODES = frozenset({"ERROR_AI_NOT_EXISTS", "retired"})


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
    settings = [
        Setting(
            _("Provider"),
            operations.provider_label(job.provider),
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
@vary_on_headers("HX-Request")
def job_detail(request: HtmxHttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = access.get_job_for_user(request.user, job_id)
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
            # Said on the page in the same swap that shows the end (static/js/notify.js).
            "ended_message": (
                None if job.is_active else jobs.ended_message(job.operation, job.status)
            ),
            # The vendor may have charged the failed run: Retry says it may charge again.
            "may_charge_again": job.error_code == pipeline.UNREADABLE_ANSWER,
            "out_of_credits": jobs.out_of_credits(job),
            "retrying": jobs.retrying(job),
            "seconds_left": polling.seconds_left(job),
            "place": fairqueue.places(job.owner_id, [job]).get(job.pk) if job.is_pending else None,
        },
    )


@require_POST
@login_required
def job_cancel(request: AuthenticatedHttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = access.get_job_for_user(request.user, job_id)
    if jobs.cancel(job):
        messages.success(request, _("Job canceled. Its credits were refunded."))
    return redirect("editor:job", job_id=job.pk)


@require_POST
@login_required
def job_retry(request: AuthenticatedHttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = access.get_job_for_user(request.user, job_id)
    try:
        jobs.retry(job)
    except QuotaExceeded as exceeded:
        messages.error(request, exceeded.message)
    return redirect("editor:job", job_id=job.pk)


@require_POST
@login_required
@vary_on_headers("HX-Request")
def job_delete(request: HtmxHttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Delete a job, its photos and its results. The page's button asks first with
    ``hx-confirm`` and says so in the form (``confirmed``); without JavaScript the first post
    shows a page that asks, and its button confirms."""
    job = access.get_job_for_user(request.user, job_id)
    label = operations.label_of(job.operation)
    if request.POST.get("confirmed") != "1":
        return render(request, "editor/job_delete.html", {"job": job, "label": label})
    jobs.delete(job)
    messages.success(
        request,
        _("“%(operation)s” job deleted, with its photos and results.") % {"operation": label},
    )
    if request.htmx:
        return HttpResponseClientRedirect(reverse("editor:gallery"))
    return redirect("editor:gallery")


@require_GET
@login_required
def job_input(request: AuthenticatedHttpRequest, job_id: uuid.UUID, role: str) -> HttpResponseBase:
    job = access.get_job_for_user(request.user, job_id)
    return media.private_image(job.prepared.get(role) or job.inputs.get(role) or "")


@require_GET
@login_required
def result_file(
    request: AuthenticatedHttpRequest, job_id: uuid.UUID, result_id: uuid.UUID
) -> HttpResponseBase:
    result = access.get_result_for_user(request.user, job_id, result_id)
    return media.private_file(result.file.name, result.media_type)


@require_GET
@login_required
def result_thumbnail(
    request: AuthenticatedHttpRequest, job_id: uuid.UUID, result_id: uuid.UUID
) -> HttpResponseBase:
    result = access.get_result_for_user(request.user, job_id, result_id)
    return media.private_file(result.thumbnail.name, "image/jpeg")
