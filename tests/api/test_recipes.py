"""The recipes endpoints: made, checked with the step and field named, exported and imported,
run on gallery photos (each step a normal job), a run's state and a retried step."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accounts.models import User
from editor import recipes
from editor.models import Job, JobStatus, Recipe, RecipeBatch, RecipeRun, Vendor, VendorKey
from tests.api.conftest import ApiClient
from tests.factories import make_job

pytestmark = pytest.mark.django_db

RECIPES = "/api/v1/recipes"
STEPS: list[dict[str, Any]] = [
    {"operation": "colorize", "provider": "picwish", "settings": {"format": "png"}},
    {"operation": "color_migration", "provider": "local", "settings": {"degree": 0.5}},
]


def post(client: ApiClient, path: str, body: Any) -> Any:
    text = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, text, content_type="application/json")


@pytest.fixture
def picwish(alice: User) -> VendorKey:
    key = VendorKey(owner=alice, vendor=Vendor.PICWISH, label="Mine")
    key.set_secret("sandbox-secret-1234")
    key.save()
    return key


def test_a_recipe_is_made_with_its_cost_and_listed_with_the_studios(
    alice_api: ApiClient, bob_api: ApiClient
) -> None:
    studio = recipes.save(owner=None, name="House style", steps=STEPS[:1])
    made = post(alice_api, RECIPES, {"name": "Mine", "steps": STEPS})
    assert made.status_code == 201
    body = made.json()
    assert body["credits"] == 1  # PicWish 1 + the built-in engine 0
    assert body["studio"] is False
    assert body["steps"][1]["settings"] == {"mode": "AUTO", "degree": 0.5, "color_count": 1}
    names = [item["name"] for item in alice_api.get(RECIPES).json()]
    assert names == ["House style", "Mine"]
    assert [item["name"] for item in bob_api.get(RECIPES).json()] == ["House style"]
    # A studio recipe is run by everyone and changed by no one through the API.
    assert alice_api.get(f"{RECIPES}/{studio.pk}").status_code == 200
    changed = alice_api.client.put(
        f"{RECIPES}/{studio.pk}",
        json.dumps({"name": "Taken", "steps": STEPS}),
        content_type="application/json",
        headers=alice_api._headers(None),
    )
    assert changed.status_code == 404
    assert alice_api.delete(f"{RECIPES}/{studio.pk}").status_code == 404
    assert Recipe.objects.get(pk=studio.pk).name == "House style"


def test_a_wrong_step_is_a_422_naming_the_step_and_field(alice_api: ApiClient) -> None:
    steps = [STEPS[0], {**STEPS[1], "settings": {"degree": 3}}]
    answer = post(alice_api, RECIPES, {"name": "Mine", "steps": steps})
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["steps.2.degree"]
    assert "Step 2, degree" in body["message"]
    assert not Recipe.objects.exists()


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ('{"format": ', "not valid JSON (line 1, column 12)"),
        ("x" * (recipes.MAX_DOCUMENT_BYTES + 1), "too large"),
        ('{"name": "x"}', "not a recipe file"),
    ],
    ids=["malformed", "too-large", "not-a-recipe"],
)
def test_a_bad_document_is_a_clear_422(alice_api: ApiClient, document: str, words: str) -> None:
    answer = post(alice_api, f"{RECIPES}/import", document)
    assert answer.status_code == 422
    assert words in answer.json()["message"]


def test_an_export_imports_for_another_person(
    alice: User, alice_api: ApiClient, bob_api: ApiClient
) -> None:
    recipe = recipes.save(owner=alice, name="Mine", steps=STEPS)
    document = alice_api.get(f"{RECIPES}/{recipe.pk}/export")
    assert document.status_code == 200
    assert "attachment" in document["Content-Disposition"]
    imported = post(bob_api, f"{RECIPES}/import", document.content.decode())
    assert imported.status_code == 201
    assert imported.json()["steps"] == recipe.steps
    assert bob_api.get(f"{RECIPES}/{recipe.pk}/export").status_code == 404


def test_a_run_starts_its_first_step_as_a_job_and_shows_every_step(
    alice: User, alice_api: ApiClient, picwish: VendorKey
) -> None:
    recipe = recipes.save(owner=alice, name="Mine", steps=STEPS)
    photo = make_job(alice)
    answer = post(alice_api, f"{RECIPES}/{recipe.pk}/runs", {"jobs": [str(photo.pk)]})
    assert answer.status_code == 201
    (run,) = answer.json()
    assert run["status"] == "running"
    assert run["source_job"] == str(photo.pk)
    assert [step["state"] for step in run["steps"]] == ["queued", "waiting"]
    first = Job.objects.get(pk=run["steps"][0]["job"])
    assert first.source_job_id == photo.pk
    assert first.operation == "colorize"
    assert run["batch"] is None  # one photo: no batch

    two = post(alice_api, f"{RECIPES}/{recipe.pk}/runs", {"jobs": [str(photo.pk)] * 2}).json()
    assert two[0]["batch"] is not None
    assert two[0]["batch"] == two[1]["batch"]  # grouped on one batch page

    state = alice_api.get(f"/api/v1/recipe-runs/{run['id']}").json()
    assert state["steps"] == run["steps"]
    retry = alice_api.post(f"/api/v1/recipe-runs/{run['id']}/steps/1/retry")
    assert retry.status_code == 409
    assert retry.json()["code"] == "cannot_retry"


def test_a_failed_step_is_retried_through_the_api(
    alice: User, alice_api: ApiClient, picwish: VendorKey
) -> None:
    recipe = recipes.save(owner=alice, name="Mine", steps=STEPS)
    (recipe_run,) = recipes.run_on_jobs(recipe, alice, [make_job(alice)])
    first = recipe_run.step_runs.get(index=0).job
    assert first is not None
    Job.objects.filter(pk=first.pk).update(status=JobStatus.FAILED, error_message="Too dark.")
    state = alice_api.get(f"/api/v1/recipe-runs/{recipe_run.pk}").json()
    assert state["status"] == "stopped"
    assert state["steps"][0]["reason"] == "Too dark."
    assert [step["state"] for step in state["steps"]] == ["failed", "stopped"]

    retried = alice_api.post(f"/api/v1/recipe-runs/{recipe_run.pk}/steps/1/retry")
    assert retried.status_code == 200
    assert retried.json()["steps"][0]["state"] in ("queued", "pending")
    assert retried.json()["status"] == "running"


def test_a_run_that_cannot_start_starts_nothing(alice: User, alice_api: ApiClient) -> None:
    recipe = recipes.save(owner=alice, name="Mine", steps=STEPS)
    photos = [make_job(alice), make_job(alice)]
    answer = post(alice_api, f"{RECIPES}/{recipe.pk}/runs", {"jobs": [str(p.pk) for p in photos]})
    assert answer.status_code == 422
    assert answer.json()["code"] == "cannot_start"
    assert "PicWish key" in answer.json()["message"]
    assert not RecipeRun.objects.exists()
    assert not RecipeBatch.objects.exists()
    assert Job.objects.count() == 2


def test_runs_start_only_from_the_callers_own_jobs(
    alice: User, bob: User, bob_api: ApiClient
) -> None:
    recipe = recipes.save(owner=bob, name="Bob's", steps=STEPS[:1])
    answer = post(bob_api, f"{RECIPES}/{recipe.pk}/runs", {"jobs": [str(make_job(alice).pk)]})
    assert answer.status_code == 404
    assert not RecipeRun.objects.exists()
