"""An organisation's single sign-on settings: domains proven by the admin's own verified
sign-in, "require SSO" refusing password sessions of non-owners, and outsiders' 404s."""

import pytest
from django.test import Client

from tenants.models import Organization, SsoDomain, SsoIdentity
from tenants.roles import Role
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

SETTINGS = "/o/acme/settings/sso/"


@pytest.fixture
def admin_with_sso(admin, admin_client, sso_sign_in):
    """The admin (a password account) with the provider's ann@corp.example connected."""
    assert sso_sign_in(admin_client, "ann").status_code == 302
    return admin


def _identity(user):
    return SsoIdentity.objects.get(user=user)


def test_an_admin_maps_the_domain_of_their_own_verified_address(admin_with_sso, admin_client, org, oidc_provider):
    page = admin_client.get(SETTINGS).content.decode()
    assert "corp.example (through Local ID)" in page
    response = admin_client.post(
        SETTINGS, {"action": "domain", "identity": _identity(admin_with_sso).pk, "role": Role.MEMBER}
    )
    assert response.status_code == 302
    domain = SsoDomain.objects.for_org(org).get()
    assert (domain.domain, domain.issuer, domain.role) == ("corp.example", oidc_provider.issuer, Role.MEMBER)
    assert domain.added_by == admin_with_sso

    again = admin_client.post(SETTINGS, {"action": "domain", "identity": _identity(admin_with_sso).pk, "role": "viewer"})
    assert again.status_code == 400 and "corp.example is mapped already" in again.content.decode()


def test_another_persons_address_proves_nothing(admin_with_sso, admin_client, member, sso_sign_in, org):
    sso_sign_in(client_for(member), "zed")  # the member's verified zed@other.example
    response = admin_client.post(SETTINGS, {"action": "domain", "identity": _identity(member).pk, "role": "member"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not SsoDomain.objects.for_org(org).exists()


@pytest.mark.parametrize("login", ["mia", "una"])  # a public mail domain; an unverified address
def test_public_and_unverified_addresses_are_not_offered(login, admin, admin_client, sso_sign_in, org):
    sso_sign_in(admin_client, login)
    response = admin_client.post(SETTINGS, {"action": "domain", "identity": _identity(admin).pk, "role": "member"})
    assert response.status_code == 400
    assert not SsoDomain.objects.for_org(org).exists()
    assert "To add a domain, sign in below" in admin_client.get(SETTINGS).content.decode()


def test_a_domain_never_grants_owner(admin_with_sso, admin_client, org):
    response = admin_client.post(SETTINGS, {"action": "domain", "identity": _identity(admin_with_sso).pk, "role": "owner"})
    assert response.status_code == 400
    assert not SsoDomain.objects.for_org(org).exists()


def test_members_and_viewers_read_but_do_not_change(org, member_client, viewer_client, sso_settings):
    for client in (member_client, viewer_client):
        assert client.get(SETTINGS).status_code == 200
        assert client.post(SETTINGS, {"action": "require", "required": "on"}).status_code == 403
    assert not Organization.objects.get(pk=org.pk).sso_required


def test_outsiders_get_404(org, owner, outsider_client, sso_settings):
    domain = SsoDomain.objects.for_org(org).create(organization=org, domain="corp.example", issuer="https://x", role="member")
    for url in (SETTINGS, f"/o/acme/settings/sso/domains/{domain.pk}/remove/"):
        assert outsider_client.get(url).status_code == 404
        assert outsider_client.post(url, {"action": "require", "required": "on"}).status_code == 404
    assert SsoDomain.objects.for_org(org).exists()
    assert not Organization.objects.get(pk=org.pk).sso_required


def test_another_orgs_domain_cannot_be_removed(owner_client, outsider_org, sso_settings):
    foreign = SsoDomain.objects.for_org(outsider_org).create(
        organization=outsider_org, domain="other.example", issuer="https://x", role="member"
    )
    assert owner_client.post(f"/o/acme/settings/sso/domains/{foreign.pk}/remove/").status_code == 404
    assert SsoDomain.objects.for_org(outsider_org).exists()


def test_an_admin_removes_a_domain(org, admin_client, sso_settings):
    domain = SsoDomain.objects.for_org(org).create(organization=org, domain="corp.example", issuer="https://x", role="member")
    assert admin_client.post(f"/o/acme/settings/sso/domains/{domain.pk}/remove/").status_code == 302
    assert not SsoDomain.objects.for_org(org).exists()


def test_a_post_without_an_action_changes_nothing(org, admin_client, sso_settings):
    response = admin_client.post(SETTINGS, {"required": "on"}, follow=True)
    assert "Choose what to change." in response.content.decode()
    assert not Organization.objects.get(pk=org.pk).sso_required


# --- Require SSO ---------------------------------------------------------------


def _require(org):
    Organization.objects.filter(pk=org.pk).update(sso_required=True)


def test_an_admin_requires_sso_from_a_session_that_will_still_get_in(org, admin, sso_sign_in):
    password_session = client_for(admin)
    response = password_session.post(SETTINGS, {"action": "require", "required": "on"})
    assert response.status_code == 400 and "would lock you out" in response.content.decode()
    assert not Organization.objects.get(pk=org.pk).sso_required

    admin_client = client_for(admin)
    sso_sign_in(admin_client, "ann")
    assert admin_client.post(SETTINGS, {"action": "require", "required": "on"}).status_code == 302
    assert Organization.objects.get(pk=org.pk).sso_required
    assert admin_client.post(SETTINGS, {"action": "require"}).status_code == 302
    assert not Organization.objects.get(pk=org.pk).sso_required


def test_a_password_session_of_a_member_is_refused_with_a_way_in(org, member, member_client, sso_sign_in):
    _require(org)
    response = member_client.get("/o/acme/settings/apps/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Acme requires its members to sign in through single sign-on" in page
    assert 'href="/sso/local/start/?next=/o/acme/settings/apps/"' in page

    # The way in: signing in through the provider on this session.
    assert sso_sign_in(member_client, "dora", next_url="/o/acme/settings/apps/")["Location"] == "/o/acme/settings/apps/"
    assert member_client.get("/o/acme/settings/apps/").status_code == 200


def test_owners_keep_their_password_as_the_way_back_in(org, owner_client, sso_settings):
    _require(org)
    assert owner_client.get("/o/acme/settings/apps/").status_code == 200


def test_with_domains_only_a_sign_in_at_one_of_them_will_do(org, member, sso_sign_in, oidc_provider):
    _require(org)
    SsoDomain.objects.for_org(org).create(organization=org, domain="corp.example", issuer=oidc_provider.issuer, role="member")
    elsewhere = client_for(member)
    sso_sign_in(elsewhere, "zed")  # verified, but at other.example
    assert elsewhere.get("/o/acme/").status_code == 403

    at_domain = Client()
    at_domain.force_login(member)
    sso_sign_in(at_domain, "carl")
    assert at_domain.get("/o/acme/settings/apps/").status_code == 200


def test_other_organisations_are_not_affected(org, outsider, outsider_client, sso_settings):
    _require(org)
    assert outsider_client.get("/o/other-co/settings/apps/").status_code == 200
