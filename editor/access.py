"""Who may see what: every ``get_<thing>_for_user``, used by the pages, the API and the admin.

Each one returns the person's own object or raises Http404 with a short message, so that
someone else's object and one that does not exist look the same (ARCHITECTURE.md: never a
403). The API shows the message; the pages show their 404 page.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from editor import operations
from editor.models import (
    Album,
    Batch,
    Draft,
    Job,
    Preset,
    Recipe,
    RecipeBatch,
    RecipeRun,
    RecipeStepRun,
    Result,
    ShareLink,
    VendorKey,
)


def _uuid(value: object) -> uuid.UUID:
    """An id from an address or a form field; a malformed one is simply not found."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


def get_job_for_user(user: User, job_id: object) -> Job:
    job = Job.objects.filter(pk=_uuid(job_id), owner=user).first()
    if job is None:
        raise Http404(_("No such job."))
    return job


def get_source_job_for_user(user: User, operation: operations.Operation, value: object) -> Job:
    """The earlier job a form reuses the photo of ("Run again with changes"): only the person's
    own job of this operation, so nobody can reuse another person's photo."""
    job = Job.objects.filter(pk=_uuid(value), owner=user, operation=operation.slug).first()
    if job is None:
        raise Http404(_("No such job."))
    return job


def get_result_for_user(user: User, job_id: object, result_id: object) -> Result:
    result = (
        Result.objects.select_related("job")
        .filter(pk=_uuid(result_id), job_id=_uuid(job_id), job__owner=user)
        .first()
    )
    if result is None:
        raise Http404(_("No such result."))
    return result


def get_batch_for_user(user: User, batch_id: object) -> Batch:
    batch = Batch.objects.filter(pk=_uuid(batch_id), owner=user).first()
    if batch is None:
        raise Http404(_("No such batch."))
    return batch


def get_preset_for_user(
    user: User, operation: operations.Operation, preset_id: object, *, own: bool = False
) -> Preset:
    """A preset the person may apply (their own or a studio one) or, with ``own``, change."""
    mine = Q(owner=user)
    visible = mine if own else mine | Q(owner__isnull=True)
    preset = (
        Preset.objects.filter(visible).filter(pk=_uuid(preset_id), operation=operation.slug).first()
    )
    if preset is None:
        raise Http404(_("No such preset."))
    return preset


def get_key_for_user(
    user: User, key_id: object, *, vendors: Collection[str] | None = None
) -> VendorKey:
    """One of the person's own vendor keys (never a house key); with ``vendors``, only a key of
    one of those vendors."""
    keys = VendorKey.objects.filter(pk=_uuid(key_id), owner=user)
    if vendors is not None:
        keys = keys.filter(vendor__in=vendors)
    key = keys.first()
    if key is None:
        raise Http404(_("No such key."))
    return key


def get_draft_for_user(user: User, draft_id: object) -> Draft:
    draft = Draft.objects.filter(pk=_uuid(draft_id), owner=user).first()
    if draft is None:
        raise Http404(_("No such photo."))
    return draft


def get_share_link_for_user(user: User, link_id: object) -> ShareLink:
    link = ShareLink.objects.filter(pk=_uuid(link_id), owner=user).first()
    if link is None:
        raise Http404(_("No such share link."))
    return link


def get_album_for_user(user: User, album_id: object) -> Album:
    album = Album.objects.filter(pk=_uuid(album_id), owner=user).first()
    if album is None:
        raise Http404(_("No such album."))
    return album


def get_own_result(user: User, result_id: object) -> Result:
    """One of the person's results by its id alone (albums name results without their job)."""
    result = (
        Result.objects.select_related("job").filter(pk=_uuid(result_id), job__owner=user).first()
    )
    if result is None:
        raise Http404(_("No such result."))
    return result


def get_recipe_for_user(user: User, recipe_id: object, *, own: bool = False) -> Recipe:
    """A recipe the person may run (their own or a studio one) or, with ``own``, change."""
    mine = Q(owner=user)
    visible = mine if own else mine | Q(owner__isnull=True)
    recipe = Recipe.objects.filter(visible).filter(pk=_uuid(recipe_id)).first()
    if recipe is None:
        raise Http404(_("No such recipe."))
    return recipe


def get_recipe_run_for_user(user: User, run_id: object) -> RecipeRun:
    run = RecipeRun.objects.filter(pk=_uuid(run_id), owner=user).first()
    if run is None:
        raise Http404(_("No such recipe run."))
    return run


def get_recipe_batch_for_user(user: User, batch_id: object) -> RecipeBatch:
    batch = RecipeBatch.objects.filter(pk=_uuid(batch_id), owner=user).first()
    if batch is None:
        raise Http404(_("No such recipe batch."))
    return batch


def get_recipe_step_for_user(user: User, run_id: object, number: int) -> RecipeStepRun:
    """One step of one of the person's runs, by its number from 1."""
    step = (
        RecipeStepRun.objects.select_related("run")
        .filter(run_id=_uuid(run_id), run__owner=user, index=number - 1)
        .first()
    )
    if step is None:
        raise Http404(_("No such recipe step."))
    return step
