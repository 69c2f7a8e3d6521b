"""Recipes: checking, export and import, and a chain run through the real pipeline step by step
with a scripted vendor (the fixtures of test_jobs)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks

from accounts.models import User
from editor import recipes
from editor.models import Job, JobStatus, Recipe, RecipeRun, RecipeStepRun, VendorKey
from editor.vendors.base import Done, ResultImage, VendorError
from tests.images import make_image
from tests.scripted import Script, Sent

pytestmark = pytest.mark.django_db

THREE_STEPS: list[dict[str, Any]] = [
    {"operation": "colorize", "provider": "picwish", "settings": {"format": "jpg"}},
    {
        "operation": "color_migration",
        "provider": "local",
        "settings": {"mode": "TEMPLATE", "degree": 0.5, "color_template": ["DB0D0D", "0E0CBB"]},
    },
    {"operation": "colorize", "provider": "picwish", "settings": {"format": "png"}},
]


def done(color: tuple[int, int, int]) -> Done:
    return Done((ResultImage(make_image((64, 48), color=color), "image/jpeg"),))


@pytest.fixture
def recipe(alice: User) -> Recipe:
    return recipes.save(owner=alice, name="Old family photos", steps=THREE_STEPS)


@pytest.fixture
def start(
    alice: User,
    recipe: Recipe,
    picwish_key: VendorKey,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[[], RecipeRun]:
    def go() -> RecipeRun:
        with django_capture_on_commit_callbacks(execute=True):
            return recipes.run(recipe, alice, photo=make_image((64, 48)), photo_name="gran.jpg")

    return go


def finish_job(step: Callable[[], Job]) -> Job:
    """Deliver messages until the job they are for has ended."""
    for _message in range(10):
        job = step()
        if not job.is_active:
            return job
    raise AssertionError("the job did not end")


# --- Checking --------------------------------------------------------------------------------


def test_saved_steps_are_stored_in_the_validators_types(recipe: Recipe) -> None:
    assert recipe.steps[1] == {
        "operation": "color_migration",
        "provider": "local",
        "settings": {"mode": "TEMPLATE", "degree": 0.5, "color_template": ["DB0D0D", "0E0CBB"]},
    }
    assert recipes.credits(recipe.steps) == 1 + 0 + 1
    assert recipes.credits(recipe.steps, photos=3) == 6


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        ([THREE_STEPS[0], {"operation": "nope"}], "steps.2.operation", "Choose one of"),
        ([{"operation": "colorize", "provider": "nope"}], "steps.1.provider", "providers"),
        (
            [THREE_STEPS[0], {**THREE_STEPS[1], "settings": {"mode": "TEMPLATE", "degree": 7}}],
            "steps.2.degree",
            "less than or equal to 1",
        ),
        (
            [{"operation": "colorize", "settings": {"format": "jpg", "colour": 1}}],
            "steps.1.colour",
            "not a setting",
        ),
        (
            [{"operation": "retouch", "provider": "ailabtools", "settings": {}}],
            "steps.1.style",
            "cannot give",
        ),
        ([], "__all__", "at least one step"),
        ("colorize", "__all__", "as a list"),
        ([THREE_STEPS[0]] * (recipes.MAX_STEPS + 1), "__all__", "at most"),
    ],
    ids=[
        "unknown-operation",
        "unknown-provider",
        "out-of-range",
        "unknown-setting",
        "needs-another-photo",
        "empty",
        "not-a-list",
        "too-many",
    ],
)
def test_a_wrong_step_is_refused_naming_the_step_and_field(
    alice: User, steps: Any, field: str, words: str
) -> None:
    with pytest.raises(recipes.RecipeInvalid) as refused:
        recipes.save(owner=alice, name="Broken", steps=steps)
    errors = refused.value.by_field()
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert not Recipe.objects.exists()


def test_names_are_unique_per_owner_but_not_across_owners(
    alice: User, bob: User, recipe: Recipe
) -> None:
    with pytest.raises(recipes.RecipeInvalid, match="recipe of that name"):
        recipes.save(owner=alice, name=" Old  family photos ", steps=THREE_STEPS)
    recipes.save(owner=bob, name="Old family photos", steps=THREE_STEPS)
    recipes.save(owner=None, name="Old family photos", steps=THREE_STEPS)  # a studio recipe
    changed = recipes.save(
        owner=alice, name="Old family photos", steps=THREE_STEPS[:1], recipe=recipe
    )
    assert changed.pk == recipe.pk
    assert len(changed.steps) == 1


# --- Export and import -----------------------------------------------------------------------


def test_an_exported_recipe_imports_as_the_same_steps(
    alice: User, bob: User, recipe: Recipe
) -> None:
    document = recipes.export(recipe)
    assert json.loads(document)["format"] == recipes.FORMAT
    imported = recipes.import_document(bob, document.encode())
    assert (imported.owner, imported.name, imported.steps) == (bob, recipe.name, recipe.steps)


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ('{"format": "photo-studio-recipe/1", "name": ', "__all__", "not valid JSON (line 1"),
        ("[1, 2]", "__all__", "not a recipe file"),
        (
            json.dumps(
                {
                    "format": recipes.FORMAT,
                    "name": "x",
                    "steps": [THREE_STEPS[0], {**THREE_STEPS[1], "settings": {"mode": "SEPIA"}}],
                }
            ),
            "steps.2.mode",
            "valid choice",
        ),
        ("x" * (recipes.MAX_DOCUMENT_BYTES + 1), "__all__", "too large"),
        (b"\xff\xfe{", "__all__", "not valid JSON"),
    ],
    ids=["malformed", "not-a-recipe", "bad-setting", "too-large", "not-text"],
)
def test_a_bad_document_is_refused_clearly(
    alice: User, document: str | bytes, field: str, words: str
) -> None:
    with pytest.raises(recipes.RecipeInvalid) as refused:
        recipes.import_document(alice, document)
    errors = refused.value.by_field()
    assert field in errors, errors
    assert words in " ".join(errors[field])


# --- Running -----------------------------------------------------------------------------


def test_each_step_is_a_job_on_the_result_of_the_step_before(
    start: Callable[[], RecipeRun],
    step: Callable[[], Job],
    script: Script,
    sent: Sent,
) -> None:
    colors = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
    script.outcomes = [done(color) for color in colors]
    recipe_run = start()
    states = recipes.states(recipe_run)
    assert [s.state for s in states] == [JobStatus.QUEUED, "waiting", "waiting"]
    assert recipes.status(recipe_run) == "running"

    jobs_done = [finish_job(step) for _step in colors]

    assert [job.status for job in jobs_done] == [JobStatus.SUCCEEDED] * 3
    assert [job.operation for job in jobs_done] == ["colorize", "color_migration", "colorize"]
    # Each job's photo is the result before it, and points at that job as its source.
    for before, after in itertools.pairwise(jobs_done):
        assert after.source_job_id == before.pk
        result = before.results.get()
        assert after.read_input("image") == default_storage.open(result.file.name).read()
    assert jobs_done[0].source_job_id is None
    assert script.submits[1].params["color_template"] == ("DB0D0D", "0E0CBB")
    assert script.submits[2].params == {"format": "png"}
    states = recipes.states(recipe_run)
    assert [s.job for s in states] == jobs_done
    assert recipes.status(recipe_run) == "succeeded"
    assert recipes.original_name(recipe_run) == jobs_done[0].inputs["image"]
    assert jobs_done[0].photo_name == jobs_done[2].photo_name == "gran.jpg"


def test_a_failed_step_stops_the_chain_and_retry_runs_only_what_is_left(
    start: Callable[[], RecipeRun],
    step: Callable[[], Job],
    script: Script,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [
        done((200, 0, 0)),
        VendorError("The photo is too dark.", retryable=False, code="dark"),
    ]
    recipe_run = start()
    first = finish_job(step)
    failed = finish_job(step)
    assert failed.status == JobStatus.FAILED

    states = recipes.states(recipe_run)
    assert [s.state for s in states] == [JobStatus.SUCCEEDED, JobStatus.FAILED, "stopped"]
    assert "too dark" in states[1].reason
    assert [s.can_retry for s in states] == [False, True, False]
    assert recipes.status(recipe_run) == "stopped"
    with pytest.raises(recipes.CannotRetry):
        recipes.retry_from(states[0].step_run)  # it succeeded
    with pytest.raises(recipes.CannotRetry):
        recipes.retry_from(states[2].step_run)  # it never started: the step before stopped

    submits_before = len(script.submits)
    script.outcomes = [done((0, 200, 0)), done((0, 0, 200))]
    with django_capture_on_commit_callbacks(execute=True):
        recipes.retry_from(states[1].step_run)
    second = finish_job(step)
    third = finish_job(step)
    assert second.pk == failed.pk
    assert second.status == JobStatus.SUCCEEDED
    assert third.status == JobStatus.SUCCEEDED
    assert third.source_job_id == second.pk
    # The first step was not run again: two more vendor calls, for steps 2 and 3.
    assert len(script.submits) == submits_before + 2
    assert Job.objects.filter(pk=first.pk, status=JobStatus.SUCCEEDED).exists()
    assert recipes.status(recipe_run) == "succeeded"


def test_a_step_that_cannot_start_keeps_the_reason_and_can_be_retried(
    start: Callable[[], RecipeRun],
    step: Callable[[], Job],
    script: Script,
    picwish_key: VendorKey,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    script.outcomes = [done((200, 0, 0)), done((0, 200, 0)), done((0, 0, 200))]
    recipe_run = start()
    finish_job(step)
    picwish_key.delete()  # step 3 needs a PicWish key again
    finish_job(step)

    states = recipes.states(recipe_run)
    assert [s.state for s in states] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, "blocked"]
    assert "PicWish key" in states[2].reason
    with pytest.raises(recipes.CannotRetry, match="PicWish key"):
        recipes.retry_from(states[2].step_run)

    key = VendorKey(owner=recipe_run.owner, vendor="picwish", label="New")
    key.set_secret("sandbox-secret-5678")
    key.save()
    with django_capture_on_commit_callbacks(execute=True):
        recipes.retry_from(states[2].step_run)
    third = finish_job(step)
    assert third.status == JobStatus.SUCCEEDED
    assert recipes.status(recipe_run) == "succeeded"


def test_a_second_announcement_of_the_same_end_starts_nothing_more(
    start: Callable[[], RecipeRun],
    step: Callable[[], Job],
    script: Script,
) -> None:
    script.outcomes = [done((200, 0, 0))]
    recipe_run = start()
    first = finish_job(step)
    recipes.job_ended(sender=Job, job_id=str(first.pk), status=JobStatus.SUCCEEDED)
    assert Job.objects.count() == 2
    assert RecipeStepRun.objects.filter(run=recipe_run, job__isnull=False).count() == 2


def test_a_first_step_that_cannot_start_keeps_nothing(alice: User, recipe: Recipe) -> None:
    with pytest.raises(recipes.RecipeCannotStart, match="PicWish key"):
        recipes.run(recipe, alice, photo=make_image((64, 48)))
    assert not RecipeRun.objects.exists()
    assert not Job.objects.exists()


def test_a_run_only_starts_from_its_owners_job(
    bob: User, recipe: Recipe, start: Callable[[], RecipeRun]
) -> None:
    alices_job = start().step_runs.get(index=0).job
    with pytest.raises(ValueError, match="own job"):
        recipes.run(recipe, bob, photo=make_image((64, 48)), source_job=alices_job)


# --- The admin -------------------------------------------------------------------------------


def test_an_admin_makes_a_studio_recipe_and_a_wrong_step_is_named(client: Client) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    wrong = [THREE_STEPS[0], {**THREE_STEPS[1], "settings": {"degree": 3}}]
    refused = client.post(
        reverse("admin:editor_recipe_add"), {"name": "House", "steps": json.dumps(wrong)}
    )
    assert refused.status_code == 200
    assert "Step 2, degree" in refused.content.decode()
    made = client.post(
        reverse("admin:editor_recipe_add"), {"name": "House", "steps": json.dumps(THREE_STEPS)}
    )
    assert made.status_code == 302
    recipe = Recipe.objects.get(name="House")
    assert recipe.owner is None
    assert recipe.steps == [step.as_json() for step in recipes.check_steps(THREE_STEPS)]
    page = client.get(reverse("admin:editor_recipe_changelist")).content.decode()
    assert "Studio (everyone)" in page
