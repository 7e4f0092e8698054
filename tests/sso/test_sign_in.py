"""Signing in with OpenID Connect against a real provider process (tests/oidc_provider/):
the first sign-in creates the account, later ones find it by issuer and subject, and each
refused answer (state, code, nonce, signature, unverified address) signs nobody in."""

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.test import Client

from tenants.audit import Action
from tenants.models import AuditEntry, Membership, SsoDomain, SsoIdentity, User
from tenants.roles import Role
from tests.conftest import PASSWORD, make_user
from tests.sso.conftest import CALLBACK, callback_path, start
from tests.sso.provider import OidcProvider, sign_in_at_provider

pytestmark = pytest.mark.django_db


def _signed_in_as(client):
    response = client.get("/")
    user_id = client.session.get("_auth_user_id")
    return response, (User.objects.get(pk=user_id) if user_id else None)


def test_it_sends_the_browser_to_the_discovered_endpoint_with_pkce_state_and_nonce(sso_settings, oidc_provider):
    client = Client()
    url = urlsplit(start(client))
    assert f"{url.scheme}://{url.netloc}{url.path}" == oidc_provider.issuer + "/auth"  # from the discovery document
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == CALLBACK and set(query["scope"].split()) == {"openid", "email", "profile"}
    assert len(query["code_challenge"]) >= 43 and len(query["state"]) >= 20 and len(query["nonce"]) >= 20
    # Kept for the callback in this browser's session only, the verifier never sent.
    kept = client.session[f"_state_local_{query['state']}"]["data"]
    assert kept["nonce"] == query["nonce"] and kept["code_verifier"] not in url.query


def test_it_creates_the_account_at_the_first_sign_in(sso_sign_in, oidc_provider):
    client = Client()
    response = sso_sign_in(client, "ann")
    assert response.status_code == 302 and response["Location"] == "/"

    user = User.objects.get(email="ann@corp.example")
    assert user.name == "Ann Admin" and user.email_verified
    assert not user.has_usable_password()  # it signs in through the provider only
    identity = SsoIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (oidc_provider.issuer, "sub-ann")
    _, signed_in = _signed_in_as(client)
    assert signed_in == user
    assert client.session["sso"]["issuer"] == oidc_provider.issuer
    assert client.get("/").headers["Location"] == "/organizations/new/"  # no organisation yet


def test_a_later_sign_in_finds_the_account_by_subject_not_by_email(sso_sign_in):
    sso_sign_in(Client(), "ann")
    user = User.objects.get(email="ann@corp.example")
    user.email = "ann.renamed@corp.example"  # changed in Pulse since
    user.save()

    client = Client()
    assert sso_sign_in(client, "ann").status_code == 302
    assert _signed_in_as(client)[1] == user
    assert User.objects.count() == 1


def test_it_returns_to_the_page_asked_for_but_never_off_site(sso_sign_in):
    assert sso_sign_in(Client(), "ann", next_url="/organizations/new/")["Location"] == "/organizations/new/"
    assert sso_sign_in(Client(), "ann", next_url="https://evil.example/")["Location"] == "/"


def test_an_unverified_address_creates_no_account(sso_sign_in):
    client = Client()
    response = sso_sign_in(client, "una")
    assert response.status_code == 400
    assert "did not confirm that your e-mail address is verified" in response.content.decode()
    assert not User.objects.filter(email="una@corp.example").exists()
    assert not SsoIdentity.objects.exists()
    assert _signed_in_as(client)[1] is None


def test_an_existing_account_is_not_taken_over_by_its_address(sso_sign_in):
    owner = make_user("bob@example.com")  # has a password; the provider says bob@example.com too
    client = Client()
    response = sso_sign_in(client, "bob")
    assert response.status_code == 400
    assert "An account with bob@example.com exists already" in response.content.decode()
    assert not SsoIdentity.objects.filter(user=owner).exists()
    assert _signed_in_as(client)[1] is None


def test_a_signed_in_account_connects_the_provider_then_signs_in_with_it(sso_sign_in):
    owner = make_user("bob@example.com")
    client = Client()
    client.force_login(owner)
    assert sso_sign_in(client, "bob").status_code == 302
    assert SsoIdentity.objects.get(user=owner).subject == "sub-bob"

    fresh = Client()
    sso_sign_in(fresh, "bob")
    assert _signed_in_as(fresh)[1] == owner


def test_a_state_this_browser_did_not_start_is_refused(sso_sign_in, oidc_provider):
    attacker, victim = Client(), Client()
    # The attacker's own code and state, fed to the victim's browser (login CSRF).
    url = sign_in_at_provider(start(attacker), "zed", CALLBACK)
    start(victim)
    response = victim.get(callback_path(url))
    assert response.status_code == 400
    assert "Please start again" in response.content.decode()
    assert _signed_in_as(victim)[1] is None and not User.objects.exists()


def test_a_used_code_is_refused(sso_sign_in):
    client = Client()
    url = sign_in_at_provider(start(client), "ann", CALLBACK)
    assert client.get(callback_path(url)).status_code == 302
    client.logout()

    # The same answer again: its state was used up.
    assert client.get(callback_path(url)).status_code == 400
    # The code under a fresh state of this browser: the provider refuses it (used, and the
    # PKCE verifier is another one).
    fresh_state = parse_qs(urlsplit(start(client)).query)["state"][0]
    parts = urlsplit(url)
    query = {**{k: v[0] for k, v in parse_qs(parts.query).items()}, "state": fresh_state}
    response = client.get(f"{parts.path}?{urlencode(query)}")
    assert response.status_code == 400
    assert "Signing in with Local ID did not work" in response.content.decode()
    assert _signed_in_as(client)[1] is None


def test_an_id_token_with_another_nonce_is_refused(sso_sign_in):
    client = Client()
    parts = urlsplit(start(client))
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["nonce"] = "a-nonce-of-someone-elses"
    url = sign_in_at_provider(urlunsplit(parts._replace(query=urlencode(query))), "ann", CALLBACK)
    response = client.get(callback_path(url))
    assert response.status_code == 400
    assert "the ID token was not valid" in response.content.decode()
    assert "nonce" in response.content.decode()
    assert not User.objects.exists()


def test_the_provider_refusing_is_shown(sso_sign_in):
    client = Client()
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    response = client.get("/sso/local/callback/?" + urlencode({"error": "access_denied", "state": state}))
    assert response.status_code == 400
    assert "Local ID answered “access_denied”" in response.content.decode()

    # What comes back in the URL is anyone's to write: shown escaped and cut short.
    state = parse_qs(urlsplit(start(client)).query)["state"][0]
    response = client.get("/sso/local/callback/?" + urlencode({"error": "<script>x</script>" + "y" * 500, "state": state}))
    page = response.content.decode()
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page and "y" * 101 not in page


def test_an_unknown_provider_is_404(sso_settings):
    assert Client().get("/sso/nope/start/").status_code == 404
    assert Client().get("/sso/nope/callback/?code=x&state=y").status_code == 404


@pytest.fixture
def other_provider(request):
    """A second provider process with options, stopped after the test."""

    def start_with(**options):
        provider = OidcProvider([CALLBACK], **options)
        request.addfinalizer(provider.stop)
        return provider

    return start_with


def test_an_id_token_signed_by_a_key_not_in_the_jwks_is_refused(settings, sso_settings, other_provider):
    rogue = other_provider(rogue_jwks=True)  # signs with one key, publishes another under its id
    settings.OIDC_PROVIDERS = [rogue.settings()]
    client = Client()
    url = sign_in_at_provider(start(client), "ann", CALLBACK)
    response = client.get(callback_path(url))
    assert response.status_code == 400
    assert "the ID token was not valid (bad_signature)" in response.content.decode()
    assert not User.objects.exists()


def test_the_email_comes_from_userinfo_when_the_id_token_leaves_it_out(settings, sso_settings, other_provider):
    provider = other_provider(conform_id_token_claims=True)
    settings.OIDC_PROVIDERS = [provider.settings()]
    client = Client()
    url = sign_in_at_provider(start(client), "ann", CALLBACK)
    assert client.get(callback_path(url)).status_code == 302
    assert SsoIdentity.objects.get(subject="sub-ann").user.email == "ann@corp.example"


def test_a_discovery_document_naming_another_issuer_is_refused(settings, sso_settings, oidc_provider):
    settings.OIDC_PROVIDERS = [oidc_provider.settings(issuer=oidc_provider.issuer.replace("127.0.0.1", "localhost"))]
    response = Client().get("/sso/local/start/")
    assert response.status_code == 503
    assert "discovery document names another issuer" in response.content.decode()


def test_a_verified_address_at_a_mapped_domain_joins_with_its_role(sso_sign_in, oidc_provider, org, owner):
    SsoDomain.objects.for_org(org).create(
        organization=org, domain="corp.example", issuer=oidc_provider.issuer, role=Role.VIEWER, added_by=owner
    )
    client = Client()
    sso_sign_in(client, "carl")
    carl = User.objects.get(email="carl@corp.example")
    assert Membership.objects.for_org(org).get(user=carl).role == Role.VIEWER
    assert client.get("/").headers["Location"] == "/o/acme/"

    # Not for another domain, nor for an address the provider did not verify.
    sso_sign_in(Client(), "zed")
    assert not Membership.objects.for_org(org).filter(user__email="zed@other.example").exists()


def test_a_mapped_domain_joins_only_through_the_provider_that_proved_it(sso_sign_in, org, owner):
    SsoDomain.objects.for_org(org).create(
        organization=org, domain="corp.example", issuer="https://another-issuer.example", role=Role.MEMBER
    )
    sso_sign_in(Client(), "carl")
    assert not Membership.objects.for_org(org).filter(user__email="carl@corp.example").exists()


def test_an_existing_member_keeps_their_role(sso_sign_in, oidc_provider, org, owner):
    SsoDomain.objects.for_org(org).create(
        organization=org, domain="corp.example", issuer=oidc_provider.issuer, role=Role.VIEWER
    )
    sso_sign_in(Client(), "carl")
    membership = Membership.objects.for_org(org).get(user__email="carl@corp.example")
    membership.role = Role.ADMIN
    membership.save()
    sso_sign_in(Client(), "carl")
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_a_deactivated_account_cannot_sign_in(sso_sign_in):
    sso_sign_in(Client(), "ann")
    User.objects.filter(email="ann@corp.example").update(is_active=False)
    client = Client()
    response = sso_sign_in(client, "ann")
    assert response.status_code == 400 and "deactivated" in response.content.decode()
    assert _signed_in_as(client)[1] is None


def test_a_password_login_still_works_beside_sso(client, sso_settings):
    make_user("bob@example.com")
    response = client.post("/login/", {"email": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert "Sign in with Local ID" in Client().get("/login/").content.decode()


def test_an_sso_session_meets_the_organisations_two_factor_rule_and_is_audited(
    sso_sign_in, oidc_provider, org, owner, member_client
):
    org.require_two_factor = True
    org.save(update_fields=["require_two_factor"])
    SsoDomain.objects.for_org(org).create(
        organization=org, domain="corp.example", issuer=oidc_provider.issuer, role=Role.MEMBER, added_by=owner
    )
    # A member signed in with a password and no second factor is sent to turn one on ...
    assert member_client.get("/o/acme/")["Location"].startswith("/account/")
    # ... one signed in through the provider is not: the provider is the second factor.
    client = Client()
    sso_sign_in(client, "carl")
    assert client.session["pulse_auth_method"] == "sso"
    assert not client.get("/o/acme/").get("Location", "").startswith("/account/")
    actions = set(AuditEntry.objects.for_org(org).values_list("action", flat=True))
    assert {Action.SSO_DOMAIN_JOINED, Action.LOGIN_SUCCEEDED} <= actions
