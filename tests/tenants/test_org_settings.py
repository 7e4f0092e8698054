"""The organisation settings page: rename (slug kept), leave, delete with typed confirmation."""

import pytest

from apm.models import ErrorGroup, Trace, Transaction
from tenants import actions
from tenants.models import App, IngestKey, Membership, Organization
from tenants.roles import Role
from tests.conftest import client_for
from tests.frontend import factories as apm_factories

SETTINGS = "/o/acme/settings/organization/"
LEAVE = SETTINGS + "leave/"
DELETE = SETTINGS + "delete/"


# --- Rename -----------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner_client", "admin_client"])
def test_owners_and_admins_rename_and_the_address_stays(request, persona, org):
    client = request.getfixturevalue(persona)
    response = client.post(SETTINGS, {"name": "  Acme Industries  "})
    assert response["Location"] == SETTINGS
    org.refresh_from_db()
    assert (org.name, org.slug) == ("Acme Industries", "acme")
    page = client.get(SETTINGS).content.decode()
    assert "Renamed to Acme Industries." in page
    assert 'value="Acme Industries"' in page


@pytest.mark.parametrize("persona", ["member_client", "viewer_client"])
def test_members_and_viewers_cannot_rename(request, persona, org):
    client = request.getfixturevalue(persona)
    page = client.get(SETTINGS)
    assert page.status_code == 200
    assert "Rename" not in page.content.decode()
    assert client.post(SETTINGS, {"name": "Hijacked"}).status_code == 403
    org.refresh_from_db()
    assert org.name == "Acme"


def test_the_action_refuses_a_member_too(org, member):
    with pytest.raises(actions.ActionError, match="Only owners and admins"):
        actions.rename_organization(Membership.objects.for_org(org).get(user=member), "Hijacked")


def test_a_blank_name_is_refused(owner_client, org):
    page = owner_client.post(SETTINGS, {"name": "   "}).content.decode()
    assert "This field is required." in page
    org.refresh_from_db()
    assert org.name == "Acme"


def test_a_new_name_is_escaped(owner_client, org):
    owner_client.post(SETTINGS, {"name": "<script>alert(1)</script>"})
    page = owner_client.get(SETTINGS).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- Leave ------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["admin", "member", "viewer"])
def test_any_member_can_leave(request, persona, org, owner):
    user = request.getfixturevalue(persona)
    client = client_for(user)
    client.get("/o/acme/settings/organization/")  # remembered as the last organisation visited
    response = client.post(LEAVE)
    assert response["Location"] == "/"
    assert not Membership.objects.for_org(org).filter(user=user).exists()
    assert client.get("/o/acme/").status_code == 404
    assert client.get("/")["Location"] == "/organizations/new/"  # nothing left to land in


def test_the_last_owner_cannot_leave_and_is_told_why(owner_client, org, owner, member):
    page = owner_client.get(SETTINGS).content.decode()
    assert "You are the only owner of Acme, so you cannot leave it." in page
    response = owner_client.post(LEAVE, follow=True)
    text = response.content.decode()
    assert "You are the only owner of Acme, so you cannot leave it." in text
    assert "Make another member an owner first, or delete the organisation." in text
    assert Membership.objects.for_org(org).get(user=owner).role == Role.OWNER


def test_an_owner_leaves_once_there_is_another(owner_client, org, owner, admin):
    actions.change_role(Membership.objects.for_org(org).get(user=owner), _membership_id(org, admin), Role.OWNER)
    assert owner_client.post(LEAVE)["Location"] == "/"
    assert not Membership.objects.for_org(org).filter(user=owner).exists()
    assert Membership.objects.for_org(org).get(user=admin).role == Role.OWNER


def test_leaving_needs_a_post(member_client, org, member):
    assert member_client.get(LEAVE).status_code == 405
    assert Membership.objects.for_org(org).filter(user=member).exists()


def test_the_members_page_offers_every_role_to_leave(viewer_client):
    page = viewer_client.get("/o/acme/settings/members/").content.decode()
    assert f'action="{LEAVE}"' in page


def _membership_id(org, user):
    return Membership.objects.for_org(org).get(user=user).pk


# --- Delete -----------------------------------------------------------------


def test_owners_delete_after_typing_the_name(owner_client, org, owner, member, app, outsider_org):
    key = actions.create_ingest_key(org, "prod", owner).key
    txn = apm_factories.transaction(org, app)
    apm_factories.trace_id(org, app)  # a partitioned table
    apm_factories.error_group(org, app)
    page = owner_client.get(DELETE).content.decode()
    assert "Type the organisation&#x27;s name (Acme) to confirm" in page
    response = owner_client.post(DELETE, {"confirm": "Acme"})
    assert response["Location"] == "/"
    assert not Organization.objects.filter(slug="acme").exists()
    assert not Membership.objects.unscoped().filter(organization_id=org.pk).exists()
    assert not App.objects.unscoped().filter(pk=app.pk).exists()
    assert not IngestKey.objects.unscoped().filter(pk=key.pk).exists()
    assert not Transaction.objects.unscoped().filter(pk=txn.pk).exists()
    assert not Trace.objects.unscoped().filter(organization_id=org.pk).exists()
    assert not ErrorGroup.objects.unscoped().filter(organization_id=org.pk).exists()
    assert Organization.objects.filter(pk=outsider_org.pk).exists()  # nobody else's
    assert client_for(member).get("/o/acme/").status_code == 404


def test_a_wrong_name_deletes_nothing(owner_client, org):
    response = owner_client.post(DELETE, {"confirm": "acme"})
    assert response.status_code == 200
    assert "That is not the organisation&#x27;s name." in response.content.decode()
    assert Organization.objects.filter(slug="acme").exists()


@pytest.mark.parametrize("persona", ["admin_client", "member_client", "viewer_client"])
def test_only_owners_delete(request, persona, org):
    client = request.getfixturevalue(persona)
    page = client.get(DELETE)
    assert page.status_code == 200 and "Only owners can delete the organisation." in page.content.decode()
    assert "Delete organisation…" not in client.get(SETTINGS).content.decode()
    assert client.post(DELETE, {"confirm": "Acme"}).status_code == 403
    assert Organization.objects.filter(slug="acme").exists()


def test_the_action_refuses_an_admin_too(org, admin):
    with pytest.raises(actions.ActionError, match="Only owners"):
        actions.delete_organization(Membership.objects.for_org(org).get(user=admin), "Acme")
    assert Organization.objects.filter(slug="acme").exists()


# --- Outsiders ----------------------------------------------------------------


@pytest.mark.parametrize("url", [SETTINGS, LEAVE, DELETE])
def test_outsiders_get_404_and_change_nothing(url, outsider_client, org, owner):
    for method in (outsider_client.get, outsider_client.post):
        assert method(url, {"name": "Hijacked", "confirm": "Acme"}).status_code == 404
    org.refresh_from_db()
    assert org.name == "Acme"
    assert Membership.objects.for_org(org).filter(user=owner).exists()
