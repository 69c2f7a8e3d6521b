from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from accounts.quotas import QuotaExceeded
from editor import images, jobs, operations
from editor.forms import OperationForm
from editor.models import Job, Result

# Error codes that mean the vendor no longer offers the operation: retrying cannot help.
RETIRED_CODES = frozenset({"ERROR_AI_NOT_EXISTS", "retired"})


class HtmxHttpRequest(HttpRequest):
    """What django-htmx's middleware makes of every request (its documented typing pattern)."""

    htmx: HtmxDetails


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def get_job_for_user(request: HttpRequest, job_id: uuid.UUID) -> Job:
    return get_object_or_404(Job, pk=job_id, owner=_user(request))


def get_result_for_user(request: HttpRequest, job_id: uuid.UUID, result_id: uuid.UUID) -> Result:
    return get_object_or_404(
        Result.objects.select_related("job"), pk=result_id, job_id=job_id, job__owner=_user(request)
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
        Job.objects.filter(owner=_user(request))
        .prefetch_related("results")
        .order_by("-created_at")[:12]
    )
    return render(
        request,
        "editor/studio.html",
        {"operations": operations.OPERATIONS, "recent_jobs": recent},
    )


@login_required
def operation(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    try:
        declared = operations.get(slug)
    except KeyError:
        raise Http404 from None
    user = _user(request)
    if request.method == "POST":
        form = OperationForm(declared, user, request.POST, request.FILES)
        if form.is_valid():
            provider = form.chosen_provider()
            try:
                job = jobs.submit(
                    owner=user,
                    operation=declared,
                    provider=provider,
                    params=form.params,
                    files=form.files_by_role,
                    key=form.key_to_use,
                )
            except QuotaExceeded as exceeded:
                form.add_error(None, exceeded.message)
            else:
                for note in form.notes:
                    messages.info(request, note)
                url = reverse("editor:job", args=[job.pk])
                if request.htmx:
                    return HttpResponseClientRedirect(url)
                return redirect(url)
    elif request.method == "GET":
        form = OperationForm(declared, user, initial=request.GET.dict() or None)
    else:
        return HttpResponse(status=405)
    template = "editor/operation.html#form" if request.htmx else "editor/operation.html"
    provider = form.chosen_provider()
    return render(
        request,
        template,
        {
            "operation": declared,
            "form": form,
            "provider": provider,
            "keys": form.keys_for(provider),
        },
    )


@require_GET
@login_required
def job_detail(request: HtmxHttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = get_job_for_user(request, job_id)
    operation = operations.get(job.operation)
    template = "editor/job.html#status" if request.htmx else "editor/job.html"
    return render(
        request,
        template,
        {
            "job": job,
            "operation": operation,
            "provider": operation.provider(job.provider),
            "results": job.results.all(),
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


def _private_file(name: str, content_type: str) -> FileResponse:
    if not name or not default_storage.exists(name):
        raise Http404
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@login_required
def job_input(request: HttpRequest, job_id: uuid.UUID, role: str) -> FileResponse:
    job = get_job_for_user(request, job_id)
    name = job.prepared.get(role) or job.inputs.get(role)
    if not name:
        raise Http404
    with default_storage.open(name, "rb") as handle:
        head = handle.read(16)
    media_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}.get(
        images.format_of(head), "application/octet-stream"
    )
    return _private_file(name, media_type)


@require_GET
@login_required
def result_file(request: HttpRequest, job_id: uuid.UUID, result_id: uuid.UUID) -> FileResponse:
    result = get_result_for_user(request, job_id, result_id)
    return _private_file(result.file.name, result.media_type)


@require_GET
@login_required
def result_thumbnail(request: HttpRequest, job_id: uuid.UUID, result_id: uuid.UUID) -> FileResponse:
    result = get_result_for_user(request, job_id, result_id)
    return _private_file(result.thumbnail.name, "image/jpeg")
