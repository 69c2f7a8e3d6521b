"""CSRF on every state-changing request: a walk over every URL pattern of the project.

Each pattern is filled with real objects (a signed-in staff person's own job, result, key, link,
preset, draft, batch, token; one object of each model in the admin) and sent POST, PUT, PATCH
and DELETE by a client that enforces CSRF checks, holds the CSRF cookie as a browser would, but
sends no token: what a forged cross-site form can do. Every one must be refused with Django's
CSRF 403 before the view runs.

Classified exemptions, each explained in ``ROUTES``:
- the JSON API under ``/api/v1/`` authenticates by bearer token only and never reads the
  session cookie, so a forged request carries no credential: it gets 401 (405 for methods the
  path does not take), never an answer made with the session;
- the vendor sandbox (editor/sandbox) is not in this URLconf at all: it is served by its own
  process (``runsandbox``), is off in production and holds nothing of anyone's.

A pattern added without a line in ``ROUTES`` fails ``test_every_pattern_is_classified``;
patterns under ``admin/`` are classified as the admin's, so newly registered models are walked
too.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RoutePattern

from accounts.models import (
    AuditAction,
    AuditEvent,
    CompanyGroupPlan,
    Plan,
    SignInRule,
    User,
)
from api.models import ApiToken
from editor import albums, recipes
from editor.models import (
    Batch,
    Draft,
    EmailNotice,
    Job,
    Preset,
    RecipeBatch,
    RecipeRun,
    RecipeStepRun,
    ShareLink,
    VendorKey,
)
from tests.factories import PASSWORD, make_job
from tests.images import make_image

pytestmark = pytest.mark.django_db

UNSAFE = ("post", "put", "patch", "delete")


class Kind(enum.Enum):
    CSRF = "refused without a CSRF token"
    BEARER = "bearer token only: the session opens nothing"


# Every pattern outside admin/, by its route. Views that only read still get the CSRF check
# from the middleware for unsafe methods; they are walked all the same, so a view that starts
# taking POST is covered the day it does.
ROUTES: dict[str, Kind] = {
    "healthz": Kind.CSRF,
    "metrics": Kind.CSRF,
    "accounts/login/": Kind.CSRF,
    "accounts/logout/": Kind.CSRF,
    "accounts/inactive/": Kind.CSRF,
    "accounts/signup/": Kind.CSRF,
    "accounts/reauthenticate/": Kind.CSRF,
    "accounts/email/": Kind.CSRF,
    "accounts/confirm-email/": Kind.CSRF,
    "accounts/password/change/": Kind.CSRF,
    "accounts/password/set/": Kind.CSRF,
    "accounts/password/reset/": Kind.CSRF,
    "accounts/login/code/confirm/": Kind.CSRF,
    r"accounts/^confirm-email/(?P<key>[-:\w]+)/$": Kind.CSRF,
    "accounts/password/reset/key/done/": Kind.CSRF,
    r"accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": Kind.CSRF,
    "accounts/password/reset/done/": Kind.CSRF,
    # Company sign-in (allauth's socialaccount and its OpenID Connect provider).
    "accounts/3rdparty/": Kind.CSRF,
    "accounts/3rdparty/login/cancelled/": Kind.CSRF,
    "accounts/3rdparty/login/error/": Kind.CSRF,
    "accounts/3rdparty/signup/": Kind.CSRF,
    # The same pages at their older addresses, which allauth keeps.
    "accounts/social/login/cancelled/": Kind.CSRF,
    "accounts/social/login/error/": Kind.CSRF,
    "accounts/social/signup/": Kind.CSRF,
    "accounts/social/connections/": Kind.CSRF,
    r"accounts/oidc/^(?P<provider_id>[^/]+)/login/": Kind.CSRF,
    r"accounts/oidc/^(?P<provider_id>[^/]+)/login/callback/": Kind.CSRF,
    "account/tokens/": Kind.CSRF,
    "account/tokens/<uuid:token_id>/revoke/": Kind.CSRF,
    # The API's document, its docs page and its root are plain Django views that only read.
    "api/v1/openapi.json": Kind.CSRF,
    "api/v1/docs": Kind.CSRF,
    "api/v1/operations": Kind.BEARER,
    "api/v1/jobs": Kind.BEARER,
    "api/v1/jobs/<job_id>": Kind.BEARER,
    "api/v1/jobs/<job_id>/result": Kind.BEARER,
    "api/v1/jobs/<job_id>/cancel": Kind.BEARER,
    "api/v1/jobs/<job_id>/retry": Kind.BEARER,
    "api/v1/batches": Kind.BEARER,
    "api/v1/keys": Kind.BEARER,
    "api/v1/keys/<key_id>": Kind.BEARER,
    "api/v1/jobs/<job_id>/shares": Kind.BEARER,
    "api/v1/shares": Kind.BEARER,
    "api/v1/shares/<share_id>": Kind.BEARER,
    "api/v1/shares/revoke-all": Kind.BEARER,
    "api/v1/albums": Kind.BEARER,
    "api/v1/recipes": Kind.BEARER,
    "api/v1/recipes/import": Kind.BEARER,
    "api/v1/recipes/<recipe_id>": Kind.BEARER,
    "api/v1/recipes/<recipe_id>/export": Kind.BEARER,
    "api/v1/recipes/<recipe_id>/runs": Kind.BEARER,
    "api/v1/recipe-runs/<run_id>": Kind.BEARER,
    "api/v1/recipe-runs/<run_id>/steps/<number>/retry": Kind.BEARER,
    "api/v1/albums/<album_id>": Kind.BEARER,
    "api/v1/albums/<album_id>/results": Kind.BEARER,
    "api/v1/albums/<album_id>/results/<result_id>": Kind.BEARER,
    "api/v1/albums/<album_id>/order": Kind.BEARER,
    "api/v1/albums/<album_id>/shares": Kind.BEARER,
    "api/v1/albums/<album_id>/shares/revoke": Kind.BEARER,
    "api/v1/usage": Kind.BEARER,
    "api/v1/": Kind.CSRF,
    "": Kind.CSRF,
    "studio/": Kind.CSRF,
    "gallery/": Kind.CSRF,
    "vault/": Kind.CSRF,
    "vault/add/": Kind.CSRF,
    "vault/<uuid:key_id>/": Kind.CSRF,
    "vault/<uuid:key_id>/edit/": Kind.CSRF,
    "vault/<uuid:key_id>/delete/": Kind.CSRF,
    "vault/<uuid:key_id>/credits/": Kind.CSRF,
    "usage/": Kind.CSRF,
    "account/notifications/": Kind.CSRF,
    "language/": Kind.CSRF,
    "jobs/<uuid:job_id>/results/<uuid:result_id>/album/": Kind.CSRF,
    "albums/": Kind.CSRF,
    "recipes/": Kind.CSRF,
    "recipes/import/": Kind.CSRF,
    "recipes/new/": Kind.CSRF,
    "recipes/<uuid:recipe_id>/edit/": Kind.CSRF,
    "recipes/<uuid:recipe_id>/export/": Kind.CSRF,
    "recipes/<uuid:recipe_id>/delete/": Kind.CSRF,
    "recipes/<uuid:recipe_id>/run/": Kind.CSRF,
    "recipes/<uuid:recipe_id>/batch/": Kind.CSRF,
    "recipes/batches/<uuid:batch_id>/": Kind.CSRF,
    "recipes/runs/<uuid:run_id>/": Kind.CSRF,
    "recipes/runs/<uuid:run_id>/steps/<int:number>/retry/": Kind.CSRF,
    "albums/<uuid:album_id>/": Kind.CSRF,
    "albums/<uuid:album_id>/rename/": Kind.CSRF,
    "albums/<uuid:album_id>/delete/": Kind.CSRF,
    "albums/<uuid:album_id>/share/": Kind.CSRF,
    "albums/<uuid:album_id>/revoke-all/": Kind.CSRF,
    "albums/<uuid:album_id>/photos/<uuid:result_id>/move/": Kind.CSRF,
    "albums/<uuid:album_id>/photos/<uuid:result_id>/remove/": Kind.CSRF,
    "shares/revoke-all/": Kind.CSRF,
    "s/<slug:token>/album/zip/": Kind.CSRF,
    "s/<slug:token>/album/<uuid:item_id>/": Kind.CSRF,
    "studio/<slug:slug>/": Kind.CSRF,
    "studio/<slug:slug>/presets/": Kind.CSRF,
    "studio/<slug:slug>/presets/<uuid:preset_id>/delete/": Kind.CSRF,
    "jobs/<uuid:job_id>/": Kind.CSRF,
    "jobs/<uuid:job_id>/cancel/": Kind.CSRF,
    "jobs/<uuid:job_id>/retry/": Kind.CSRF,
    "jobs/<uuid:job_id>/delete/": Kind.CSRF,
    "jobs/<uuid:job_id>/inputs/<slug:role>/": Kind.CSRF,
    "jobs/<uuid:job_id>/results/<uuid:result_id>/": Kind.CSRF,
    "jobs/<uuid:job_id>/results/<uuid:result_id>/thumbnail/": Kind.CSRF,
    "jobs/<uuid:job_id>/results/<uuid:result_id>/download/": Kind.CSRF,
    "jobs/<uuid:job_id>/results/<uuid:result_id>/share/": Kind.CSRF,
    "shares/": Kind.CSRF,
    "shares/<uuid:link_id>/revoke/": Kind.CSRF,
    # The public share page takes the link's password by POST: a forged one could only spend
    # the visitor's guesses, and still must not.
    "s/<slug:token>/": Kind.CSRF,
    "s/<slug:token>/<slug:kind>/": Kind.CSRF,
    "jobs/feed/": Kind.CSRF,
    "drafts/<uuid:draft_id>/": Kind.CSRF,
    "batches/<uuid:batch_id>/": Kind.CSRF,
    "batches/<uuid:batch_id>/zip/": Kind.CSRF,
}


@dataclass(frozen=True)
class Walked:
    route: str
    pattern: URLPattern
    model: type[Model] | None  # the admin's model, for its object_id


def walk(patterns: list[Any], prefix: str = "", model: Any = None) -> Iterator[Walked]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), model)
        else:
            assert isinstance(entry, URLPattern)
            owner = getattr(entry.callback, "model_admin", None)
            yield Walked(prefix + str(entry.pattern), entry, owner.model if owner else model)


def every_pattern() -> list[Walked]:
    # The admin's per-model patterns sit under a resolver per model; the model is read from the
    # views that carry it (their siblings share the route prefix).
    walked = list(walk(get_resolver().url_patterns))
    models = {w.route.rsplit("/", 2)[0]: w.model for w in walked if w.model is not None}
    return [
        Walked(w.route, w.pattern, w.model or models.get(w.route.split("<", 1)[0].rstrip("/")))
        for w in walked
    ]


def kind_of(route: str) -> Kind | None:
    if route.startswith("admin/"):
        return Kind.CSRF  # Django's admin and our dashboard under it
    return ROUTES.get(route)


@dataclass
class World:
    """Real objects of alice's to fill the patterns with."""

    values: dict[str, str]
    job: Job
    key: VendorKey


@pytest.fixture
def world(alice: User) -> World:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    job = make_job(alice)
    result = job.results.get()
    batch = Batch.objects.create(owner=alice, operation="colorize")
    draft = Draft.objects.create(
        owner=alice,
        role="image",
        file=default_storage.save(f"drafts/{alice.pk}/photo.jpg", ContentFile(make_image())),
    )
    key = VendorKey(owner=alice, vendor="picwish", label="Personal")
    key.set_secret("sk-personal-0000-1234")
    key.save()
    link, share_token = ShareLink.create(result, lifetime=None)
    preset = Preset.objects.create(
        owner=alice, operation="colorize", provider="picwish", name="Mine", params={}
    )
    api_token, _plain = ApiToken.create(alice, "laptop")
    # One object of each admin model without one yet.
    Group.objects.create(name="Friends")
    Plan.objects.create(
        name="Small", jobs_per_day=1, credits_per_month=1, storage_bytes=1, concurrent_jobs=1
    )
    EmailAddress.objects.create(user=alice, email=alice.email, primary=True, verified=True)
    AuditEvent.objects.create(actor=alice, action=AuditAction.KEY_ADDED, target_type="key")
    EmailNotice.objects.create(owner=alice, job=job)
    album = albums.create(alice, "Holidays")
    item = albums.add(album, result)
    recipe = recipes.save(owner=alice, name="Mine", steps=[{"operation": "colorize"}])
    recipe_batch = RecipeBatch.objects.create(owner=alice, recipe=recipe, name=recipe.name)
    run = RecipeRun.objects.create(
        owner=alice, recipe=recipe, name=recipe.name, steps=recipe.steps, batch=recipe_batch
    )
    RecipeStepRun.objects.create(run=run, index=0, job=job)
    SocialAccount.objects.create(user=alice, provider="acme", uid="alice-1")
    small = Plan.objects.get(name="Small")
    SignInRule.objects.create(domain="acme.test", provider_id="acme")
    CompanyGroupPlan.objects.create(provider_id="acme", group="designers", plan=small)
    values = {
        "provider_id": "acme",
        "job_id": str(job.pk),
        "result_id": str(result.pk),
        "batch_id": str(batch.pk),
        "album_id": str(album.pk),
        "recipe_id": str(recipe.pk),
        "run_id": str(run.pk),
        "number": "1",
        "item_id": str(item.pk),
        "draft_id": str(draft.pk),
        "key_id": str(key.pk),
        "link_id": str(link.pk),
        "share_id": str(link.pk),
        "preset_id": str(preset.pk),
        "token_id": str(api_token.pk),
        "token": share_token,
        "slug": "colorize",
        "role": "image",
        "kind": "result",
        "key": "MQ:confirmation-key",
        "uidb36": "1",
        "app_label": "editor",
        "url": "nowhere/",
        # The admin's "view on site" names a content type and an object of it.
        "content_type_id": str(ContentType.objects.get_for_model(User).pk),
        "object_id": str(alice.pk),
        "id": str(alice.pk),
    }
    return World(values, job, key)


PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def url_for(walked: Walked, world: World) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name == "object_id" and walked.model is not None:
            found = walked.model._default_manager.first()
            assert found is not None, f"no {walked.model.__name__} to fill {walked.route}"
            return str(found.pk)
        return world.values[name]

    path = "/" + PARAMETER.sub(fill, walked.route).replace("^", "").replace("$", "")
    if not isinstance(walked.pattern.pattern, RoutePattern) or "<" in walked.route:
        # The placeholders must lead to this very pattern, not to a neighbour.
        assert resolve(path).route == re.sub(r"(?<!\[)\^", "", walked.route), (path, walked.route)
    return path


def forger(user: User) -> Client:
    """A signed-in browser that has the CSRF cookie (any page sets it) but, on a forged
    request from another site, cannot send the token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(reverse("editor:studio")).status_code == 200
    assert client.cookies["csrftoken"].value
    return client


def test_every_pattern_is_classified() -> None:
    unclassified = [w.route for w in every_pattern() if kind_of(w.route) is None]
    assert unclassified == [], "add these to ROUTES in tests/abuse/test_csrf.py"
    # ROUTES names no pattern that has gone away.
    routes = {w.route for w in every_pattern()}
    assert sorted(set(ROUTES) - routes) == []


def test_no_state_changing_request_passes_without_a_token(alice: User, world: World) -> None:
    client = forger(alice)
    walked_csrf = bearer_refused = 0
    for walked in every_pattern():
        kind = kind_of(walked.route)
        path = url_for(walked, world)
        for method in UNSAFE:
            response = getattr(client, method)(path)
            where = f"{method.upper()} {path} ({walked.route})"
            if kind is Kind.CSRF:
                assert response.status_code == 403, where
                assert b"CSRF verification failed" in response.content, where
            else:
                assert response.status_code in (401, 405), where
                bearer_refused += response.status_code == 401
        walked_csrf += kind is Kind.CSRF
    assert walked_csrf > 60  # the admin's patterns included
    assert bearer_refused >= 8  # every API write path refused the session


def test_the_api_ignores_the_session_cookie(alice: User, world: World) -> None:
    client = forger(alice)
    submitted = client.post("/api/v1/jobs", {"operation": "colorize"})
    assert submitted.status_code == 401
    assert client.delete(f"/api/v1/keys/{world.key.pk}").status_code == 401
    assert VendorKey.objects.filter(pk=world.key.pk).exists()
    assert Job.objects.count() == 1


def test_a_forged_form_changes_nothing(alice: User, world: World) -> None:
    client = forger(alice)
    new_key = {"vendor": "ailabtools", "label": "Forged", "secret": "sk-forged-0000-9999"}
    assert client.post(reverse("editor:vault_add"), new_key).status_code == 403
    assert client.post(reverse("api_tokens"), {"name": "forged"}).status_code == 403
    delete = reverse("editor:job_delete", args=[world.job.pk])
    assert client.post(delete, {"confirmed": "1"}).status_code == 403
    change = {"oldpassword": PASSWORD, "password1": "forged pass 9!", "password2": "forged pass 9!"}
    assert client.post(reverse("account_change_password"), change).status_code == 403
    assert client.post(reverse("account_logout")).status_code == 403
    assert not VendorKey.objects.filter(label="Forged").exists()
    assert not ApiToken.objects.filter(name="forged").exists()
    assert Job.objects.filter(pk=world.job.pk).exists()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    assert client.get(reverse("editor:studio")).status_code == 200  # still signed in

    # The same requests with the token do what they say: the 403s above were the CSRF check.
    token = client.cookies["csrftoken"].value
    with_token = {"X-CSRFToken": token}
    assert client.post(reverse("editor:vault_add"), new_key, headers=with_token).status_code == 302
    assert VendorKey.objects.filter(label="Forged").exists()
    assert client.post(delete, {"confirmed": "1"}, headers=with_token).status_code == 302
    assert not Job.objects.filter(pk=world.job.pk).exists()
