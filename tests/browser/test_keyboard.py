"""The studio's richer widgets with the keyboard alone: each is reached with Tab (no click, no
``focus()`` from the test), shows where focus is, works with the keys its help text names and
tells assistive technology its state (``aria-valuenow``, checked radios, live messages).

Also: after a failed submit, focus lands on the first error, whether the browser or the server
found it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import User
from tests.browser.steps import field, open_operation, photo, signed_in_with_keys
from tests.factories import make_job

pytestmark = [pytest.mark.django_db(transaction=True)]

# A focused element shows it: an outline or a ring (box-shadow) on itself, or on the element
# that stands for it on screen (the card around a radio, the handle inside a divider).
FOCUS_SHOWN = """
(el) => {
  if (el !== document.activeElement || !el.matches(":focus-visible")) { return false; }
  const marked = (node) => {
    if (!node) { return false; }
    const style = getComputedStyle(node);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0
      && style.outlineColor !== "rgba(0, 0, 0, 0)" && style.outlineColor !== "transparent";
    return outline || style.boxShadow !== "none";
  };
  return [el, el.parentElement, el.closest("label, .choice-card, .radio-list__item, .swatch"),
          ...el.children].some(marked);
}
"""


@pytest.fixture
def person(page: Page, live_server: LiveServer) -> User:
    return signed_in_with_keys(page, live_server, "keys")


def tab_to(page: Page, target: Locator, *, limit: int = 60, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has focus: it is reachable by keyboard."""
    handle = target.element_handle()
    for _ in range(limit):
        if page.evaluate("el => el === document.activeElement", handle):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    pytest.fail(f"{target} not reached in {limit} presses of Tab")


def assert_focus_shown(target: Locator) -> None:
    assert target.evaluate(FOCUS_SHOWN), f"no visible focus on {target}"


def test_frame_editor_by_keyboard(
    page: Page, live_server: LiveServer, person: User, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "extend")
    chooser = field(form, "file_image")
    chooser.set_input_files(photo(tmp_path / "photo.jpg", (640, 480)))
    expect(form.locator("[data-frame]")).to_be_visible()
    chooser.focus()  # where a person is after choosing the file

    top = form.get_by_role("slider", name="Top edge")
    tab_to(page, top)
    assert_focus_shown(top)
    expect(top).to_have_attribute("aria-valuenow", "0.1")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(top).to_have_attribute("aria-valuenow", "0.2")
    expect(top).to_have_attribute("aria-valuetext", re.compile("20"))
    page.keyboard.press("Shift+ArrowDown")
    expect(top).to_have_attribute("aria-valuenow", "0.19")
    expect(field(form, "top")).to_have_value("0.19")

    right = form.get_by_role("slider", name="Right edge")
    tab_to(page, right)
    assert_focus_shown(right)
    page.keyboard.press("ArrowRight")
    expect(right).not_to_have_attribute("aria-valuenow", "0")
    expect(form.locator("[data-frame-size]")).not_to_contain_text("768 × 576")


def test_mask_painter_by_keyboard(
    page: Page, live_server: LiveServer, person: User, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "extend")
    chooser = field(form, "file_image")
    chooser.set_input_files(photo(tmp_path / "photo.jpg", (400, 300)))
    chooser.focus()

    # The two modes are a radio group: Tab reaches it, an arrow picks "Paint a mask".
    frame_mode = form.get_by_role("radio", name=re.compile("Extend the frame"))
    tab_to(page, frame_mode)
    assert_focus_shown(frame_mode)
    page.keyboard.press("ArrowRight")
    expect(form.get_by_role("radio", name="Paint a mask")).to_be_checked()

    canvas = form.get_by_label("Mask painter")
    tab_to(page, canvas)
    assert_focus_shown(canvas)
    expect(canvas).to_have_attribute("aria-describedby", "mask-help")
    status = form.locator("[data-mask-status]")
    page.keyboard.press("Space")
    expect(status).to_have_text(re.compile("^Painting"))
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    expect(status).to_have_text("Brush lifted.")
    painted = (
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
        ".some((v, i) => i % 4 === 3 && v > 0)"
    )
    assert canvas.evaluate(painted)
    page.keyboard.press("Control+z")
    assert not canvas.evaluate(painted)

    # The brush size is a plain range input, in reach.
    size = form.locator("[data-brush-size]")
    tab_to(page, size, back=True)
    before = int(size.input_value())
    page.keyboard.press("ArrowRight")
    assert int(size.input_value()) > before


def test_palette_editor_by_keyboard(
    page: Page, live_server: LiveServer, person: User, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "color_migration")
    mode = field(form, "mode")
    mode.focus()
    mode.select_option("TEMPLATE")  # a <select>: the keyboard's own control
    swatches = form.locator(".swatch")
    expect(swatches).to_have_count(2)

    add = form.get_by_role("button", name="Add a color")
    tab_to(page, add)
    assert_focus_shown(add)
    page.keyboard.press("Enter")
    expect(swatches).to_have_count(3)

    hex3 = form.get_by_label("Hex code of color 3")
    tab_to(page, hex3, back=True)
    page.keyboard.press("Control+a")
    page.keyboard.type("#12ab34")
    page.keyboard.press("Enter")
    expect(hex3).to_have_value("#12AB34")

    up = form.get_by_role("button", name="Move color 3 up")
    tab_to(page, up)
    assert_focus_shown(up)
    page.keyboard.press("Enter")
    expect(form.get_by_label("Hex code of color 2")).to_have_value("#12AB34")
    # Focus follows the moved color.
    expect(page.locator(":focus")).to_have_attribute("aria-label", "Move color 2 up")

    remove = form.get_by_role("button", name="Remove color 2")
    tab_to(page, remove)
    page.keyboard.press("Enter")
    expect(swatches).to_have_count(2)
    expect(field(form, "color_template")).not_to_have_value(re.compile("12AB34"))
    # Focus is not lost to the page body when its button goes away.
    assert page.evaluate("document.activeElement !== document.body")


def test_expression_cards_by_keyboard(
    page: Page, live_server: LiveServer, person: User, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "expression")
    provider = field(form, "provider")
    provider.focus()
    provider.select_option("ailabtools")
    cards = form.locator("[data-choice-cards]")
    expect(cards).to_be_visible()

    first = cards.get_by_role("radio").first
    tab_to(page, cards.get_by_role("radio").and_(page.locator(":checked")).or_(first).first)
    focused = page.locator(":focus")
    assert_focus_shown(focused)
    start = field(form, "service_choice").input_value()
    page.keyboard.press("ArrowRight")
    moved = page.locator(":focus")
    expect(moved).to_be_checked()
    assert field(form, "service_choice").input_value() != start

    # The advanced engine's searchable list: type to filter, arrow down into the matches.
    provider.focus()
    provider.select_option("ailabtools_advanced")
    search = form.get_by_placeholder(re.compile("^Search"))
    tab_to(page, search)
    page.keyboard.type("pout")
    expect(form.locator("[data-filter-count]")).to_contain_text("of 117 shown")
    page.keyboard.press("ArrowDown")
    chosen = page.locator(":focus")
    expect(chosen).to_have_attribute("type", "radio")
    assert_focus_shown(chosen)
    page.keyboard.press("Space")
    expect(chosen).to_be_checked()
    assert "pout" in field(form, "expression").input_value()


def test_before_after_slider_by_keyboard(page: Page, live_server: LiveServer, person: User) -> None:
    job = make_job(person)
    page.goto(f"{live_server.url}/jobs/{job.pk}/")
    handle = page.get_by_role("slider")
    expect(handle).to_be_visible()
    tab_to(page, handle, limit=80)
    assert_focus_shown(handle)
    expect(handle).to_have_attribute("aria-valuenow", "50")
    page.keyboard.press("ArrowRight")
    expect(handle).to_have_attribute("aria-valuenow", "55")
    page.keyboard.press("End")
    expect(handle).to_have_attribute("aria-valuenow", "100")
    page.keyboard.press("Home")
    expect(handle).to_have_attribute("aria-valuenow", "0")
    expect(handle).to_have_attribute("aria-valuemin", "0")
    expect(handle).to_have_attribute("aria-valuemax", "100")
    assert handle.get_attribute("aria-label") or handle.get_attribute("aria-labelledby")


# --- Focus after a failed submit ---------------------------------------------------------------


def test_focus_moves_to_the_first_error_the_browser_finds(
    page: Page, live_server: LiveServer, person: User
) -> None:
    form = open_operation(page, live_server, "colorize")
    # No photo chosen: the browser's own validation stops the HTMX submit.
    submit = form.locator("button[type=submit]")
    tab_to(page, submit)
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_attribute("name", "file_image")
    assert "/jobs/" not in page.url


def test_focus_moves_to_the_first_error_the_server_finds(
    page: Page, live_server: LiveServer, person: User, tmp_path: Path
) -> None:
    form = open_operation(page, live_server, "extend")
    field(form, "file_image").set_input_files(photo(tmp_path / "photo.jpg", (400, 300)))
    # Past the browser's checks (novalidate), an edge out of range: the server refuses it and
    # HTMX swaps the form back in with the error.
    form.evaluate("f => { f.noValidate = true; }")
    field(form, "bottom").fill("9")
    form.locator("button[type=submit]").focus()
    page.keyboard.press("Enter")
    error = page.locator("#operation-form .field-error, #operation-form [aria-invalid=true]")
    expect(error.first).to_be_visible()
    focused = page.locator(":focus")
    expect(focused).not_to_have_count(0)
    assert page.evaluate("document.activeElement !== document.body")
    first = page.evaluate(
        '() => document.querySelector(\'#operation-form [aria-invalid="true"],'
        " #operation-form .field-error, #operation-form .errorlist') === document.activeElement"
    )
    assert first, page.evaluate("document.activeElement.outerHTML.slice(0, 200)")


def test_focus_moves_to_the_error_on_a_whole_page_answer(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Login:").fill("nobody")
    page.get_by_label("Password:").fill("wrong password")
    page.keyboard.press("Enter")
    expect(page.locator(".errorlist, [aria-invalid=true]").first).to_be_visible()
    assert page.evaluate("document.activeElement !== document.body")
