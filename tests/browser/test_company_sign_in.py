"""Sign in with a company account, as a person does, against a real OpenID Connect provider
(django-oauth-toolkit, tests/oidc_provider) that the test starts on 127.0.0.1 with its own
settings, database and RSA key: the studio's button, the provider's login and consent, back in
the studio with the plan of the person's group, signed out; then the password form sending a
person of the company's domain to the provider."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from accounts.models import CompanyGroupPlan, SignInRule, User
from tests.browser.steps import screenshot
from tests.factories import make_plan
from tests.oidc import CLIENT_SECRET, configure, real_provider

pytestmark = pytest.mark.django_db(transaction=True)

CAROL_PASSWORD = "carol at the provider"


def through_the_provider(page: Page) -> None:
    """allauth's "continue" page, then the provider's login (when not signed in there yet) and
    its consent page."""
    expect(page.get_by_role("heading", name="Sign In Via Acme")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    if page.get_by_role("heading", name="Acme sign-in").is_visible():
        page.get_by_label("Username:").fill("carol")
        page.get_by_label("Password:").fill(CAROL_PASSWORD)
        page.get_by_role("button", name="Log in to Acme").click()
    expect(page.get_by_role("heading", name="Authorize Photo studio?")).to_be_visible()
    page.get_by_role("button", name="Authorize").click()


def test_sign_in_with_the_company_account_and_out(
    page: Page, live_server: LiveServer, settings: SettingsWrapper, tmp_path: Path
) -> None:
    callback = f"{live_server.url}/accounts/oidc/acme/login/callback/"
    people = [
        {
            "username": "carol",
            "password": CAROL_PASSWORD,
            "email": "carol@acme.test",
            "groups": ["designers"],
        }
    ]
    with real_provider(tmp_path, [callback], people) as provider:
        configure(settings, provider.url)
        pro = make_plan("Pro", jobs=100)
        CompanyGroupPlan.objects.create(provider_id="acme", group="designers", plan=pro)

        page.goto(live_server.url + "/accounts/login/")
        expect(
            page.get_by_role("heading", name="Or sign in with your company account")
        ).to_be_visible()
        screenshot(page, "company-sign-in", "desktop")
        page.get_by_role("link", name="Sign in with Acme").click()
        assert page.url.startswith(live_server.url)
        through_the_provider(page)

        expect(page.get_by_role("heading", name="Your studio")).to_be_visible()
        expect(page.get_by_text("Signed in as carol.", exact=True)).to_be_visible()
        carol = User.objects.get(username="carol")
        assert (carol.email, carol.company_plan) == ("carol@acme.test", pro)
        assert CLIENT_SECRET not in page.content()

        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{live_server.url}/accounts/login/")

        # Now the company makes its sign-in the only way in for its domain: the password form
        # sends Carol to the provider (signed in there already: only the consent is asked).
        SignInRule.objects.create(domain="acme.test", provider_id="acme", required=True)
        page.get_by_label("Login:").fill("carol@acme.test")
        page.get_by_label("Password:").fill("whatever she once had")
        page.get_by_role("button", name="Sign In").click()
        expect(
            page.get_by_text("People at acme.test sign in with their company account (Acme)")
        ).to_be_visible()
        through_the_provider(page)
        expect(page.get_by_text("Signed in as carol.", exact=True)).to_be_visible()
        assert User.objects.count() == 1
