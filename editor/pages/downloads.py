"""The download of a job's result from its page: a plain GET form (``editor/_download.html``),
so it works without JavaScript; a choice that makes no sense gets a page saying why, with the
form again. What is sent is editor.downloads', shared with the API.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from editor import access, downloads, images, operations
from editor.models import Result


def _problem(request: HttpRequest, result: Result, errors: list[str], status: int) -> HttpResponse:
    """The download page: what went wrong, and the form again to choose otherwise."""
    label = operations.label_of(result.job.operation)
    chosen = request.GET.get("format", downloads.ORIGINAL)
    return render(
        request,
        "editor/download.html",
        {
            "result": result,
            "operation_label": label,
            "errors": errors,
            "download_format": chosen
            if chosen in {downloads.ORIGINAL, *downloads.CONVERSIONS}
            else downloads.ORIGINAL,
            "download_quality": request.GET.get("quality", "")[:10] or downloads.DEFAULT_QUALITY,
            "download_metadata": request.GET.get("metadata")
            if request.GET.get("metadata") in dict(downloads.METADATA_CHOICES)
            else downloads.CAPTURE,
        },
        status=status,
    )


@require_GET
@login_required
def result_download(
    request: AuthenticatedHttpRequest, job_id: uuid.UUID, result_id: uuid.UUID
) -> HttpResponse:
    """``?format=original|png|jpeg|webp&quality=1..100&metadata=camera|none|uploaded``
    (defaults: original, 90, camera), as a file."""
    result = access.get_result_for_user(request.user, job_id, result_id)
    form = downloads.DownloadForm(request.GET)
    if not form.is_valid():
        errors = [str(error) for field_errors in form.errors.values() for error in field_errors]
        return _problem(request, result, errors, status=400)
    try:
        body, fmt = downloads.encode(result, form.cleaned_data)
    except images.ImageRejected as rejected:
        # The stored file itself cannot be read: nothing the person chose would help.
        message = _("This result cannot be downloaded: %(reason)s") % {"reason": rejected}
        return _problem(request, result, [message], status=422)
    return downloads.attachment(result, body, fmt)
