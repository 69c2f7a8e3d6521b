"""A recipe run's page: the strip of the photo through its steps (the original, then each step's
result), each step's state and, for a stopped one, why and "retry from this step"; the
before/after slider between any two frames of the strip. Followed by HTMX polling while a step
is under way, like the job page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.http import AuthenticatedHttpRequest, HtmxHttpRequest
from editor import access, recipes
from editor.models import Recipe


@dataclass(frozen=True)
class Frame:
    """One picture of the strip: the original (number 0) or a step's first result."""

    number: int
    label: str
    url: str


def _frames(steps: list[recipes.StepState]) -> list[Frame]:
    frames: list[Frame] = []
    first = steps[0].job if steps else None
    if first is not None and first.inputs.get(recipes.CHAINED_ROLE):
        url = reverse("editor:job_input", args=[first.pk, recipes.CHAINED_ROLE])
        frames.append(Frame(0, _("Original"), url))
    for step in steps:
        result = step.job.results.all()[0] if step.job and step.job.results.all() else None
        if result is not None:
            url = reverse("editor:result_file", args=[result.job_id, result.pk])
            label = _("Step %(number)d") % {"number": step.number}
            frames.append(Frame(step.number, label, url))
    return frames


def _chosen(frames: list[Frame], value: object, fallback: Frame | None) -> Frame | None:
    return next((frame for frame in frames if str(frame.number) == str(value)), fallback)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def recipe_run(request: HtmxHttpRequest, run_id: uuid.UUID) -> HttpResponse:
    run = access.get_recipe_run_for_user(request.user, run_id)
    steps = recipes.states(run)
    frames = _frames(steps)
    before = _chosen(frames, request.GET.get("before"), frames[0] if frames else None)
    after = _chosen(frames, request.GET.get("after"), frames[-1] if len(frames) > 1 else None)
    template = "editor/recipe_run.html#steps" if request.htmx else "editor/recipe_run.html"
    return render(
        request,
        template,
        {
            "run": run,
            "steps": steps,
            "status": recipes.status(run, steps),
            "credits": recipes.credits(run.steps),
            "frames": frames,
            "before": before,
            "after": after if after != before else None,
        },
    )


@require_POST
@login_required
def recipe_step_retry(
    request: AuthenticatedHttpRequest, run_id: uuid.UUID, number: int
) -> HttpResponse:
    step_run = access.get_recipe_step_for_user(request.user, run_id, number)
    try:
        recipes.retry_from(step_run)
    except recipes.CannotRetry as reason:
        messages.error(request, str(reason))
    return redirect("editor:recipe_run", run_id=step_run.run_id)


# --- The recipes page: yours and the studio's, import, export, delete, run on a photo --------


@require_GET
@login_required
def recipe_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Your recipes and the studio's, each with what one run costs. With ``?from=<job>`` (the
    job page's "Run a recipe" link), each offers to run on that job's result."""
    source = (
        access.get_job_for_user(request.user, request.GET["from"])
        if request.GET.get("from")
        else None
    )
    found = Recipe.objects.filter(owner=request.user) | Recipe.objects.filter(owner__isnull=True)
    rows = [
        (recipe, recipes.credits(recipe.steps)) for recipe in found.order_by("name", "created_at")
    ]
    return render(
        request,
        "editor/recipes.html",
        {"rows": rows, "source": source, "max_bytes": recipes.MAX_DOCUMENT_BYTES},
    )


@require_POST
@login_required
def recipe_import(request: AuthenticatedHttpRequest) -> HttpResponse:
    upload = request.FILES.get("document")
    if upload is None:
        messages.error(request, _("Choose a recipe file to import."))
        return redirect("editor:recipes")
    if upload.size is not None and upload.size > recipes.MAX_DOCUMENT_BYTES:
        data = b"x" * (recipes.MAX_DOCUMENT_BYTES + 1)  # refused below as too large, unread
    else:
        data = upload.read()
    try:
        recipe = recipes.import_document(request.user, data)
    except recipes.RecipeInvalid as invalid:
        for error in invalid.errors:
            messages.error(request, recipes.describe(error))
        return redirect("editor:recipes")
    messages.success(request, _("Imported the recipe %(name)s.") % {"name": recipe.name})
    return redirect("editor:recipes")


@require_GET
@login_required
def recipe_export(request: AuthenticatedHttpRequest, recipe_id: uuid.UUID) -> HttpResponse:
    recipe = access.get_recipe_for_user(request.user, recipe_id)
    response = HttpResponse(recipes.export(recipe), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="recipe.json"'
    return response


@require_POST
@login_required
def recipe_delete(request: AuthenticatedHttpRequest, recipe_id: uuid.UUID) -> HttpResponse:
    recipe = access.get_recipe_for_user(request.user, recipe_id, own=True)
    recipe.delete()
    messages.success(request, _("Deleted the recipe %(name)s.") % {"name": recipe.name})
    return redirect("editor:recipes")


@require_POST
@login_required
def recipe_start(request: AuthenticatedHttpRequest, recipe_id: uuid.UUID) -> HttpResponse:
    """Run a recipe on the result of one of the person's jobs (``job``)."""
    recipe = access.get_recipe_for_user(request.user, recipe_id)
    if not request.POST.get("job"):
        messages.error(request, _("Open a result in your gallery to run a recipe on it."))
        return redirect("editor:gallery")
    source = access.get_job_for_user(request.user, request.POST["job"])
    try:
        (started,) = recipes.run_on_jobs(recipe, request.user, [source])
    except recipes.RecipeCannotStart as reason:
        messages.error(request, str(reason))
        return redirect(f"{reverse('editor:recipes')}?from={source.pk}")
    return redirect("editor:recipe_run", run_id=started.pk)
