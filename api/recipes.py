"""Recipes through the API: yours and the studio's, made, changed, deleted, exported and
imported; run on photos of your gallery; a run's state with every step; a stopped step retried.

Everything goes through editor.recipes, as the pages do: the same checks (a wrong step is a 422
naming the step and field, ``steps.<n>.<field>``), and each step a normal job with the same
quotas.
"""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from ninja import Router, Status

from accounts.http import AuthenticatedHttpRequest
from api.errors import ApiError
from api.idempotency import idempotent
from api.schemas import (
    Error,
    InvalidError,
    QuotaError,
    RecipeIn,
    RecipeOut,
    RecipeRunIn,
    RecipeRunOut,
    RecipeStepOut,
)
from editor import access, recipes
from editor.models import Job, Recipe, RecipeRun

router = Router(tags=["recipes"])


def recipe_out(recipe: Recipe) -> RecipeOut:
    return RecipeOut(
        id=recipe.pk,
        name=recipe.name,
        studio=recipe.owner_id is None,
        steps=recipe.steps,
        credits=recipes.credits(recipe.steps),
        created_at=recipe.created_at,
        updated_at=recipe.updated_at,
    )


def run_out(run: RecipeRun) -> RecipeRunOut:
    steps = recipes.states(run)
    return RecipeRunOut(
        id=run.pk,
        recipe=run.recipe_id,
        name=run.name,
        status=recipes.status(run, steps),
        source_job=run.source_job_id,
        batch=run.batch_id,
        credits=recipes.credits(run.steps),
        steps=[
            RecipeStepOut(
                number=step.number,
                operation=step.operation.slug,
                provider=step.provider.name,
                state=step.state,
                reason=step.reason,
                job=step.step_run.job_id,
                can_retry=step.can_retry,
            )
            for step in steps
        ],
        created_at=run.created_at,
    )


def _invalid(error: recipes.RecipeInvalid) -> ApiError:
    return ApiError(422, "invalid", str(error), errors=error.by_field())


@router.get(
    "/recipes",
    response={200: list[RecipeOut], 401: Error},
    summary="Your recipes and the studio's",
)
def list_recipes(request: AuthenticatedHttpRequest) -> list[RecipeOut]:
    found = Recipe.objects.filter(owner=request.user) | Recipe.objects.filter(owner__isnull=True)
    return [recipe_out(recipe) for recipe in found.order_by("name", "created_at")]


@router.post(
    "/recipes",
    response={201: RecipeOut, 401: Error, 422: InvalidError},
    summary="Make a recipe",
    description="Steps as `[{operation, provider, settings}]`, each checked as the operation's "
    "own form checks it; settings not given take the form's defaults. A wrong step is a 422 "
    "whose `errors` name it: `steps.<n>.<field>`.",
)
@idempotent
def create_recipe(request: AuthenticatedHttpRequest, body: RecipeIn) -> Status[RecipeOut]:
    try:
        recipe = recipes.save(owner=request.user, name=body.name, steps=body.steps)
    except recipes.RecipeInvalid as error:
        raise _invalid(error) from None
    return Status(201, recipe_out(recipe))


@router.post(
    "/recipes/import",
    response={201: RecipeOut, 401: Error, 422: InvalidError},
    summary="Import a recipe document",
    description=f"The body is a document as `GET /recipes/{{id}}/export` gives it, at most "
    f"{recipes.MAX_DOCUMENT_BYTES} bytes. Malformed JSON, a document that is not a recipe or "
    "too large, and a wrong step are each a 422 saying which.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
@idempotent
def import_recipe(request: AuthenticatedHttpRequest) -> Status[RecipeOut]:
    try:
        recipe = recipes.import_document(request.user, request.body)
    except recipes.RecipeInvalid as error:
        raise _invalid(error) from None
    return Status(201, recipe_out(recipe))


@router.get(
    "/recipes/{recipe_id}",
    response={200: RecipeOut, 401: Error, 404: Error},
    summary="One recipe",
)
def get_recipe(request: AuthenticatedHttpRequest, recipe_id: uuid.UUID) -> RecipeOut:
    return recipe_out(access.get_recipe_for_user(request.user, recipe_id))


@router.put(
    "/recipes/{recipe_id}",
    response={200: RecipeOut, 401: Error, 404: Error, 422: InvalidError},
    summary="Change one of your recipes",
    description="Runs under way keep the steps they started with.",
)
def change_recipe(
    request: AuthenticatedHttpRequest, recipe_id: uuid.UUID, body: RecipeIn
) -> RecipeOut:
    recipe = access.get_recipe_for_user(request.user, recipe_id, own=True)
    try:
        recipes.save(owner=request.user, name=body.name, steps=body.steps, recipe=recipe)
    except recipes.RecipeInvalid as error:
        raise _invalid(error) from None
    return recipe_out(recipe)


@router.delete(
    "/recipes/{recipe_id}",
    response={204: None, 401: Error, 404: Error},
    summary="Delete one of your recipes",
    description="Its runs and their jobs stay.",
)
def delete_recipe(request: AuthenticatedHttpRequest, recipe_id: uuid.UUID) -> HttpResponse:
    access.get_recipe_for_user(request.user, recipe_id, own=True).delete()
    return HttpResponse(status=204)


@router.get(
    "/recipes/{recipe_id}/export",
    response={200: dict[str, object], 401: Error, 404: Error},
    summary="A recipe as a document to import elsewhere",
)
def export_recipe(request: AuthenticatedHttpRequest, recipe_id: uuid.UUID) -> HttpResponse:
    recipe = access.get_recipe_for_user(request.user, recipe_id)
    response = HttpResponse(recipes.export(recipe), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="recipe.json"'
    return response


@router.post(
    "/recipes/{recipe_id}/runs",
    response={201: list[RecipeRunOut], 401: Error, 404: Error, 422: Error, 429: QuotaError},
    summary="Run a recipe on photos of your gallery",
    description="One run per job, on its first result, all or none (several make a batch, "
    "shown together on the studio's batch page): a photo whose first step "
    "cannot start (no key, a plan that does not include the step, a quota) is a 422 naming "
    "it, and nothing starts. Each step is a normal job; the next starts when it succeeds.",
)
@idempotent
def run_recipe(
    request: AuthenticatedHttpRequest, recipe_id: uuid.UUID, body: RecipeRunIn
) -> Status[list[RecipeRunOut]]:
    recipe = access.get_recipe_for_user(request.user, recipe_id)
    sources: list[Job] = [access.get_job_for_user(request.user, job) for job in body.jobs]
    try:
        runs = recipes.run_on_jobs(recipe, request.user, sources)
    except recipes.RecipeCannotStart as reason:
        raise ApiError(422, "cannot_start", str(reason)) from None
    return Status(201, [run_out(run) for run in runs])


@router.get(
    "/recipe-runs/{run_id}",
    response={200: RecipeRunOut, 401: Error, 404: Error},
    summary="A recipe run with every step",
)
def get_run(request: AuthenticatedHttpRequest, run_id: uuid.UUID) -> RecipeRunOut:
    return run_out(access.get_recipe_run_for_user(request.user, run_id))


@router.post(
    "/recipe-runs/{run_id}/steps/{number}/retry",
    response={200: RecipeRunOut, 401: Error, 404: Error, 409: Error},
    summary="Run a stopped step again; the steps after it follow",
    description="Only a step that failed, was canceled or could not start (409 otherwise). "
    "Steps before it are not run again.",
)
@idempotent
def retry_step(request: AuthenticatedHttpRequest, run_id: uuid.UUID, number: int) -> RecipeRunOut:
    step_run = access.get_recipe_step_for_user(request.user, run_id, number)
    try:
        recipes.retry_from(step_run)
    except recipes.CannotRetry as reason:
        raise ApiError(409, "cannot_retry", str(reason)) from None
    return run_out(step_run.run)
