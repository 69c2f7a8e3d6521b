"""A batch: several photos sent at once with the same settings, one job each. Its page shows
the overall progress and every job; the finished results download together as one ZIP."""

from __future__ import annotations

import tempfile
import uuid
import zipfile
from collections import Counter
from pathlib import PurePosixPath

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.http import AuthenticatedHttpRequest, HtmxHttpRequest
from editor import access, fairqueue, images, media, metadata, operations
from editor.models import Batch, Job, JobStatus, Result


def _jobs(batch: Batch) -> list[Job]:
    return list(batch.jobs.prefetch_related("results").order_by("created_at", "pk"))


@require_GET
@login_required
@vary_on_headers("HX-Request")
def batch_detail(request: HtmxHttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    batch = access.get_batch_for_user(request.user, batch_id)
    batch_jobs = _jobs(batch)
    counts = Counter(job.status for job in batch_jobs)
    ended = sum(not job.is_active for job in batch_jobs)
    waiting = counts[JobStatus.PENDING]
    results = sum(len(job.results.all()) for job in batch_jobs)
    places = fairqueue.places(batch.owner_id, batch_jobs) if waiting else {}
    template = "editor/batch.html#progress" if request.htmx else "editor/batch.html"
    return render(
        request,
        template,
        {
            "batch": batch,
            "operation": operations.get(batch.operation),
            "rows": [(job, places.get(job.pk)) for job in batch_jobs],
            "total": len(batch_jobs),
            "ended": ended,
            "active": len(batch_jobs) - ended,
            "waiting": waiting,
            "running": len(batch_jobs) - ended - waiting,
            "succeeded": counts[JobStatus.SUCCEEDED],
            "failed": counts[JobStatus.FAILED] + counts[JobStatus.CANCELED],
            "results": results,
            "percent": round(100 * ended / len(batch_jobs)) if batch_jobs else 100,
        },
    )


def archive_name(index: int, job: Job, result: Result, several: bool) -> str:
    """``03-grandma.jpg``: the position in the batch, the photo's own name (or the
    operation's), the result's number when a job made several, the result's own type."""
    stem = PurePosixPath(job.photo_name).stem or job.operation
    stem = "".join(char if char.isalnum() or char in "-_ " else "_" for char in stem).strip()
    suffix = f"-{result.position + 1}" if several else ""
    extension = images.extension_for(result.media_type)
    return f"{index:02d}-{stem or job.operation}{suffix}.{extension}"


@require_GET
@login_required
def batch_zip(request: AuthenticatedHttpRequest, batch_id: uuid.UUID) -> FileResponse:
    """Every finished result of the batch in one ZIP, as stored (no re-encoding) but without
    EXIF and GPS (editor.metadata.strip_metadata), built in a temporary file."""
    batch = access.get_batch_for_user(request.user, batch_id)
    # Handed to the response, which closes it when sent.
    spool = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)  # noqa: SIM115
    # Photos are compressed already: storing them is as small and much faster.
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, job in enumerate(_jobs(batch), start=1):
            job_results = list(job.results.all())
            for result in job_results:
                if not default_storage.exists(result.file.name):
                    continue
                with default_storage.open(result.file.name, "rb") as handle:
                    data = handle.read()
                try:
                    stripped = metadata.strip_metadata(data)
                except images.ImageRejected:
                    continue  # a damaged file: the rest of the batch still downloads
                archive.writestr(archive_name(index, job, result, len(job_results) > 1), stripped)
    spool.seek(0)
    label = operations.get(batch.operation).slug
    filename = _("%(operation)s-batch-%(date)s.zip") % {
        "operation": label,
        "date": batch.created_at.date().isoformat(),
    }
    response = FileResponse(
        spool, as_attachment=True, filename=filename, content_type="application/zip"
    )
    response["Cache-Control"] = "private, no-store"
    media.protect(response)  # an attachment already (as_attachment)
    return response
