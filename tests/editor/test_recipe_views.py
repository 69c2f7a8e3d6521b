"""The recipe run page: the strip, every step's state, the slider between two frames, the retry
of a stopped step; the owner's only, and its HTMX poll gets only the steps."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import User
from editor import recipes
from editor.models import Job, JobStatus, Recipe, RecipeRun, RecipeStepRun, Vendor, VendorKey
from tests.factories import make_job

pytestmark = pytest.mark.django_db

STEPS: list[dict[str, Any]] = [
    {"operation": "colorize", "provider": "picwish", "settings": {"format": "png"}},
    {"operation": "colorize", "provider": "picwish", "settings": {"format": "jpg"}},
    {"operation": "colorize", "provider": "picwish", "settings": {"format": "png"}},
]


def a_run(owner: User, second: Job) -> RecipeRun:
    recipe = Recipe.objects.create(owner=owner, name="Old photos", steps=STEPS)
    run = RecipeRun.objects.create(owner=owner, recipe=recipe, name=recipe.name, steps=STEPS)
    RecipeStepRun.objects.create(run=run, index=0, job=make_job(owner))
    RecipeStepRun.objects.create(run=run, index=1, job=second)
    RecipeStepRun.objects.create(run=run, index=2)
    return run


def test_the_owner_sees_the_strip_the_steps_and_the_slider(client: Client, alice: User) -> None:
    run = a_run(alice, make_job(alice))
    client.force_login(alice)
    page = client.get(reverse("editor:recipe_run", args=[run.pk])).content.decode()
    first, second = (step.job for step in run.step_runs.order_by("index")[:2])
    assert first is not None
    assert second is not None
    assert reverse("editor:job_input", args=[first.pk, "image"]) in page
    assert reverse("editor:result_file", args=[second.pk, second.results.get().pk]) in page
    assert 'data-state="waiting"' in page
    assert "every 2s" in page  # step 3 is still to come
    assert "data-compare" in page
    # The slider between the original and step 1 on request.
    chosen = client.get(reverse("editor:recipe_run", args=[run.pk]), {"before": 0, "after": 1})
    step_1 = reverse("editor:result_file", args=[first.pk, first.results.get().pk])
    assert f'data-compare-after src="{step_1}"' in chosen.content.decode()


def test_a_failed_step_shows_why_and_is_retried(client: Client, alice: User) -> None:
    run = a_run(alice, make_job(alice, status=JobStatus.FAILED))
    client.force_login(alice)
    url = reverse("editor:recipe_run", args=[run.pk])
    page = client.get(url).content.decode()
    assert "PicWish could not read this image." in page
    assert 'data-state="stopped"' in page
    assert "every 2s" not in page
    retry = reverse("editor:recipe_step_retry", args=[run.pk, 2])
    assert retry in page
    assert client.post(retry).status_code == 302
    failed = run.step_runs.get(index=1).job
    assert failed is not None
    failed.refresh_from_db()
    assert failed.status in (JobStatus.QUEUED, JobStatus.PENDING)
    # Step 1 succeeded: nothing to retry there, and the page says so.
    answer = client.post(reverse("editor:recipe_step_retry", args=[run.pk, 1]), follow=True)
    assert "This step has not stopped." in answer.content.decode()


def test_htmx_gets_only_the_steps_and_others_get_404(
    client: Client, alice: User, bob: User
) -> None:
    run = a_run(alice, make_job(alice))
    url = reverse("editor:recipe_run", args=[run.pk])
    assert client.get(url).status_code == 302  # sign in first
    client.force_login(alice)
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section id="recipe-steps"')
    client.force_login(bob)
    assert client.get(url).status_code == 404
    assert client.post(reverse("editor:recipe_step_retry", args=[run.pk, 2])).status_code == 404


def test_the_recipes_page_runs_one_on_a_result_and_imports_and_exports(
    client: Client, alice: User, bob: User
) -> None:
    key = VendorKey(owner=alice, vendor=Vendor.PICWISH, label="Mine")
    key.set_secret("sandbox-secret-1234")
    key.save()
    mine = recipes.save(owner=alice, name="Old photos", steps=STEPS)
    recipes.save(owner=None, name="House style", steps=STEPS[:1])
    photo = make_job(alice)
    client.force_login(alice)
    job_page = client.get(reverse("editor:job", args=[photo.pk])).content.decode()
    assert f"{reverse('editor:recipes')}?from={photo.pk}" in job_page
    page = client.get(reverse("editor:recipes"), {"from": str(photo.pk)}).content.decode()
    assert "House style" in page
    assert "Run (3 credits)" in page
    started = client.post(reverse("editor:recipe_start", args=[mine.pk]), {"job": photo.pk})
    recipe_run = RecipeRun.objects.get()
    assert started["Location"] == reverse("editor:recipe_run", args=[recipe_run.pk])
    assert recipe_run.source_job == photo

    exported = client.get(reverse("editor:recipe_export", args=[mine.pk])).content
    client.force_login(bob)
    document = SimpleUploadedFile("recipe.json", exported, content_type="application/json")
    imported = client.post(reverse("editor:recipe_import"), {"document": document}, follow=True)
    assert "Imported the recipe Old photos." in imported.content.decode()
    assert Recipe.objects.filter(owner=bob, name="Old photos").exists()
    broken = SimpleUploadedFile("recipe.json", b'{"format": ', content_type="application/json")
    refused = client.post(reverse("editor:recipe_import"), {"document": broken}, follow=True)
    assert "not valid JSON (line 1, column 12)" in refused.content.decode()
    # Bob cannot run Alice's recipe, run on Alice's photo, nor delete hers.
    start = reverse("editor:recipe_start", args=[mine.pk])
    assert client.post(start, {"job": photo.pk}).status_code == 404
    assert client.post(reverse("editor:recipe_delete", args=[mine.pk])).status_code == 404
    assert Recipe.objects.filter(pk=mine.pk).exists()


def test_the_builder_adds_moves_removes_and_saves_steps(client: Client, alice: User) -> None:
    client.force_login(alice)
    url = reverse("editor:recipe_new")
    assert "Add a step" in client.get(url).content.decode()
    form: dict[str, Any] = {"name": "Built"}

    def post(action: str, **extra: Any) -> str:
        answer = client.post(url, {**form, **extra, "action": action})
        return answer.content.decode() if answer.status_code == 200 else answer["Location"]

    page = post("add", add_operation="colorize")
    assert 'name="s0-format"' in page
    form.update({"operation": ["colorize"], "s0-provider": "picwish", "s0-format": "png"})
    page = post("add", add_operation="color_migration")
    assert 'name="s1-degree"' in page
    form.update(
        {
            "operation": ["colorize", "color_migration"],
            "s1-provider": "local",
            "s1-mode": "AUTO",
            "s1-degree": "7",
            "s1-color_count": "1",
        }
    )
    # A wrong value is refused naming the step and the field.
    page = post("save")
    assert "Step 2, degree" in page
    assert not Recipe.objects.exists()
    # Moved up: the migration becomes step 1 and keeps its values.
    page = post("up-1")
    assert 'name="s0-degree"' in page
    assert 'value="7"' in page
    form = {
        "name": "Built",
        "operation": ["color_migration", "colorize"],
        "s0-provider": "local",
        "s0-mode": "AUTO",
        "s0-degree": "0.5",
        "s0-color_count": "1",
        "s1-provider": "picwish",
        "s1-format": "png",
    }
    page = post("add", add_operation="colorize")
    assert 'name="s2-format"' in page
    assert "One run costs 2 credits a photo." in page
    form.update(
        {
            "operation": ["color_migration", "colorize", "colorize"],
            "s2-provider": "picwish",
            "s2-format": "jpg",
        }
    )
    assert post("save") == reverse("editor:recipes")
    recipe = Recipe.objects.get(owner=alice, name="Built")
    assert [step["operation"] for step in recipe.steps] == [
        "color_migration",
        "colorize",
        "colorize",
    ]
    assert recipe.steps[0]["settings"]["degree"] == 0.5
    assert recipe.steps[2]["settings"] == {"format": "jpg"}
    edit = client.get(reverse("editor:recipe_edit", args=[recipe.pk])).content.decode()
    assert 'name="s2-format"' in edit
    removed = client.post(
        reverse("editor:recipe_edit", args=[recipe.pk]),
        {**form, "action": "remove-0"},
    ).content.decode()
    assert 'name="s1-format"' in removed
    assert 'name="s2-format"' not in removed
