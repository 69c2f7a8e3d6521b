"""A recipe on a batch of photos from the pages: the form (files chosen or dropped, results of
the gallery ticked, the whole cost shown before running), its clear field errors (no photo, too
many, a file that is not a photo), and the batch page with every photo's strip and state."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django import Settings as SettingsWrapper

from accounts.models import User
from editor import recipes
from editor.models import Job, JobStatus, Recipe, RecipeBatch, RecipeRun, Vendor, VendorKey
from tests.factories import make_job
from tests.images import make_image

pytestmark = pytest.mark.django_db

STEPS: list[dict[str, Any]] = [
    {"operation": "colorize", "provider": "picwish", "settings": {"format": "png"}},
    {"operation": "colorize", "provider": "picwish", "settings": {"format": "jpg"}},
]


@pytest.fixture
def recipe(alice: User) -> Recipe:
    key = VendorKey(owner=alice, vendor=Vendor.PICWISH, label="Mine")
    key.set_secret("sandbox-secret-1234")
    key.save()
    return recipes.save(owner=alice, name="Old photos", steps=STEPS)


def photo(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, make_image((80, 60)), content_type="image/jpeg")


def test_the_form_shows_the_cost_and_runs_every_photo(
    client: Client, alice: User, recipe: Recipe
) -> None:
    earlier = make_job(alice)
    client.force_login(alice)
    url = reverse("editor:recipe_batch_new", args=[recipe.pk])
    form = client.get(url, {"job": str(earlier.pk)}).content.decode()
    assert "2 steps" in form
    assert "2 credits a photo" in form
    assert "1 photo chosen: 2 credits in all." in form  # the ticked result of the gallery
    assert f'value="{earlier.pk}" checked' in form
    started = client.post(url, {"photos": [photo("a.jpg"), photo("b.jpg")], "job": earlier.pk})
    batch = RecipeBatch.objects.get()
    assert started["Location"] == reverse("editor:recipe_batch", args=[batch.pk])
    runs = list(batch.runs.order_by("photo_name"))
    assert [run.photo_name for run in runs] == ["", "a.jpg", "b.jpg"]
    assert sum(run.source_job == earlier for run in runs) == 1
    # Each run's first step is a normal job; the next starts when it succeeds.
    assert Job.objects.filter(recipe_steps__run__batch=batch).count() == 3

    page = client.get(started["Location"]).content.decode()
    assert page.count('class="recipe-batch__run"') == 3
    assert "every 2s" in page  # photos under way: the page follows them
    assert "6 credits for every step of every photo." in page
    fragment = client.get(started["Location"], headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section id="recipe-batch"')


def test_bad_input_gets_field_errors_and_starts_nothing(
    client: Client, alice: User, recipe: Recipe, settings: SettingsWrapper
) -> None:
    settings.BATCH_MAX_PHOTOS = 2
    client.force_login(alice)
    url = reverse("editor:recipe_batch_new", args=[recipe.pk])
    empty = client.post(url)
    assert empty.status_code == 422
    assert "Choose at least one photo." in empty.content.decode()
    many = client.post(url, {"photos": [photo("a.jpg"), photo("b.jpg"), photo("c.jpg")]})
    assert "At most 2 photos at once: this batch has 3." in many.content.decode()
    text = SimpleUploadedFile("notes.txt", b"not a photo at all", content_type="text/plain")
    wrong = client.post(url, {"photos": [photo("a.jpg"), text]})
    assert wrong.status_code == 422
    body = wrong.content.decode()
    assert "notes.txt: " in body
    assert 'aria-invalid="true"' in body
    assert not RecipeBatch.objects.exists()
    assert not RecipeRun.objects.exists()
    assert not Job.objects.exists()


def test_a_stopped_step_is_retried_from_the_batch_page(
    client: Client, alice: User, recipe: Recipe
) -> None:
    client.force_login(alice)
    url = reverse("editor:recipe_batch_new", args=[recipe.pk])
    client.post(url, {"photos": [photo("a.jpg"), photo("b.jpg")]})
    batch = RecipeBatch.objects.get()
    failed = Job.objects.filter(recipe_steps__run__batch=batch).first()
    assert failed is not None
    failed.status = JobStatus.FAILED
    failed.error_message = "PicWish could not read this image."
    failed.save()
    page = client.get(reverse("editor:recipe_batch", args=[batch.pk])).content.decode()
    assert "PicWish could not read this image." in page
    assert 'name="back" value="batch"' in page
    run = failed.recipe_steps.get().run
    retried = client.post(reverse("editor:recipe_step_retry", args=[run.pk, 1]), {"back": "batch"})
    assert retried["Location"] == reverse("editor:recipe_batch", args=[batch.pk])
    failed.refresh_from_db()
    assert failed.status != JobStatus.FAILED


def test_others_get_404(client: Client, alice: User, bob: User, recipe: Recipe) -> None:
    mine = make_job(alice)
    client.force_login(alice)
    client.post(reverse("editor:recipe_batch_new", args=[recipe.pk]), {"photos": [photo("a.jpg")]})
    batch = RecipeBatch.objects.get()
    client.force_login(bob)
    assert client.get(reverse("editor:recipe_batch", args=[batch.pk])).status_code == 404
    assert client.get(reverse("editor:recipe_batch_new", args=[recipe.pk])).status_code == 404
    # Bob's own recipe on Alice's photo: her job is not found for him.
    his = recipes.save(owner=bob, name="His", steps=STEPS)
    url = reverse("editor:recipe_batch_new", args=[his.pk])
    assert client.post(url, {"job": mine.pk}).status_code == 404
    assert client.get(url, {"job": str(mine.pk)}).status_code == 404
    assert RecipeBatch.objects.count() == 1
