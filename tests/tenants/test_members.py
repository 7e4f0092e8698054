import pytest

from tenants import actions
from tenants.models import Invitation, Membership
from tenants.roles import Role


def _membership(org, user):
    return Membership.objects.for_org(org).get(user=user)


def _change(client, org, user, role):
    return client.post(f"/o/acme/settings/members/{_membership(org, user).id}/role/", {"role": role}, follow=True)


def _remove(client, org, user):
    return client.post(f"/o/acme/settings/members/{_membership(org, user).id}/remove/", follow=True)


def test_the_members_page_lists_everyone_for_every_role(viewer_client, owner, admin, member, viewer):
    page = viewer_client.get("/o/acme/settings/members/").content.decode()
    for user in (owner, admin, member, viewer):
        assert user.email in page
    assert "Invite a teammate" not in page


def test_owners_change_roles(owner_client, org, member):
    _change(owner_client, org, member, "admin")
    assert _membership(org, member).role == Role.ADMIN


def test_admins_manage_members_but_not_owners(admin_client, org, owner, member):
    _change(admin_client, org, member, "viewer")
    assert _membership(org, member).role == Role.VIEWER
    page = _change(admin_client, org, member, "owner").content.decode()
    assert "Only owners can grant the owner role." in page
    page = _change(admin_client, org, owner, "viewer").content.decode()
    assert "Only owners can change an owner&#x27;s role." in page
    assert _membership(org, owner).role == Role.OWNER
    _remove(admin_client, org, owner)
    assert _membership(org, owner).role == Role.OWNER


@pytest.mark.parametrize("persona", ["member_client", "viewer_client"])
def test_members_and_viewers_cannot_change_roles_or_remove(request, persona, org, admin):
    client = request.getfixturevalue(persona)
    membership = _membership(org, admin)
    assert client.post(f"/o/acme/settings/members/{membership.id}/role/", {"role": "viewer"}).status_code == 403
    assert client.post(f"/o/acme/settings/members/{membership.id}/remove/").status_code == 403
    assert _membership(org, admin).role == Role.ADMIN


def test_the_last_owner_cannot_be_demoted_or_removed(owner_client, org, owner):
    page = _change(owner_client, org, owner, "admin").content.decode()
    assert "An organisation needs at least one owner" in page
    page = _remove(owner_client, org, owner).content.decode()
    assert "An organisation needs at least one owner" in page
    assert _membership(org, owner).role == Role.OWNER


def test_an_owner_can_step_down_once_there_is_another(owner_client, org, owner, admin):
    _change(owner_client, org, admin, "owner")
    _change(owner_client, org, owner, "member")
    assert _membership(org, owner).role == Role.MEMBER
    assert _membership(org, admin).role == Role.OWNER


def test_owners_remove_members(owner_client, org, member):
    _remove(owner_client, org, member)
    assert not Membership.objects.for_org(org).filter(user=member).exists()
    # The removed member can no longer see the organisation.
    from tests.conftest import client_for

    assert client_for(member).get("/o/acme/").status_code == 404


def test_members_cannot_use_the_remove_route_even_on_themselves(member_client, org, member):
    # Removing is admin work; members leave through settings/organization/leave/ (test_org_settings).
    response = member_client.post(f"/o/acme/settings/members/{_membership(org, member).id}/remove/")
    assert response.status_code == 403
    assert Membership.objects.for_org(org).filter(user=member).exists()


def test_an_admin_can_leave(admin_client, org, admin):
    response = admin_client.post(f"/o/acme/settings/members/{_membership(org, admin).id}/remove/")
    assert response["Location"] == "/"
    assert not Membership.objects.for_org(org).filter(user=admin).exists()


def test_a_bad_role_is_refused(owner_client, org, member):
    page = _change(owner_client, org, member, "emperor").content.decode()
    assert "Choose one of the roles." in page
    assert _membership(org, member).role == Role.MEMBER


def test_actions_refuse_memberships_of_another_org(org, owner, outsider, outsider_org):
    from tenants.models import Membership as M

    theirs = M.objects.for_org(outsider_org).get(user=outsider)
    with pytest.raises(M.DoesNotExist):
        actions.remove_member(_membership(org, owner), theirs.id)
    assert M.objects.for_org(outsider_org).filter(pk=theirs.pk).exists()


def _invitations_by(org, user):
    return Invitation.objects.for_org(org).filter(invited_by=user)


@pytest.mark.parametrize("how", ["removed", "left", "demoted"])
def test_an_admins_pending_invitations_end_with_their_admin_role(org, owner, admin, how):
    acting = Membership.objects.for_org(org).get(user=admin)
    sent = actions.invite(acting, "dana@example.com", Role.MEMBER)
    kept = actions.invite(Membership.objects.for_org(org).get(user=owner), "erin@example.com", Role.MEMBER)
    by_owner = Membership.objects.for_org(org).get(user=owner)
    if how == "removed":
        actions.remove_member(by_owner, acting.pk)
    elif how == "left":
        actions.leave_organization(acting)
    else:
        actions.change_role(by_owner, acting.pk, Role.MEMBER)
    assert actions.find_invitation(sent.token) is None
    assert not _invitations_by(org, admin).exists()
    assert actions.find_invitation(kept.token) is not None  # the others' invitations stay
