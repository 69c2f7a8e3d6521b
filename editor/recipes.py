"""Recipes: operations chained. A recipe is a named list of steps (operation, provider and
settings, as on the operation's own form); a run takes one photo through them, each step's
result becoming the next step's photo.

Each step is a normal job (editor.jobs): it is checked by the one validator
(editor.submissions.validate) and started by ``jobs.start`` with the previous step's job as
``source_job``, so quotas, the waiting line, the vault and the gallery apply to it as to any job.
The next step starts when the previous job succeeds: ``job_ended`` below, the receiver of
editor.signals.job_ended, sent after the ending transaction committed. A step that fails, or
cannot start, stops its run's chain there with the reason; ``retry_from`` runs it again and the
chain carries on with what is left.

Steps are checked when a recipe is saved (``check_steps``) with the validator's own parameter
readers, and again by the validator itself when each step's job is submitted, since a plan or a
key may change between the two.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import quotas
from accounts.models import User
from editor import jobs, operations, submissions
from editor.models import Job, JobStatus, Recipe, RecipeBatch, RecipeRun, RecipeStepRun

logger = logging.getLogger(__name__)

# A recipe is a short list: enough for any sensible chain, small enough to show as a strip.
MAX_STEPS = 8
# The largest recipe document imported: a few steps of settings fit many times over.
MAX_DOCUMENT_BYTES = 16_384
# The document's format, written on export and required on import.
FORMAT = "photo-studio-recipe/1"
# The file roles a step's photo fills; a step that needs another photo (a style, a reference)
# cannot take it from the step before, so it is refused with that reason.
CHAINED_ROLE = "image"


class RecipeInvalid(Exception):
    """What is wrong with a recipe: ``errors``, each (step number from 1 or None for the
    recipe itself, field or "", message)."""

    def __init__(self, errors: Sequence[tuple[int | None, str, str]]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(describe(error) for error in self.errors))

    def by_field(self) -> dict[str, list[str]]:
        """The errors keyed ``steps.<n>.<field>`` (``steps.<n>`` for the step as a whole,
        ``__all__`` for the recipe), as forms and the API report them."""
        fields: dict[str, list[str]] = {}
        for number, name, message in self.errors:
            key = "__all__" if number is None else f"steps.{number}" + (f".{name}" if name else "")
            fields.setdefault(key, []).append(message)
        return fields


def describe(error: tuple[int | None, str, str]) -> str:
    number, name, message = error
    if number is None:
        return message
    where = _("Step %(number)d") % {"number": number}
    return f"{where}, {name}: {message}" if name else f"{where}: {message}"


@dataclass(frozen=True)
class Step:
    """One checked step: ``settings`` in the stored types of the validator."""

    operation: operations.Operation
    provider: operations.Provider
    settings: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation.slug,
            "provider": self.provider.name,
            "settings": self.settings,
        }


# --- Checking --------------------------------------------------------------------------------


def _form_values(operation: operations.Operation, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as the operation's form posts them: those not given at the form's defaults, a
    palette as its comma-separated text."""
    kinds = {param.name: param.kind for param in operation.params}
    values = {param.name: param.default for param in operation.params if param.default is not None}
    values.update(settings)
    return {
        name: ", ".join(map(str, value))
        if kinds.get(name) == "colors" and isinstance(value, (list, tuple))
        else value
        for name, value in values.items()
    }


def _check_step(number: int, raw: Any) -> tuple[Step | None, list[tuple[int | None, str, str]]]:
    if not isinstance(raw, dict):
        return None, [(number, "", _("Give each step as an object."))]
    operation = operations.BY_SLUG.get(str(raw.get("operation", "")))
    if operation is None:
        known = ", ".join(operation.slug for operation in operations.OPERATIONS)
        message = _("Choose one of the operations: %(known)s.") % {"known": known}
        return None, [(number, "operation", message)]
    name = raw.get("provider") or operation.default_provider.name
    provider = next((p for p in operation.providers if p.name == name), None)
    if provider is None:
        known = ", ".join(p.name for p in operation.providers)
        message = _("Choose one of the providers of %(operation)s: %(known)s.") % {
            "operation": operation.label,
            "known": known,
        }
        return None, [(number, "provider", message)]
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        return None, [(number, "settings", _("Give the settings as an object."))]
    declared = {param.name for param in operation.params}
    errors: list[tuple[int | None, str, str]] = [
        (
            number,
            str(name),
            _("This is not a setting of %(operation)s.") % {"operation": operation.label},
        )
        for name in settings
        if name not in declared
    ]
    cleaned, value_errors = submissions.clean_values(operation, _form_values(operation, settings))
    params, param_errors = submissions.clean_params(operation, provider, cleaned, value_errors)
    for field, messages in [*value_errors.items(), *param_errors.items()]:
        if field in param_errors and field in value_errors and messages is param_errors[field]:
            continue  # refused by its field already: "required" would only repeat it
        errors.extend((number, field, message) for message in messages)
    for spec in submissions.wanted_files(operation, provider, cleaned):
        if spec.role != CHAINED_ROLE and spec.required:
            message = _(
                "%(operation)s needs a %(photo)s besides the photo, which a recipe cannot give "
                "it: choose other settings or another operation."
            ) % {"operation": operation.label, "photo": spec.label}
            errors.append((number, spec.role, message))
    stored = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    return Step(operation, provider, stored), errors


def check_steps(raw: Any) -> list[Step]:
    """The steps of a recipe as sent (a list of {operation, provider, settings}), each checked
    as its operation's form checks it. Raises RecipeInvalid naming every step and field that
    is wrong."""
    if not isinstance(raw, list):
        raise RecipeInvalid([(None, "steps", _("Give the steps as a list."))])
    if not raw:
        raise RecipeInvalid([(None, "steps", _("Add at least one step."))])
    if len(raw) > MAX_STEPS:
        message = _("A recipe has at most %(count)d steps.") % {"count": MAX_STEPS}
        raise RecipeInvalid([(None, "steps", message)])
    steps: list[Step] = []
    errors: list[tuple[int | None, str, str]] = []
    for number, item in enumerate(raw, start=1):
        step, step_errors = _check_step(number, item)
        errors.extend(step_errors)
        if step is not None:
            steps.append(step)
    if errors:
        raise RecipeInvalid(errors)
    return steps


def _check_name(name: Any) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise RecipeInvalid([(None, "name", _("Give the recipe a name."))])
    if len(text) > Recipe._meta.get_field("name").max_length:  # type: ignore[operator]
        raise RecipeInvalid([(None, "name", _("The name is too long."))])
    return text


def credits(steps: Iterable[Mapping[str, Any]], photos: int = 1) -> int:
    """What running checked steps on ``photos`` photos costs, in credits: each step's
    provider's, as its job will be charged."""
    total = 0
    for step in steps:
        operation = operations.get(step["operation"])
        total += operation.provider(step["provider"]).credits
    return total * photos


# --- Saving, export and import ---------------------------------------------------------------


def save(*, owner: User | None, name: Any, steps: Any, recipe: Recipe | None = None) -> Recipe:
    """Create (or, given ``recipe``, change) a recipe after checking its name and steps.
    ``owner`` None: a studio recipe (the caller makes sure an admin asks). Raises
    RecipeInvalid, also when the owner has another recipe of that name."""
    checked = [step.as_json() for step in check_steps(steps)]
    text = _check_name(name)
    same_name = Recipe.objects.filter(owner=owner, name=text)
    if recipe is not None:
        same_name = same_name.exclude(pk=recipe.pk)
    if same_name.exists():
        raise RecipeInvalid([(None, "name", _("You have a recipe of that name already."))])
    recipe = recipe or Recipe(owner=owner)
    recipe.name = text
    recipe.steps = checked
    recipe.updated_at = timezone.now()
    recipe.save()
    return recipe


def export(recipe: Recipe) -> str:
    """The recipe as a small JSON document another person can import."""
    document = {"format": FORMAT, "name": recipe.name, "steps": recipe.steps}
    return json.dumps(document, indent=2, ensure_ascii=False)


def import_document(owner: User | None, document: bytes | str) -> Recipe:
    """A recipe saved from an exported document. Raises RecipeInvalid when the document is too
    large, is not JSON, is not a recipe, or has a step that is wrong (named with its field)."""
    size = len(document.encode() if isinstance(document, str) else document)
    if size > MAX_DOCUMENT_BYTES:
        message = _("The recipe file is too large (%(size)d bytes; at most %(most)d).") % {
            "size": size,
            "most": MAX_DOCUMENT_BYTES,
        }
        raise RecipeInvalid([(None, "document", message)])
    try:
        data = json.loads(document)
    except (ValueError, UnicodeDecodeError) as error:
        where = (
            _(" (line %(line)d, column %(column)d)") % {"line": error.lineno, "column": error.colno}
            if isinstance(error, json.JSONDecodeError)
            else ""
        )
        message = _("The recipe file is not valid JSON%(where)s.") % {"where": where}
        raise RecipeInvalid([(None, "document", message)]) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        message = _('This is not a recipe file (it has no "format": "%(format)s").') % {
            "format": FORMAT
        }
        raise RecipeInvalid([(None, "document", message)])
    return save(owner=owner, name=data.get("name"), steps=data.get("steps"))


# --- Running ---------------------------------------------------------------------------------


class RecipeCannotStart(Exception):
    """The first step could not start (a setting the plan refuses, no key, a quota): nothing
    was started. ``message`` says why, as the validator or the quota said it; ``photo``: the
    photo itself was refused (not a photo, damaged, too large), which a form shows on its
    photo field rather than over the whole form."""

    def __init__(self, message: str, *, photo: bool = False) -> None:
        super().__init__(message)
        self.photo = photo


class PhotosRefused(RecipeCannotStart):
    """Photos of a batch that cannot start, each named with why (``problems``); nothing of
    the batch was started."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems), photo=True)


def _start_step(
    step_run: RecipeStepRun, photo: bytes | UploadedFile, name: str, source: Job | None
) -> Job:
    """Submit one step's job through the one validator; raises RecipeCannotStart with the
    reason when it cannot be."""
    run = step_run.run
    raw = run.steps[step_run.index]
    operation = operations.get(raw["operation"])
    limits = quotas.limits_for(run.owner)
    try:
        submission = submissions.validate(
            operation,
            run.owner,
            provider=raw["provider"],
            values=_form_values(operation, raw["settings"]),
            photos={CHAINED_ROLE: [submissions.Photo(photo, name)]},
            limits=limits,
        )
        started = jobs.start(submission, source_job=source)
    except submissions.SubmissionInvalid as invalid:
        refused = invalid.errors.get(CHAINED_ROLE)
        if refused and len(invalid.errors) == 1:
            raise RecipeCannotStart(" ".join(refused), photo=True) from invalid
        details = "; ".join(f"{field}: {', '.join(m)}" for field, m in invalid.errors.items())
        raise RecipeCannotStart(invalid.message or details or str(invalid)) from invalid
    except quotas.QuotaExceeded as refused:
        raise RecipeCannotStart(str(refused)) from refused
    assert isinstance(started, Job)  # one photo: one job
    step_run.job = started
    step_run.error = ""
    step_run.save(update_fields=["job", "error"])
    return started


def run(
    recipe: Recipe,
    owner: User,
    *,
    photo: bytes | UploadedFile,
    photo_name: str = "",
    source_job: Job | None = None,
    batch: RecipeBatch | None = None,
) -> RecipeRun:
    """Start ``recipe`` on one photo of ``owner``'s: the run, a row per step, and the first
    step's job. ``source_job``: the person's earlier job whose result the photo is; ``batch``:
    the batch the run belongs to. Raises RecipeCannotStart (nothing is kept) when the first
    step cannot start."""
    if source_job is not None and source_job.owner_id != owner.pk:
        raise ValueError("a run can only start from its owner's own job")
    with transaction.atomic():
        recipe_run = RecipeRun.objects.create(
            owner=owner,
            recipe=recipe,
            name=recipe.name,
            steps=list(recipe.steps),
            source_job=source_job,
            batch=batch,
            photo_name=photo_name[:120],
        )
        step_runs = RecipeStepRun.objects.bulk_create(
            RecipeStepRun(run=recipe_run, index=index) for index in range(len(recipe.steps))
        )
        step_runs[0].run = recipe_run
        _start_step(step_runs[0], photo, photo_name, source_job)
    return recipe_run


def run_on_jobs(recipe: Recipe, owner: User, sources: Sequence[Job]) -> list[RecipeRun]:
    """Start ``recipe`` on the first result of each of the owner's succeeded jobs (a photo of
    their gallery), one run each, all or none; several make a batch. Raises RecipeCannotStart
    naming the photo whose first step cannot start; nothing is started then."""
    with transaction.atomic():
        batch = (
            RecipeBatch.objects.create(owner=owner, recipe=recipe, name=recipe.name)
            if len(sources) > 1
            else None
        )
        return [_run_on_job(recipe, owner, source, batch) for source in sources]


def _run_on_job(recipe: Recipe, owner: User, source: Job, batch: RecipeBatch | None) -> RecipeRun:
    photo = _result_bytes(source) if source.status == JobStatus.SUCCEEDED else None
    name = source.photo_name or str(source.pk)
    if photo is None:
        message = _("%(photo)s has no result to start from.") % {"photo": name}
        raise RecipeCannotStart(message, photo=True)
    try:
        return run(
            recipe,
            owner,
            photo=photo,
            photo_name=source.photo_name,
            source_job=source,
            batch=batch,
        )
    except RecipeCannotStart as reason:
        raise RecipeCannotStart(f"{name}: {reason}", photo=reason.photo) from reason


def _try_photo(
    problems: list[str],
    name: str,
    recipe: Recipe,
    owner: User,
    batch: RecipeBatch,
    *,
    photo: submissions.Photo | None = None,
    source: Job | None = None,
) -> None:
    """Start one photo of a batch; a photo refused for itself is added to ``problems`` (and
    leaves nothing behind), anything else is raised."""
    try:
        with transaction.atomic():
            if source is not None:
                _run_on_job(recipe, owner, source, batch)
            elif photo is not None:
                run(recipe, owner, photo=photo.content, photo_name=photo.name, batch=batch)
    except RecipeCannotStart as reason:
        text = str(reason)
        message = text if source is not None or not name else f"{name}: {text}"
        if not reason.photo:
            raise RecipeCannotStart(message) from reason
        problems.append(message)


def run_batch(
    recipe: Recipe,
    owner: User,
    *,
    photos: Sequence[submissions.Photo] = (),
    sources: Sequence[Job] = (),
) -> RecipeBatch:
    """Start ``recipe`` on several photos at once: new ``photos`` and the results of the
    owner's earlier jobs (``sources``), one run each, grouped in a batch; all or none.

    Every photo is tried, so a person sees at once each one that is refused (not a photo,
    damaged, too large: PhotosRefused names them all); anything else that stops a first step
    (a quota, a missing key) is a RecipeCannotStart naming its photo. Nothing starts then."""
    count = len(photos) + len(sources)
    if count == 0:
        raise PhotosRefused([_("Choose at least one photo.")])
    if count > settings.BATCH_MAX_PHOTOS:
        message = _("At most %(count)d photos at once: this batch has %(sent)d.") % {
            "count": settings.BATCH_MAX_PHOTOS,
            "sent": count,
        }
        raise PhotosRefused([message])
    problems: list[str] = []
    with transaction.atomic():
        batch = RecipeBatch.objects.create(owner=owner, recipe=recipe, name=recipe.name)
        for photo in photos:
            _try_photo(problems, photo.name, recipe, owner, batch, photo=photo)
        for source in sources:
            _try_photo(problems, source.photo_name, recipe, owner, batch, source=source)
        if problems:
            raise PhotosRefused(problems)
    return batch


def _result_bytes(job: Job) -> bytes | None:
    """The first result of a step's job: the next step's photo."""
    result = job.results.order_by("position").first()
    if result is None:
        return None
    # The row is written after its file was stored whole (editor.pipeline), so it is read as is.
    try:
        with default_storage.open(result.file.name, "rb") as handle:
            data: bytes = handle.read()
    except FileNotFoundError:
        return None
    return data


def _start_after(step_run: RecipeStepRun, previous: Job) -> None:
    """Start the step that follows ``previous``'s; a reason it cannot is kept on the step."""
    photo = _result_bytes(previous)
    if photo is None:
        step_run.error = _("The previous step's result is gone.")
        step_run.save(update_fields=["error"])
        return
    try:
        with transaction.atomic():
            _start_step(step_run, photo, previous.photo_name, previous)
    except RecipeCannotStart as reason:
        step_run.error = str(reason)
        step_run.save(update_fields=["error"])


def job_ended(sender: Any, job_id: str, status: str, **kwargs: Any) -> None:
    """editor.signals.job_ended receiver: when a step's job succeeded, start the next step,
    once. A failed or canceled step simply stops the chain (its job says why)."""
    if status != JobStatus.SUCCEEDED:
        return
    done = RecipeStepRun.objects.select_related("run__owner", "job").filter(job_id=job_id).first()
    if done is None or done.job is None:
        return
    with transaction.atomic():
        # The lock makes a second announcement of the same end (a retried job ends again)
        # find the next step started and leave it alone.
        following = (
            RecipeStepRun.objects.select_for_update(of=("self",))
            .select_related("run__owner")
            .filter(run_id=done.run_id, index=done.index + 1, job__isnull=True)
            .first()
        )
        if following is None:
            return
        _start_after(following, done.job)


class CannotRetry(Exception):
    """The step cannot be run again: ``message`` says why."""


def retry_from(step_run: RecipeStepRun) -> RecipeStepRun:
    """Run a stopped step again (failed, canceled, or never started for a reason now gone);
    once it succeeds the chain carries on with the steps left. Steps before it are not run
    again. Raises CannotRetry."""
    with transaction.atomic():
        step_run = (
            RecipeStepRun.objects.select_for_update(of=("self",))
            .select_related("run__owner", "job")
            .get(pk=step_run.pk)
        )
        job = step_run.job
        if job is not None:
            if job.status not in (JobStatus.FAILED, JobStatus.CANCELED):
                raise CannotRetry(_("This step has not stopped."))
            try:
                jobs.retry(job)
            except quotas.QuotaExceeded as refused:
                raise CannotRetry(str(refused)) from refused
            return step_run
        if not step_run.error:
            raise CannotRetry(_("This step has not stopped."))
        previous = (
            RecipeStepRun.objects.select_related("job")
            .filter(run_id=step_run.run_id, index=step_run.index - 1)
            .first()
        )
        if previous is None or previous.job is None or previous.job.status != JobStatus.SUCCEEDED:
            raise CannotRetry(_("The step before it has no result to start from."))
        photo = _result_bytes(previous.job)
        if photo is None:
            raise CannotRetry(_("The previous step's result is gone."))
        try:
            _start_step(step_run, photo, previous.job.photo_name, previous.job)
        except RecipeCannotStart as reason:
            raise CannotRetry(str(reason)) from reason
    return step_run


# --- The state of a run --------------------------------------------------------------------


@dataclass(frozen=True)
class StepState:
    number: int
    operation: operations.Operation
    provider: operations.Provider
    step_run: RecipeStepRun
    # "waiting" (an earlier step is not done yet), "stopped" (an earlier step stopped the
    # chain), "blocked" (this step could not start: ``reason``), or the job's status.
    state: str
    reason: str

    @property
    def job(self) -> Job | None:
        return self.step_run.job

    @property
    def can_retry(self) -> bool:
        return self.state in ("blocked", JobStatus.FAILED, JobStatus.CANCELED)


def states(recipe_run: RecipeRun) -> list[StepState]:
    """Every step of a run with where it is, in order."""
    step_runs = list(
        recipe_run.step_runs.select_related("job")
        .prefetch_related("job__results")
        .order_by("index")
    )
    found: list[StepState] = []
    stopped = False
    for step_run in step_runs:
        raw = recipe_run.steps[step_run.index]
        operation = operations.get(raw["operation"])
        provider = operation.provider(raw["provider"])
        job = step_run.job
        if job is not None:
            # A succeeded job may keep the note of a passing hitch (a rate limit it waited out):
            # no reason to show beside a step that is done.
            done = job.status == JobStatus.SUCCEEDED
            state, reason = str(job.status), "" if done else job.error_message
        elif step_run.error:
            state, reason = "blocked", step_run.error
        else:
            state, reason = ("stopped" if stopped else "waiting"), ""
        stopped = stopped or state in ("blocked", JobStatus.FAILED, JobStatus.CANCELED)
        found.append(StepState(step_run.index + 1, operation, provider, step_run, state, reason))
    return found


# A run as a whole, as ``status`` names it.
RUN_STATES = ("running", "succeeded", "stopped")


def status(recipe_run: RecipeRun, steps: Sequence[StepState] | None = None) -> str:
    """The run as a whole: "succeeded" (every step), "stopped" (a step stopped the chain), or
    "running"."""
    steps = steps if steps is not None else states(recipe_run)
    if all(step.state == JobStatus.SUCCEEDED for step in steps):
        return "succeeded"
    if any(step.can_retry for step in steps):
        return "stopped"
    return "running"


def original_name(recipe_run: RecipeRun) -> str | None:
    """The storage name of the photo the run started from (its first job's input), if kept."""
    first = recipe_run.step_runs.select_related("job").filter(index=0).first()
    if first is None or first.job is None:
        return None
    name = first.job.inputs.get(CHAINED_ROLE)
    return name if name and default_storage.exists(name) else None
