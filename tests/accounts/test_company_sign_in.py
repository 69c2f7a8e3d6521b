"""Company sign-in (OpenID Connect): the group → plan table, the per-domain rule and bad
answers from the provider, against a fake provider behind allauth's requests session. The whole
way through a real provider and the browser: tests/browser/test_company_sign_in.py."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from pytest_django import Settings as SettingsWrapper

from accounts import signin
from accounts.models import CompanyGroupPlan, GroupPlan, Plan, SignInRule, User
from accounts.quotas import plan_for
from accounts.social import SocialAccountAdapter
from config.settings import env_oidc_providers
from tests.factories import PASSWORD, make_admin, make_plan, make_user
from tests.oidc import CLIENT_SECRET, FakeProvider, callback_query, configure

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

CAROL = {
    "sub": "carol-1",
    "email": "carol@acme.test",
    "email_verified": True,
    "preferred_username": "carol",
    "groups": ["designers", "everyone"],
}


@pytest.fixture
def idp(settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    provider = FakeProvider(claims=dict(CAROL))
    configure(settings, provider.issuer)
    monkeypatch.setattr(SocialAccountAdapter, "get_requests_session", provider.session_factory())
    return provider


def company_sign_in(client: Client, provider_id: str = "acme", **answer: str) -> Response:
    """Set off for the provider, and come back with ``answer`` (a code by default)."""
    start = client.post(reverse("openid_connect_login", kwargs={"provider_id": provider_id}))
    assert start.status_code == 302, start
    query = {**callback_query(start["Location"]), **(answer or {"code": "the-code"})}
    callback = reverse("openid_connect_callback", kwargs={"provider_id": provider_id})
    return client.get(callback, query, follow=True)


def signed_in(response: Response) -> User | None:
    user = response.wsgi_request.user
    return user if isinstance(user, User) else None


def page_text(response: Response) -> str:
    return response.content.decode()


# --- Signing in, and the plan from the groups claim ------------------------------------------


def test_a_new_person_signs_in_and_gets_the_plan_of_their_group(
    client: Client, idp: FakeProvider
) -> None:
    pro = make_plan("Pro", jobs=100)
    make_plan("Everyone", jobs=5)
    CompanyGroupPlan.objects.create(provider_id="acme", group="designers", plan=pro, priority=10)
    CompanyGroupPlan.objects.create(
        provider_id="acme", group="everyone", plan=Plan.objects.get(name="Everyone"), priority=1
    )

    response = company_sign_in(client)

    user = signed_in(response)
    assert user is not None
    assert (user.username, user.email) == ("carol", "carol@acme.test")
    assert response.redirect_chain[-1][0] == reverse("editor:studio")
    user.refresh_from_db()
    assert user.company_plan == pro
    assert plan_for(user) == pro
    # The secret went to the token endpoint, as the provider asked (client_secret_post)...
    token_request = next(r for r in idp.seen if (r.url or "").endswith("/token"))
    assert CLIENT_SECRET in str(token_request.body)
    # ...and nowhere the person can see.
    assert CLIENT_SECRET not in page_text(response)


def test_the_plan_follows_the_groups_at_each_sign_in(client: Client, idp: FakeProvider) -> None:
    pro = make_plan("Pro", jobs=100)
    CompanyGroupPlan.objects.create(provider_id="acme", group="designers", plan=pro)
    company_sign_in(client)
    user = User.objects.get(username="carol")
    assert user.company_plan == pro

    client.post(reverse("account_logout"))
    idp.claims["groups"] = ["everyone"]  # no longer a designer: no mapped group
    company_sign_in(client)
    user.refresh_from_db()
    assert user.company_plan is None

    client.post(reverse("account_logout"))
    idp.claims["groups"] = "designers"  # some providers send one group as a string
    company_sign_in(client)
    user.refresh_from_db()
    assert user.company_plan == pro


def test_a_plan_an_admin_gave_by_hand_beats_the_company_groups(
    client: Client, idp: FakeProvider
) -> None:
    pro, vip = make_plan("Pro", jobs=100), make_plan("VIP", jobs=1000)
    CompanyGroupPlan.objects.create(provider_id="acme", group="designers", plan=pro)
    company_sign_in(client)
    user = User.objects.get(username="carol")
    user.plan = vip
    user.save()
    client.post(reverse("account_logout"))
    company_sign_in(client)
    user.refresh_from_db()
    assert (user.plan, user.company_plan, plan_for(user)) == (vip, pro, vip)


def test_the_company_plan_comes_before_django_groups() -> None:
    user = make_user("dora")
    group = Group.objects.create(name="staff")
    user.groups.add(group)
    GroupPlan.objects.create(group=group, plan=make_plan("Staff"))
    assert plan_for(user).name == "Staff"  # type: ignore[union-attr]
    user.company_plan = make_plan("Pro")
    user.save()
    assert plan_for(user).name == "Pro"  # type: ignore[union-attr]


def test_groups_map_by_priority_and_only_for_their_provider() -> None:
    low, high = make_plan("Low"), make_plan("High")
    CompanyGroupPlan.objects.create(provider_id="acme", group="a", plan=low, priority=1)
    CompanyGroupPlan.objects.create(provider_id="acme", group="b", plan=high, priority=5)
    CompanyGroupPlan.objects.create(provider_id="other", group="c", plan=high, priority=9)
    assert signin.plan_for_groups("acme", {"a", "b"}) == high
    assert signin.plan_for_groups("acme", {"a", "c"}) == low
    assert signin.plan_for_groups("acme", set()) is None
    assert signin.claimed_groups([{"g": ["a", 3, None]}, {"g": "b"}, {"g": {"x": 1}}], "g") == {
        "a",
        "b",
    }


# --- The domain rule -------------------------------------------------------------------------


def test_a_required_domain_cannot_use_its_password_and_is_sent_to_the_provider(
    client: Client, idp: FakeProvider
) -> None:
    carol = User.objects.create_user("carol", email="carol@acme.test", password=PASSWORD)
    SignInRule.objects.create(domain="ACME.test", provider_id="acme", required=True)

    for login in ("carol@acme.test", "Carol"):
        response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
        assert response.status_code == 302
        assert response["Location"] == signin.login_url("acme")
        assert "_auth_user_id" not in client.session
    page = page_text(client.get(response["Location"]))
    assert "People at acme.test sign in with their company account (Acme)" in page

    # Through the provider they reach the account they already had (the rule vouches for
    # the provider's email of that domain).
    response = company_sign_in(client)
    assert signed_in(response) == carol
    assert User.objects.count() == 1


def test_a_required_domain_with_an_unconfigured_provider_still_refuses_the_password(
    client: Client, settings: SettingsWrapper
) -> None:
    User.objects.create_user("carol", email="carol@acme.test", password=PASSWORD)
    SignInRule.objects.create(domain="acme.test", provider_id="gone", required=True)
    response = client.post(
        reverse("account_login"), {"login": "carol@acme.test", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "sign in with their company account" in page_text(response)
    assert "_auth_user_id" not in client.session


def test_a_required_domain_cannot_sign_up_with_a_password(
    client: Client, idp: FakeProvider
) -> None:
    SignInRule.objects.create(domain="acme.test", provider_id="acme", required=True)
    form = {"username": "mallory", "password1": PASSWORD, "password2": PASSWORD}
    response = client.post(reverse("account_signup"), {**form, "email": "Mallory@ACME.test"})
    assert response.status_code == 200
    assert "People at acme.test sign in with their company account (Acme)" in page_text(response)
    assert not User.objects.exists()
    client.post(reverse("account_signup"), {**form, "email": "mallory@example.com"})
    assert User.objects.filter(username="mallory").exists()


def test_other_domains_and_rules_that_are_not_required_keep_their_passwords(
    client: Client, idp: FakeProvider
) -> None:
    make_user("alice")  # alice@example.com
    User.objects.create_user("carol", email="carol@acme.test", password=PASSWORD)
    SignInRule.objects.create(domain="acme.test", provider_id="acme", required=False)
    for login in ("alice", "carol@acme.test"):
        client.post(reverse("account_logout"))
        response = client.post(
            reverse("account_login"), {"login": login, "password": PASSWORD}, follow=True
        )
        assert signed_in(response) is not None


def test_a_domain_bound_to_one_provider_cannot_come_through_another(
    client: Client, idp: FakeProvider
) -> None:
    SignInRule.objects.create(domain="acme.test", provider_id="acme-sso", required=True)
    response = company_sign_in(client)
    assert signed_in(response) is None
    assert "People at acme.test sign in with acme-sso." in page_text(response)
    assert not User.objects.exists()


def test_the_password_form_shows_the_company_button_only_when_configured(
    client: Client, settings: SettingsWrapper
) -> None:
    page = page_text(client.get(reverse("account_login")))
    assert "company account" not in page
    configure(settings, "https://idp.test")
    page = page_text(client.get(reverse("account_login")))
    assert "Sign in with Acme" in page
    assert CLIENT_SECRET not in page


# --- Bad answers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"error": "access_denied"}, "Signing in with Acme was cancelled."),
        ({"error": "server_error"}, "Acme refused the sign-in."),
    ],
)
def test_the_provider_answering_an_error_is_told_clearly(
    client: Client, idp: FakeProvider, answer: dict[str, str], message: str
) -> None:
    response = company_sign_in(client, **answer)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("account_login")
    assert message in page_text(response)
    assert signed_in(response) is None


@pytest.mark.parametrize(
    "spoil",
    [
        {"token_claims": {"aud": "someone-else"}},
        {"token_claims": {"iss": "https://evil.test"}},
        {"token_claims": {"exp": 1_000_000_000}},
        {"token_error": "invalid_grant"},
    ],
    ids=["wrong audience", "wrong issuer", "expired", "token refused"],
)
def test_a_token_that_does_not_verify_signs_nobody_in(
    client: Client,
    idp: FakeProvider,
    spoil: dict[str, object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in spoil.items():
        setattr(idp, name, value)
    with caplog.at_level(logging.WARNING):
        response = company_sign_in(client)
    assert response.status_code == 200
    assert "The answer from Acme could not be verified, so you were not signed in." in (
        page_text(response)
    )
    assert signed_in(response) is None
    assert not User.objects.exists()
    assert "company sign-in failed (provider acme" in caplog.text
    assert CLIENT_SECRET not in caplog.text
    assert "access-token" not in caplog.text


def test_a_missing_email_claim_is_explained(client: Client, idp: FakeProvider) -> None:
    del idp.claims["email"]
    response = company_sign_in(client)
    assert response.status_code == 200
    assert "Acme did not give the studio your email address" in page_text(response)
    assert signed_in(response) is None
    assert not User.objects.exists()


def test_a_provider_that_cannot_be_reached_is_explained(client: Client, idp: FakeProvider) -> None:
    idp.unreachable = True
    response = client.post(
        reverse("openid_connect_login", kwargs={"provider_id": "acme"}), follow=True
    )
    assert response.status_code == 200
    assert "Acme could not be reached" in page_text(response)


def test_the_continue_page_may_post_to_the_provider_and_only_that_page(
    client: Client, idp: FakeProvider
) -> None:
    page = client.get(reverse("openid_connect_login", kwargs={"provider_id": "acme"}))
    assert "form-action 'self' https://idp.test" in page["Content-Security-Policy"]
    login = client.get(reverse("account_login"))
    assert "idp.test" not in login["Content-Security-Policy"]


def test_an_unknown_provider_is_a_404(client: Client, idp: FakeProvider) -> None:
    response = client.post(reverse("openid_connect_login", kwargs={"provider_id": "nope"}))
    assert response.status_code == 404


# --- Configuration and the admin -------------------------------------------------------------


def test_providers_come_from_one_json_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OIDC_PROVIDERS",
        '[{"id": "acme", "name": "Acme", "issuer": "https://login.acme.com/", '
        '"client_id": "c", "secret": "s", "groups_claim": "roles"}, '
        '{"id": "beta", "issuer": "https://b.test", "client_id": "c2", "secret": "s2"}]',
    )
    apps = env_oidc_providers("OIDC_PROVIDERS")
    assert [(a["provider_id"], a["name"]) for a in apps] == [("acme", "Acme"), ("beta", "beta")]
    assert apps[0]["settings"] == {"server_url": "https://login.acme.com", "groups_claim": "roles"}
    monkeypatch.delenv("OIDC_PROVIDERS")
    assert env_oidc_providers("OIDC_PROVIDERS") == []


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("{nope", "must be a JSON list"),
        ('{"id": "acme"}', "must be a JSON list"),
        ('[{"id": "acme", "issuer": "https://a", "client_id": "c"}]', "needs secret"),
        ('[{"id": "Acme!", "issuer": "i", "client_id": "c", "secret": "TOPSECRET"}]', ".id must"),
        (
            '[{"id": "a", "issuer": "i", "client_id": "c", "secret": "TOPSECRET"},'
            ' {"id": "a", "issuer": "i", "client_id": "c", "secret": "TOPSECRET"}]',
            "its own id",
        ),
    ],
)
def test_a_bad_provider_setting_fails_loudly_without_the_secret(
    monkeypatch: pytest.MonkeyPatch, raw: str, error: str
) -> None:
    monkeypatch.setenv("OIDC_PROVIDERS", raw)
    with pytest.raises(ValueError, match=error) as failure:
        env_oidc_providers("OIDC_PROVIDERS")
    assert "TOPSECRET" not in str(failure.value)


def test_the_admin_sets_rules_and_group_plans_without_ever_showing_the_secret(
    client: Client, settings: SettingsWrapper
) -> None:
    configure(settings, "https://idp.test")
    client.force_login(make_admin())
    pro = make_plan("Pro")

    page = client.get(reverse("admin:accounts_signinrule_add"))
    assert page.status_code == 200
    assert "Acme" in page_text(page)
    assert CLIENT_SECRET not in page_text(page)
    response = client.post(
        reverse("admin:accounts_signinrule_add"),
        {"domain": "@Acme.test", "provider_id": "acme", "required": "on"},
    )
    assert response.status_code == 302
    assert SignInRule.objects.get().domain == "acme.test"
    refused = client.post(
        reverse("admin:accounts_signinrule_add"),
        {"domain": "beta.test", "provider_id": "not-configured", "required": "on"},
    )
    assert refused.status_code == 200
    assert SignInRule.objects.count() == 1

    response = client.post(
        reverse("admin:accounts_companygroupplan_add"),
        {"provider_id": "acme", "group": "designers", "plan": pro.pk, "priority": 3},
    )
    assert response.status_code == 302
    assert CompanyGroupPlan.objects.get().plan == pro
    listing = client.get(reverse("admin:accounts_companygroupplan_changelist"))
    assert "designers" in page_text(listing)

    # Providers and their secrets are the environment's: allauth's own pages for them are gone.
    index = page_text(client.get(reverse("admin:index")))
    assert "Social applications" not in index
    assert "Social application tokens" not in index
    assert CLIENT_SECRET not in index
