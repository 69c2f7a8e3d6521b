"""axe-core (bundled by axe-playwright-python, no network) on every page a person or a visitor
can reach, on a desktop and a phone, in light and dark colour schemes.

The test prints a table of violations per page and impact, fails on any serious or critical
one, and fails on a moderate or minor one unless ``axe_allowed.txt`` lists it with a reason.
One browser context per viewport and scheme visits every page, so the audit costs one page
load and one axe run per page and combination.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import User
from api.models import ApiToken
from editor import albums, operations
from editor.models import (
    Batch,
    JobStatus,
    Preset,
    Recipe,
    RecipeBatch,
    RecipeRun,
    RecipeStepRun,
    ShareLink,
)
from tests.browser.steps import DEVICES, photo, portrait, settle
from tests.factories import make_admin, make_album, make_job, make_key

pytestmark = [pytest.mark.django_db(transaction=True)]

ALLOWED = Path(__file__).with_name("axe_allowed.txt")
IMPACTS = ("critical", "serious", "moderate", "minor")
BLOCKING = {"critical", "serious"}
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")


@dataclass(frozen=True)
class Finding:
    page: str
    combo: str  # "desktop-dark"
    rule: str
    impact: str
    nodes: int
    example: str


# Widgets a form shows only on a choice: picked in the page, then audited again.
WIDGETS = {
    "form-extend": """form => { form.querySelector('#extend-mode-mask').click(); }""",
    "form-color_migration": """form => {
        const mode = form.querySelector('[name=mode]');
        mode.value = 'TEMPLATE';
        mode.dispatchEvent(new Event('change', { bubbles: true }));
    }""",
    "form-expression": """form => {
        const provider = form.querySelector('[name=provider]');
        provider.value = 'ailabtools';
        provider.dispatchEvent(new Event('change', { bubbles: true }));
    }""",
}


def allowed() -> set[tuple[str, str]]:
    """(rule id, page) pairs the allow-list excuses; ``*`` as the page excuses every page.
    Each line: rule id, page, then the reason (required)."""
    pairs = set()
    for number, raw in enumerate(ALLOWED.read_text().splitlines(), 1):
        text = raw.split("#", 1)[0].strip() if raw.lstrip().startswith("#") else raw.strip()
        if not text:
            continue
        parts = text.split(None, 2)
        assert len(parts) == 3, f"{ALLOWED.name}:{number}: rule, page and a reason, please"
        pairs.add((parts[0], parts[1]))
    return pairs


def signed_in(context: BrowserContext, live_server: LiveServer, user: User) -> None:
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def audit(axe: Axe, page: Page, name: str, combo: str, found: list[Finding]) -> None:
    settle(page)
    response = axe.run(page).response
    for violation in response["violations"]:
        nodes = violation["nodes"]
        found.append(
            Finding(
                page=name,
                combo=combo,
                rule=violation["id"],
                impact=violation["impact"] or "minor",
                nodes=len(nodes),
                example=nodes[0]["html"][:140] if nodes else "",
            )
        )


def table(names: list[str], found: list[Finding]) -> str:
    counts: Counter[tuple[str, str]] = Counter()
    for finding in found:
        counts[(finding.page, finding.impact)] += finding.nodes
    width = max(len(name) for name in names)
    lines = [f"{'page':<{width}}  " + "  ".join(f"{i:>8}" for i in IMPACTS)]
    for name in names:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{counts[(name, i)]:>8}" for i in IMPACTS))
    return "\n".join(lines)


# One test per viewport and scheme, so that pytest-xdist spreads the four over its workers.
COMBOS = [(device, scheme) for device in DEVICES for scheme in SCHEMES]


@pytest.mark.parametrize(("device", "scheme"), COMBOS, ids=[f"{d}-{s}" for d, s in COMBOS])
def test_every_page_passes_axe(
    browser: Browser,
    live_server: LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    device: str,
    scheme: Literal["light", "dark"],
) -> None:
    # The person: staff, so the admin dashboard is theirs to see too; keys, jobs (one under
    # way, one done, one failed), an album, a recipe and share links.
    person = make_admin("ada")
    make_key(person, "picwish", "sandbox-ada-picwish", label="PicWish sandbox")
    make_key(person, "ailabtools", "sandbox-ada-ailab", label="AILabTools sandbox")
    running = make_job(person, JobStatus.RUNNING)
    done = make_job(person)
    failed = make_job(person, JobStatus.FAILED)
    # A preset of their own, so the forms show its apply link and its delete button.
    Preset.objects.create(owner=person, operation="colorize", name="Warm", provider="picwish")
    result = done.results.get()
    batch = Batch.objects.create(owner=person, operation="colorize")
    for job in (done, running):
        job.batch = batch
        job.save()
    step = {"operation": "colorize", "provider": "picwish", "settings": {"format": "png"}}
    recipe = Recipe.objects.create(owner=person, name="Old photos", steps=[step, step])
    recipe_batch = RecipeBatch.objects.create(owner=person, recipe=recipe, name="Attic box")
    recipe_run = RecipeRun.objects.create(
        owner=person, recipe=recipe, name="Old photos", steps=[step, step], batch=recipe_batch
    )
    RecipeStepRun.objects.create(run=recipe_run, index=0, job=done)
    ApiToken.create(person, "script")
    _, result_token = ShareLink.create(result, lifetime=dt.timedelta(days=1))
    album = make_album(person, photos=2)
    albums.add(album, result)
    _, album_token = ShareLink.create(album, lifetime=dt.timedelta(days=1))

    visitor_pages = {
        "login": "/accounts/login/",
        "signup": "/accounts/signup/",
        "password-reset": "/accounts/password/reset/",
        "shared-result": f"/s/{result_token}/",
        "shared-album": f"/s/{album_token}/",
    }
    person_pages = {
        "home": "/",
        "studio": "/studio/",
        **{f"form-{op.slug}": f"/studio/{op.slug}/" for op in operations.OPERATIONS},
        "job-running": f"/jobs/{running.pk}/",
        "job-done": f"/jobs/{done.pk}/",
        "job-failed": f"/jobs/{failed.pk}/",
        "share-new": f"/jobs/{done.pk}/results/{result.pk}/share/",
        "album-add": f"/jobs/{done.pk}/results/{result.pk}/album/",
        "gallery": "/gallery/",
        "albums": "/albums/",
        "album": f"/albums/{album.pk}/",
        "shares": "/shares/",
        "usage": "/usage/",
        "vault": "/vault/",
        "recipes": "/recipes/",
        "recipe-new": "/recipes/new/",
        "recipe-edit": f"/recipes/{recipe.pk}/edit/",
        "recipe-run": f"/recipes/runs/{recipe_run.pk}/",
        "recipe-batch-new": f"/recipes/{recipe.pk}/batch/",
        "recipe-batch": f"/recipes/batches/{recipe_batch.pk}/",
        "batch": f"/batches/{batch.pk}/",
        "account-password": "/accounts/password/change/",
        "account-email": "/accounts/email/",
        "account-tokens": "/account/tokens/",
        "account-notifications": "/account/notifications/",
        "admin-dashboard": "/admin/dashboard/",
    }
    landscape = photo(tmp_path / "landscape.jpg")
    face = portrait(tmp_path / "face.jpg")

    axe = Axe()
    found: list[Finding] = []
    combo = f"{device}-{scheme}"
    context = browser.new_context(**DEVICES[device], color_scheme=scheme)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        for name, path in visitor_pages.items():
            page.goto(live_server.url + path)
            audit(axe, page, name, combo, found)
        signed_in(context, live_server, person)
        for name, path in person_pages.items():
            page.goto(live_server.url + path)
            expect(page.locator("h1").first).to_be_visible()
            if name.startswith("form-"):
                chosen = face if name == "form-expression" else landscape
                form = page.locator("#operation-form")
                form.locator("input[type=file]").first.set_input_files(chosen)
            audit(axe, page, name, combo, found)
            if name in WIDGETS:
                # The form again with its richer widget shown, on the same page.
                page.locator("#operation-form").evaluate(WIDGETS[name])
                audit(axe, page, f"{name}+widget", combo, found)
    finally:
        context.close()

    names = [*visitor_pages, *person_pages, *(f"{name}+widget" for name in WIDGETS)]
    with capsys.disabled():
        print(f"\n\naxe-core violations (nodes) per page, {combo}:")
        print(table(names, found))
    excused = allowed()
    failures = [
        f"{f.page} [{f.combo}] {f.impact} {f.rule} x{f.nodes}: {f.example}"
        for f in found
        if f.impact in BLOCKING
        or ((f.rule, f.page) not in excused and (f.rule, "*") not in excused)
    ]
    assert not failures, "\n".join(sorted(set(failures)))
