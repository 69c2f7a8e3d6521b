"""Step 4 from a person's seat, at a desktop and a phone viewport: compare before and after with
the keyboard, the mouse and a finger; open the full size; compare the variants; run a job again
with one change and no new upload; save a preset and apply it in one click.

Jobs run for real: a Celery worker against the vendor sandbox (tests.integration.conftest).
Screenshots of the job page go to test-artifacts/screenshots/ to be looked at.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from editor.models import Job, JobStatus, Preset
from tests.browser.steps import (
    EVERY_DEVICE,
    drag,
    field,
    job_of,
    line,
    open_operation,
    photo,
    results,
    run,
    screenshot,
    see_success,
    sign_in,
    status,
)

# The real worker and the sandbox it calls (used by mark, as in test_operations).

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.integration,
    pytest.mark.usefixtures("worker"),
    EVERY_DEVICE,
]


# --- The slider --------------------------------------------------------------------------


def divider(page: Page) -> Locator:
    return status(page).get_by_role("slider", name="Divider between before and after")


def slider(page: Page) -> dict[str, float]:
    """Where the divider stands, and how much of the result the clip shows, as rendered."""
    state: dict[str, Any] = page.evaluate(
        """() => {
          const box = document.querySelector("[data-compare]");
          const after = box.querySelector("[data-compare-after]");
          const handle = box.querySelector("[data-compare-divider]");
          const rect = box.getBoundingClientRect();
          const line = handle.getBoundingClientRect();
          const clip = getComputedStyle(after).clipPath;
          const left = parseFloat(clip.match(/inset\\(.* ([\\d.]+)%\\)/)[1]);
          return {
            now: Number(handle.getAttribute("aria-valuenow")),
            clipLeft: left,
            shown: rect.width * (100 - left) / 100,
            width: rect.width,
            left: rect.left,
            top: rect.top,
            height: rect.height,
            line: line.left + line.width / 2,
          };
        }"""
    )
    # The divider is drawn where the clip starts.
    assert abs(state["line"] - (state["left"] + state["width"] * state["clipLeft"] / 100)) < 1.5
    return {key: float(value) for key, value in state.items()}


def check_slider(page: Page, device: str) -> None:
    handle = divider(page)
    handle.scroll_into_view_if_needed()
    expect(handle).to_be_visible()
    expect(handle).to_have_attribute("aria-valuenow", "50")
    start = slider(page)
    assert start["clipLeft"] == 50

    # Keyboard: arrows move 5 %, Home and End go to the edges.
    handle.focus()
    page.keyboard.press("ArrowRight")
    expect(handle).to_have_attribute("aria-valuenow", "55")
    moved = slider(page)
    assert moved["clipLeft"] == 55
    assert moved["shown"] == pytest.approx(start["shown"] - start["width"] * 0.05, abs=0.5)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(handle).to_have_attribute("aria-valuenow", "45")
    assert slider(page)["clipLeft"] == 45
    page.keyboard.press("Home")
    expect(handle).to_have_attribute("aria-valuenow", "0")
    assert slider(page)["shown"] == pytest.approx(start["width"], abs=0.5)
    page.keyboard.press("End")
    expect(handle).to_have_attribute("aria-valuenow", "100")
    assert slider(page)["shown"] == pytest.approx(0, abs=0.5)
    page.keyboard.press("Home")

    # Pointer: the mouse on a desktop, a finger on the phone; from the divider and from the
    # picture itself (sideways: a vertical swipe there still scrolls the page).
    box = slider(page)
    y = box["top"] + box["height"] / 2
    drag(page, device, line((box["line"], y), (box["left"] + box["width"] * 0.7, y), steps=8))
    dragged = slider(page)
    assert dragged["now"] == pytest.approx(70, abs=2)
    assert dragged["shown"] == pytest.approx(box["width"] * 0.3, abs=box["width"] * 0.02)
    middle, quarter = box["left"] + box["width"] * 0.5, box["left"] + box["width"] * 0.25
    drag(page, device, line((middle, y), (quarter, y), steps=8))
    assert slider(page)["now"] == pytest.approx(25, abs=2)


def check_full_size(page: Page, device: str) -> None:
    status(page).get_by_role("link", name="Full size").first.click()
    dialog = page.get_by_role("dialog", name="Full size")
    expect(dialog).to_be_visible()
    image = dialog.get_by_role("img")
    image.evaluate(
        "img => img.complete ? null : new Promise(ok => img.addEventListener('load', ok))"
    )
    assert image.evaluate("img => img.naturalWidth") == 320
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    screenshot(page, "full-size", device, full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


# --- Tests ---------------------------------------------------------------------------------


def test_compare_results_and_run_again_without_a_new_upload(
    page: Page, live_server: LiveServer, tmp_path: Path, device: str
) -> None:
    sign_in(page, live_server, f"comparer-{device}")
    form = open_operation(page, live_server, "color_migration")
    field(form, "mode").select_option("AUTO")
    field(form, "color_count").fill("2")
    field(form, "file_image").set_input_files(photo(tmp_path / "street.jpg"))
    run(form)
    see_success(page, count=2)
    first = job_of(page)

    check_slider(page, device)
    check_full_size(page, device)

    # The slider shows result 1; "Compare with before" on result 2 puts that one in it.
    after = status(page).locator("[data-compare-after]")
    second_result = first.results.get(position=1)
    status(page).get_by_role("link", name="Compare with before").nth(1).click()
    expect(after).to_have_attribute("src", re.compile(f"{second_result.pk}/$"))
    expect(status(page).get_by_role("link", name="Compare with before").nth(1)).to_have_attribute(
        "aria-current", "true"
    )
    # For the screenshot: the divider a third of the way, focused, as a keyboard user sees it.
    divider(page).focus()
    for _press in range(3):
        page.keyboard.press("ArrowLeft")
    screenshot(page, "job-result", device)

    # Run again with one change: the form holds every setting and the photo, no upload.
    page.get_by_role("link", name="Run again with changes").click()
    form = page.locator("#operation-form")
    expect(form.get_by_role("img", name="Photo from your earlier job")).to_be_visible()
    expect(form).to_contain_text("choose a file to replace it")
    expect(field(form, "mode")).to_have_value("AUTO")
    expect(field(form, "color_count")).to_have_value("2")
    expect(field(form, "degree")).to_have_value("0.4")
    expect(form.get_by_label("Use it again")).to_be_checked()
    field(form, "degree").fill("0.8")
    screenshot(page, "run-again-form", device)
    run(form)
    see_success(page, count=2)

    rerun = job_of(page)
    assert rerun.pk != first.pk
    assert rerun.params == {"mode": "AUTO", "degree": 0.8, "color_count": 2}
    assert rerun.source_job_id == first.pk
    with (
        default_storage.open(rerun.inputs["image"], "rb") as new,
        default_storage.open(first.inputs["image"], "rb") as old,
    ):
        assert new.read() == old.read()

    # The new job's page compares both runs on the photo, with what changed marked.
    variants = status(page).locator(".variant")
    expect(status(page).get_by_role("heading", name="Compare variants")).to_be_visible()
    expect(variants).to_have_count(4)
    expect(results(page)).to_have_count(2)
    changed = variants.nth(2).locator(".is-changed")
    expect(changed).to_have_count(1)
    expect(changed).to_contain_text("Strength")
    expect(changed).to_contain_text("0.4")
    earlier = variants.nth(2).get_by_role("img")
    earlier.scroll_into_view_if_needed()
    expect(earlier).to_have_js_property("complete", True)
    assert earlier.evaluate("img => img.naturalWidth") > 0
    status(page).get_by_role("link", name="Compare with before").nth(2).click()
    expect(status(page).locator("[data-compare-after]")).to_have_attribute(
        "src", re.compile(f"/jobs/{first.pk}/results/")
    )
    variants.nth(2).scroll_into_view_if_needed()
    screenshot(page, "compare-variants", device)


def test_save_a_preset_and_apply_it_in_one_click(
    page: Page, live_server: LiveServer, tmp_path: Path, device: str
) -> None:
    sign_in(page, live_server, f"presetter-{device}")
    Preset.objects.create(
        owner=None,
        operation="color_migration",
        provider="local",
        name="Gentle",
        params={"mode": "AUTO", "degree": 0.2, "color_count": 1},
    )
    form = open_operation(page, live_server, "color_migration")
    field(form, "color_count").fill("3")
    field(form, "degree").fill("0.7")
    panel = form.locator("#saved-presets")
    panel.get_by_text("Save these settings as a preset").click()
    panel.get_by_label("Preset name").fill("Three families")
    page.evaluate("window.__notReloaded = true")
    panel.get_by_role("button", name="Save preset").click()
    panel = form.locator("#saved-presets")
    expect(panel.get_by_role("status")).to_have_text("Saved the preset “Three families”.")
    saved = Preset.objects.get(name="Three families")
    assert saved.params == {"mode": "AUTO", "degree": 0.7, "color_count": 3}
    assert page.evaluate("window.__notReloaded") is True  # saved by HTMX, in place
    form.scroll_into_view_if_needed()
    screenshot(page, "presets-saved", device)

    # A fresh form; one click on the preset fills it in place, without a page load.
    form = open_operation(page, live_server, "color_migration")
    expect(field(form, "color_count")).to_have_value("1")
    page.evaluate("window.__notReloaded = true")
    url = page.url
    form.get_by_role("link", name="Three families").click()
    expect(field(form, "color_count")).to_have_value("3")
    expect(field(form, "degree")).to_have_value("0.7")
    expect(form.locator("#saved-presets").get_by_role("status")).to_have_text(
        "Applied the preset “Three families”."
    )
    assert page.url == url
    assert page.evaluate("window.__notReloaded") is True
    field(form, "file_image").set_input_files(photo(tmp_path / "street.jpg"))
    run(form)

    see_success(page, count=3)
    job = job_of(page)
    assert job.params == {"mode": "AUTO", "degree": 0.7, "color_count": 3}
    assert job.status == JobStatus.SUCCEEDED

    # The studio's preset is there for everyone; one's own can be deleted, in place.
    form = open_operation(page, live_server, "color_migration")
    form.get_by_role("link", name=re.compile("^Gentle")).click()
    expect(field(form, "degree")).to_have_value("0.2")
    form.get_by_role("button", name="Delete the preset “Three families”").click()
    expect(form.locator("#saved-presets").get_by_role("status")).to_have_text(
        "Deleted the preset “Three families”."
    )
    expect(form.get_by_role("link", name="Three families")).to_have_count(0)
    assert not Preset.objects.filter(name="Three families").exists()
    assert Job.objects.count() == 1
