"""A recipe run's page: the strip of the photo through its steps (the original, then each step's
result), each step's state and, for a stopped one, why and "retry from this step"; the
before/after slider between any two frames of the strip. Followed by HTMX polling while a step
is under way, like the job page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.http import AuthenticatedHttpRequest, HtmxHttpRequest
from editor import access, operations, recipes, submissions, uploads
from editor.models import Job, JobStatus, Recipe, RecipeBatch, RecipeRun


@dataclass(frozen=True)
class Frame:
    """One picture of the strip: the original (number 0) or a step's first result."""

    number: int
    label: str
    url: str


def _frames(steps: list[recipes.StepState], *, thumbnails: bool = False) -> list[Frame]:
    """The strip; with ``thumbnails``, each step's result as its small thumbnail (a page of
    many strips), else at full size (the slider compares them)."""
    frames: list[Frame] = []
    result_view = "editor:result_thumbnail" if thumbnails else "editor:result_file"
    first = steps[0].job if steps else None
    if first is not None and first.inputs.get(recipes.CHAINED_ROLE):
        url = reverse("editor:job_input", args=[first.pk, recipes.CHAINED_ROLE])
        frames.append(Frame(0, _("Original"), url))
    for step in steps:
        result = step.job.results.all()[0] if step.job and step.job.results.all() else None
        if result is not None:
            url = reverse(result_view, args=[result.job_id, result.pk])
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
    # From a batch's page, back to it: the person is watching every photo there.
    if request.POST.get("back") == "batch" and step_run.run.batch_id:
        return redirect("editor:recipe_batch", batch_id=step_run.run.batch_id)
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


# --- A batch: one recipe on several photos ----------------------------------------------------

# How many of the person's latest results the batch form offers to run again.
GALLERY_CHOICES = 24


@dataclass(frozen=True)
class Choice:
    """A result of the person's gallery the batch form offers: its job and thumbnail."""

    job: Job
    thumbnail: str
    chosen: bool


def _gallery_choices(request: AuthenticatedHttpRequest, chosen: set[str]) -> list[Choice]:
    found = (
        Job.objects.filter(owner=request.user, status=JobStatus.SUCCEEDED)
        .prefetch_related("results")
        .order_by("-created_at")
    )
    picked = list(found.filter(pk__in=chosen)) if chosen else []
    latest = [job for job in found[:GALLERY_CHOICES] if str(job.pk) not in chosen]
    choices: list[Choice] = []
    for job in [*picked, *latest]:
        results = job.results.all()
        if results:
            url = reverse("editor:result_thumbnail", args=[job.pk, results[0].pk])
            choices.append(Choice(job, url, str(job.pk) in chosen))
    return choices


@require_http_methods(["GET", "POST"])
@login_required
def recipe_batch_new(request: AuthenticatedHttpRequest, recipe_id: uuid.UUID) -> HttpResponse:
    """Run a recipe on several photos: new files (chosen or dropped) and results of the
    person's gallery (``?job=`` preselects them, as "Run a recipe" on a job page does), with
    the whole cost (each step's credits times the photos) shown before anything starts."""
    recipe = access.get_recipe_for_user(request.user, recipe_id)
    data = request.POST if request.method == "POST" else request.GET
    chosen_ids = [value for value in data.getlist("job") if value]
    sources = [
        access.get_job_for_user(request.user, job_id) for job_id in dict.fromkeys(chosen_ids)
    ]
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        files = request.FILES.getlist("photos")
        photos: list[submissions.Photo] = []
        for upload in files:
            if uploads.too_large(upload):
                errors.setdefault("photos", []).append(f"{upload.name}: {uploads.limit_message()}")
            else:
                photos.append(submissions.Photo(upload, upload.name or ""))
        if not errors:
            try:
                batch = recipes.run_batch(recipe, request.user, photos=photos, sources=sources)
            except recipes.PhotosRefused as refused:
                errors["photos"] = refused.problems
            except recipes.RecipeCannotStart as reason:
                errors["__all__"] = [str(reason)]
            else:
                return redirect("editor:recipe_batch", batch_id=batch.pk)
    per_photo = recipes.credits(recipe.steps)
    return render(
        request,
        "editor/recipe_batch_new.html",
        {
            "recipe": recipe,
            "steps": [
                (operations.get(step["operation"]), step["provider"]) for step in recipe.steps
            ],
            "per_photo": per_photo,
            "chosen": len(sources),
            "total": per_photo * len(sources),
            "choices": _gallery_choices(request, {str(job.pk) for job in sources}),
            "errors": errors,
            "form_errors": errors.get("__all__", []),
            "most": settings.BATCH_MAX_PHOTOS,
        },
        status=422 if errors else 200,
    )


@dataclass(frozen=True)
class RunRow:
    """One photo of a batch: its run, the steps with their states, its strip and state."""

    run: RecipeRun
    steps: list[recipes.StepState]
    frames: list[Frame]
    status: str


@require_GET
@login_required
@vary_on_headers("HX-Request")
def recipe_batch(request: HtmxHttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    """Every photo of a batch with its strip and each step's state; a stopped step says why
    and offers "retry from this step". Followed by HTMX polling while a photo is under way."""
    batch: RecipeBatch = access.get_recipe_batch_for_user(request.user, batch_id)
    rows: list[RunRow] = []
    for run in batch.runs.order_by("created_at", "pk"):
        steps = recipes.states(run)
        rows.append(RunRow(run, steps, _frames(steps, thumbnails=True), recipes.status(run, steps)))
    counts = {state: sum(row.status == state for row in rows) for state in recipes.RUN_STATES}
    per_photo = recipes.credits(rows[0].run.steps) if rows else 0
    template = "editor/recipe_batch.html#runs" if request.htmx else "editor/recipe_batch.html"
    return render(
        request,
        template,
        {
            "batch": batch,
            "rows": rows,
            "counts": counts,
            "running": counts["running"] > 0,
            "credits": per_photo * len(rows),
        },
    )


# --- The builder -------------------------------------------------------------------------------


def _step_form(operation: operations.Operation, prefix: str, data: Any = None) -> forms.Form:
    """One step's row: the provider and the operation's own fields, as on its form."""
    fields: dict[str, forms.Field] = {
        "provider": forms.ChoiceField(
            label=_("Provider"), choices=[(p.name, p.label) for p in operation.providers]
        )
    }
    for param in operation.params:
        fields.setdefault(param.name, submissions.field_for(param))
    form_class = type("StepForm", (forms.Form,), fields)
    form: forms.Form = form_class(data=data, prefix=prefix)
    return form


@dataclass
class Row:
    operation: operations.Operation
    form: forms.Form
    errors: list[str]


def _rows_from_post(data: Any) -> list[Row]:
    rows: list[Row] = []
    for slug in data.getlist("operation"):
        operation = operations.BY_SLUG.get(slug)
        if operation is not None:
            rows.append(Row(operation, _step_form(operation, f"s{len(rows)}"), []))
    # Read each row's values under the prefix it had when the page was sent.
    for index, row in enumerate(rows):
        row.form = _step_form(row.operation, f"s{index}", data)
    return rows


def _settings(row: Row) -> tuple[str, dict[str, Any]]:
    values = {name: row.form[name].value() for name in row.form.fields}
    provider = str(values.pop("provider") or row.operation.default_provider.name)
    return provider, {name: value for name, value in values.items() if value not in (None, "")}


def _renumbered(rows: list[Row]) -> list[Row]:
    """Rows after a move or removal: their values carried to their new prefixes."""
    fresh: list[Row] = []
    for index, row in enumerate(rows):
        provider, settings = _settings(row)
        initial = {f"s{index}-provider": provider}
        initial.update({f"s{index}-{name}": value for name, value in settings.items()})
        fresh.append(Row(row.operation, _step_form(row.operation, f"s{index}", initial), []))
    return fresh


@require_http_methods(["GET", "POST"])
@login_required
def recipe_builder(
    request: AuthenticatedHttpRequest, recipe_id: uuid.UUID | None = None
) -> HttpResponse:
    """Build a recipe step by step: add a step of an operation, fill in its fields as on the
    operation's form, move or remove steps, save. Everything lives in the form until saved."""
    recipe = access.get_recipe_for_user(request.user, recipe_id, own=True) if recipe_id else None
    name = recipe.name if recipe else ""
    rows: list[Row] = []
    problems: list[str] = []
    if request.method == "POST":
        name = request.POST.get("name", "")
        rows = _rows_from_post(request.POST)
        action = request.POST.get("action", "")
        kind, _sep, where = action.partition("-")
        index = int(where) if where.isdigit() and int(where) < len(rows) else None
        if kind == "add" and request.POST.get("add_operation") in operations.BY_SLUG:
            rows = _renumbered(rows)
            operation = operations.get(request.POST["add_operation"])
            rows.append(Row(operation, _step_form(operation, f"s{len(rows)}"), []))
        elif kind in ("up", "down", "remove") and index is not None:
            if kind == "remove":
                rows.pop(index)
            else:
                other = index - 1 if kind == "up" else index + 1
                if 0 <= other < len(rows):
                    rows[index], rows[other] = rows[other], rows[index]
            rows = _renumbered(rows)
        elif kind == "save":
            steps = []
            for row in rows:
                provider, settings = _settings(row)
                steps.append(
                    {"operation": row.operation.slug, "provider": provider, "settings": settings}
                )
            try:
                saved = recipes.save(owner=request.user, name=name, steps=steps, recipe=recipe)
            except recipes.RecipeInvalid as invalid:
                for number, _field, _message in invalid.errors:
                    if number is not None and number <= len(rows):
                        rows[number - 1].errors.append(recipes.describe((number, _field, _message)))
                problems = [recipes.describe(e) for e in invalid.errors if e[0] is None]
            else:
                messages.success(request, _("Saved the recipe %(name)s.") % {"name": saved.name})
                return redirect("editor:recipes")
    elif recipe is not None:
        for index, step in enumerate(recipe.steps):
            operation = operations.get(step["operation"])
            initial = {f"s{index}-provider": step["provider"]}
            initial.update(
                {
                    f"s{index}-{key}": ", ".join(value) if isinstance(value, list) else value
                    for key, value in step["settings"].items()
                }
            )
            rows.append(Row(operation, _step_form(operation, f"s{index}", initial), []))
    credits = 0
    for row in rows:
        provider, _settings_values = _settings(row)
        chosen = next((p for p in row.operation.providers if p.name == provider), None)
        credits += chosen.credits if chosen else 0
    return render(
        request,
        "editor/recipe_builder.html",
        {
            "recipe": recipe,
            "name": name,
            "rows": rows,
            "problems": problems,
            "credits": credits,
            "operations": operations.OPERATIONS,
        },
    )
