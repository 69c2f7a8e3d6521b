"""A recipe from a person's seat: build three steps in the builder (colorize, then color
migration from a palette, then extend the frame to about 16:9), run it on a batch of three
photos with the whole cost shown first, watch the batch page as the real worker takes each
photo through the sandbox, see the one photo whose last step failed and why (the AILabTools
account ran dry after two), top the account up and "retry from this step" until every photo is
done. The steps before the failed one are not run again."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from editor.models import Job, JobStatus, Recipe, RecipeBatch
from editor.sandbox.state import STATE
from tests.browser.steps import JOB_TIMEOUT, add_key, photo, screenshot, sign_in

# The real worker and the sandbox it calls (see test_operations).
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
]

# Enough AILabTools credits for two extensions (25 each), not three: one photo's last step
# fails with the vendor's own "run out of credits".
DRY_KEY = "sandbox-credits-50-recipes"
CHAIN_TIMEOUT = 3 * JOB_TIMEOUT  # three jobs one after another

# Photos dropped on an element, made in the page from (base64, name) pairs (a data: URL cannot
# be fetched under the Content-Security-Policy).
DROP = """
([selector, files]) => {
  const transfer = new DataTransfer();
  for (const [data, name] of files) {
    const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
  }
  const target = document.querySelector(selector);
  for (const kind of ["dragenter", "dragover", "drop"]) {
    const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
    target.dispatchEvent(new DragEvent(kind, init));
  }
}
"""


def add_step(page: Page, operation: str) -> None:
    page.get_by_label("Add a step").select_option(label=operation)
    page.get_by_role("button", name="Add step").click()


def close_toasts(page: Page) -> None:
    """Each photo's run announces its end (its last step, or the step it stopped at) in a
    toast: closed before a picture for people."""
    page.locator("#toasts").evaluate("region => region.replaceChildren()")


def test_build_a_recipe_run_it_on_three_photos_and_retry_a_failed_step(
    page: Page, live_server: LiveServer, device: str, tmp_path: Path
) -> None:
    sign_in(page, live_server, "recipe-cook")
    add_key(page, live_server, "picwish", "sandbox-recipes-picwish")
    add_key(page, live_server, "ailabtools", DRY_KEY)

    # The builder: three steps, each with its operation's own fields.
    page.goto(f"{live_server.url}/recipes/")
    page.get_by_role("link", name="New recipe").click()
    page.get_by_label("Name").fill("Old family photos")
    add_step(page, "Colorize")
    add_step(page, "Color migration")
    add_step(page, "Image extender")
    steps = page.locator(".recipe-builder__step")
    expect(steps).to_have_count(3)
    migration, extender = steps.nth(1), steps.nth(2)
    migration.get_by_label("Mode").select_option(label="From a palette")
    migration.get_by_label("Palette").fill("C8553D, 2D6A4F, F2E8CF")
    # 4:3 to about 16:9: the sides grow, the top and bottom stay.
    for side, ratio in (("Top", "0"), ("Bottom", "0"), ("Left", "0.15"), ("Right", "0.15")):
        extender.get_by_label(f"{side}:", exact=True).fill(ratio)
    expect(page.locator("[data-credits]")).to_have_text("One run costs 26 credits a photo.")
    screenshot(page, "recipe-builder", device)
    page.get_by_role("button", name="Save recipe").click()
    expect(page.locator(".messages")).to_contain_text("Saved the recipe Old family photos.")
    recipe = Recipe.objects.get(name="Old family photos")
    assert [step["operation"] for step in recipe.steps] == [
        "colorize",
        "color_migration",
        "extend",
    ]
    assert recipe.steps[1]["settings"]["color_template"] == ["C8553D", "2D6A4F", "F2E8CF"]

    # Three photos at once, with the cost of all of them shown before anything starts.
    page.locator(".recipe").filter(has_text="Old family photos").get_by_role(
        "link", name="Run on photos"
    ).click()
    files = [photo(tmp_path / f"family {n}.jpg", size=(320, 240), gray=True) for n in range(3)]
    dropped = [[base64.b64encode(path.read_bytes()).decode(), path.name] for path in files]
    # Two dropped on the form, then one more: it joins them. (The hint shows once the form's
    # script is ready for drops.)
    expect(page.get_by_text("Drop photos here or choose files")).to_be_visible()
    page.evaluate(DROP, ["[data-dropzone]", dropped[:2]])
    expect(page.locator("[data-total]")).to_have_text("2 photos chosen: 52 credits in all.")
    page.evaluate(DROP, ["[data-dropzone]", dropped[2:]])
    expect(page.locator("[data-total]")).to_have_text("3 photos chosen: 78 credits in all.")
    expect(page.locator("[data-chosen-files]")).to_have_text(
        "family 0.jpg, family 1.jpg, family 2.jpg"
    )
    page.get_by_role("button", name="Run on these photos").click()

    batch = page.locator("#recipe-batch")
    expect(batch.locator(".recipe-batch__run")).to_have_count(3)
    expect(batch).to_have_attribute("data-running", "false", timeout=CHAIN_TIMEOUT)
    expect(batch.locator(".recipe-batch__run[data-status=succeeded]")).to_have_count(2)
    stopped = batch.locator(".recipe-batch__run[data-status=stopped]")
    expect(stopped).to_have_count(1)
    failed = stopped.locator(".recipe-step[data-state=failed]")
    expect(failed).to_contain_text("3. Image extender")
    expect(failed).to_contain_text("Your AILabTools account has run out of credits.")
    # The stopped photo's strip holds what it got: the original and two steps.
    expect(stopped.locator(".recipe-strip__frame")).to_have_count(3)
    close_toasts(page)
    screenshot(page, "recipe-batch", device)
    first_jobs = set(Job.objects.filter(recipe_steps__index__lt=2).values_list("pk", flat=True))

    # Topped up at the vendor, the last step runs again; nothing before it does.
    STATE.top_up(DRY_KEY, 100)
    failed.get_by_role("button", name="Retry from this step").click()
    expect(batch.locator(".recipe-batch__run[data-status=succeeded]")).to_have_count(
        3, timeout=CHAIN_TIMEOUT
    )
    for run in batch.locator(".recipe-batch__run").all():
        expect(run.locator(".recipe-strip__frame")).to_have_count(4)
    for thumbnail in batch.get_by_role("img").all():
        expect(thumbnail).to_have_js_property("complete", True)
        assert int(thumbnail.evaluate("img => img.naturalWidth")) > 0
    assert Job.objects.filter(recipe_steps__index__lt=2).count() == len(first_jobs) == 6
    recipe_batch = RecipeBatch.objects.get()
    assert recipe_batch.runs.count() == 3
    extended = Job.objects.filter(recipe_steps__run__batch=recipe_batch, operation="extend")
    assert set(extended.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}
    close_toasts(page)
    screenshot(page, "recipe-batch-done", device)

    # One photo's page: its strip and the slider between any two frames.
    batch.locator(".recipe-batch__run h2 a").first.click()
    expect(page.locator(".recipe-strip__frame")).to_have_count(4)
    expect(page.locator("[data-compare]")).to_be_visible()
