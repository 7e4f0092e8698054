"""Single sign-on in real Chromium against a real OpenID provider process (tests/oidc_provider/):
the first sign-in creates the account and joins by domain; an organisation that requires SSO
refuses a password session and lets it in after a sign-in through the provider."""

import pytest
from playwright.sync_api import expect

from tenants.models import Membership, SsoDomain, SsoIdentity, User
from tenants.roles import Role
from tests.conftest import PASSWORD, make_org, make_user
from tests.sso.provider import PASSWORD as PROVIDER_PASSWORD, OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def oidc_provider(live_server):
    provider = OidcProvider([live_server.url + "/sso/local/callback/"])
    yield provider
    provider.stop()


@pytest.fixture(autouse=True)
def sso_settings(settings, live_server, oidc_provider):
    settings.PUBLIC_URL = live_server.url
    settings.OIDC_PROVIDERS = [oidc_provider.settings()]


def _sign_in_at_provider(page, login):
    expect(page.get_by_role("heading", name="Test provider sign-in")).to_be_visible()
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", PROVIDER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_the_first_sign_in_creates_the_account_and_joins_by_domain(page, live_server, oidc_provider, screenshot,
                                                                   console_errors):
    base = live_server.url
    org = make_org("Acme", "acme", make_user("alice@example.com"))
    SsoDomain.objects.for_org(org).create(
        organization=org, domain="corp.example", issuer=oidc_provider.issuer, role=Role.MEMBER
    )

    page.goto(base + "/login/")
    screenshot(page, "1-login")
    page.get_by_role("link", name="Sign in with Local ID").click()
    assert page.url.startswith(oidc_provider.issuer + "/interaction/")
    _sign_in_at_provider(page, "carl")

    expect(page.locator(".message-success")).to_contain_text("You joined Acme.")
    assert page.url.startswith(base + "/o/acme/")
    screenshot(page, "2-joined")
    carl = User.objects.get(email="carl@corp.example")
    assert SsoIdentity.objects.get(user=carl).subject == "sub-carl"
    assert Membership.objects.for_org(org).get(user=carl).role == Role.MEMBER
    assert console_errors == []


def test_sso_required_refuses_a_password_session_until_it_signs_in_through_the_provider(page, live_server, login,
                                                                                      screenshot):
    base = live_server.url
    org = make_org("Acme", "acme", make_user("alice@example.com"))
    org.sso_required = True
    org.save()
    bob = make_user("bob@example.com")
    Membership.objects.for_org(org).create(organization=org, user=bob, role=Role.MEMBER)

    login(page, base, "bob@example.com", PASSWORD)
    response = page.goto(base + "/o/acme/settings/members/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Single sign-on required")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Acme requires its members to sign in through single sign-on")
    screenshot(page, "1-refused")

    page.get_by_role("link", name="Sign in with Local ID").click()
    _sign_in_at_provider(page, "dora")
    assert page.url == base + "/o/acme/settings/members/"
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    assert SsoIdentity.objects.get(subject="sub-dora").user == bob  # connected to the signed-in account
    screenshot(page, "2-let-in")


def test_an_admin_maps_a_domain_from_the_settings_page(page, live_server, login, screenshot, oidc_provider):
    base = live_server.url
    org = make_org("Acme", "acme", make_user("alice@example.com"))
    adam = make_user("adam@example.com")
    Membership.objects.for_org(org).create(organization=org, user=adam, role=Role.ADMIN)

    login(page, base, "adam@example.com", PASSWORD)
    page.goto(base + "/o/acme/settings/sso/")
    expect(page.locator("#sso-domains")).to_contain_text("To add a domain, sign in below")
    page.locator("#sso-identities").get_by_role("link", name="Sign in with Local ID").click()
    _sign_in_at_provider(page, "ann")

    assert page.url == base + "/o/acme/settings/sso/"
    expect(page.locator("#sso-identities")).to_contain_text("Local ID: ann@corp.example")
    page.select_option("select[name=role]", "viewer")
    page.get_by_role("button", name="Add domain").click()
    expect(page.locator(".message-success")).to_contain_text("an address at corp.example now join as viewer")
    page.check("input[name=required]")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".message-success")).to_contain_text("Single sign-on is required.")
    screenshot(page, "settings")
    domain = SsoDomain.objects.for_org(org).get()
    assert (domain.domain, domain.issuer, domain.role) == ("corp.example", oidc_provider.issuer, Role.VIEWER)
