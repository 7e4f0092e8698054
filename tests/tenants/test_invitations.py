import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from tenants import actions
from tenants.models import Invitation, Membership, User
from tenants.roles import Role
from tests.conftest import PASSWORD


def _invite(client, email="dana@example.com", role="member"):
    return client.post("/o/acme/settings/members/", {"email": email, "role": role})


def _link(message):
    match = re.search(r"http://127\.0\.0\.1:8000(/invitations/[^\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_it_emails_an_invitation_and_stores_only_a_hash(owner_client, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(owner_client, email="Dana@Example.com", role="admin")
    assert response.status_code == 302
    assert mail.outbox[0].to == ["dana@example.com"]
    assert "Acme" in mail.outbox[0].subject
    token = _link(mail.outbox[0]).split("/")[2]
    invitation = Invitation.objects.for_org(org).get()
    assert invitation.role == Role.ADMIN
    assert token not in invitation.token_hash
    assert Invitation.objects.unscoped().filter(token_hash=token).count() == 0
    page = owner_client.get("/o/acme/settings/members/").content.decode()
    assert "dana@example.com" in page and "Pending invitations" in page


def test_a_new_user_signs_up_through_the_link_and_joins(owner, org):
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.VIEWER)
    client = Client()
    page = client.get(f"/invitations/{sent.token}/")
    assert "Join Acme" in page.content.decode()
    response = client.post(f"/invitations/{sent.token}/", {"email": "dana@example.com", "password": PASSWORD})
    assert response["Location"] == "/o/acme/"
    dana = User.objects.get(email="dana@example.com")
    assert Membership.objects.for_org(org).get(user=dana).role == Role.VIEWER
    assert client.get("/o/acme/settings/apps/").status_code == 200


def test_an_existing_user_logs_in_and_accepts(owner, org, outsider):
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), outsider.email, Role.MEMBER)
    client = Client()
    page = client.get(f"/invitations/{sent.token}/").content.decode()
    assert "/login/?next=/invitations/" in page
    client.post(f"/login/?next=/invitations/{sent.token}/", {"email": outsider.email, "password": PASSWORD})
    assert "Join Acme" in client.get(f"/invitations/{sent.token}/").content.decode()
    response = client.post(f"/invitations/{sent.token}/")
    assert response["Location"] == "/o/acme/"
    assert Membership.objects.for_org(org).get(user=outsider).role == Role.MEMBER


def test_the_link_works_once(owner, org):
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.MEMBER)
    Client().post(f"/invitations/{sent.token}/", {"email": "dana@example.com", "password": PASSWORD})
    dana = User.objects.get(email="dana@example.com")
    Membership.objects.for_org(org).filter(user=dana).delete()
    again = Client()
    again.force_login(dana)
    assert again.get(f"/invitations/{sent.token}/").status_code == 404
    again.post(f"/invitations/{sent.token}/")
    assert not Membership.objects.for_org(org).filter(user=dana).exists()


def test_an_expired_link_is_refused(owner, org, outsider):
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.MEMBER)
    Invitation.objects.for_org(org).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = Client()
    page = client.get(f"/invitations/{sent.token}/")
    assert page.status_code == 404
    assert "invalid, has expired or was already used" in page.content.decode()
    client.post(f"/invitations/{sent.token}/", {"email": "dana@example.com", "password": PASSWORD})
    assert not User.objects.filter(email="dana@example.com").exists()


def test_an_unknown_token_is_refused(client, db):
    assert client.get("/invitations/not-a-real-token/").status_code == 404


def test_signing_up_through_an_invitation_refuses_existing_accounts_and_weak_passwords(owner, org, outsider):
    actor = Membership.objects.for_org(org).get(user=owner)
    taken = actions.invite(actor, outsider.email.upper(), Role.MEMBER)
    dup = Client().post(f"/invitations/{taken.token}/", {"password": PASSWORD})
    assert "already exists. Log in instead." in dup.content.decode()
    sent = actions.invite(actor, "dana@example.com", Role.MEMBER)
    weak = Client().post(f"/invitations/{sent.token}/", {"password": "123"})
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    assert not Invitation.objects.for_org(org).filter(accepted_at__isnull=False).exists()
    assert not Membership.objects.for_org(org).filter(user=outsider).exists()


def test_signing_up_through_an_invitation_keeps_the_invited_address(owner, org):
    # Whoever holds the link gets an account for the invited address, not one of their choosing.
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.MEMBER)
    client = Client()
    response = client.post(f"/invitations/{sent.token}/", {"email": "mallory@example.com", "password": PASSWORD})
    assert response["Location"] == "/o/acme/"
    assert not User.objects.filter(email="mallory@example.com").exists()
    assert Membership.objects.for_org(org).filter(user__email="dana@example.com").exists()


def test_a_user_logged_in_with_another_address_is_refused(owner, org, outsider):
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.ADMIN)
    client = Client()
    client.force_login(outsider)
    for response in (client.get(f"/invitations/{sent.token}/"), client.post(f"/invitations/{sent.token}/")):
        assert response.status_code == 403
        text = response.content.decode()
        assert "This invitation is for another account" in text
        assert "is for <strong>dana@example.com</strong>" in text
        assert "logged in as <strong>charlie@example.com</strong>" in text
        assert "Log out and accept" in text and "ask" in text and "for a new invitation" in text
    assert not Membership.objects.for_org(org).filter(user=outsider).exists()
    assert Invitation.objects.for_org(org).get().accepted_at is None  # still usable by dana


def test_log_out_and_accept_returns_to_the_link(owner, org, outsider):
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.MEMBER)
    client = Client()
    client.force_login(outsider)
    response = client.post("/logout/", {"next": f"/invitations/{sent.token}/"})
    assert response["Location"] == f"/invitations/{sent.token}/"
    page = client.get(response["Location"]).content.decode()
    assert "Create your account" in page and 'value="dana@example.com"' in page


def test_the_address_matches_whatever_its_case(owner, org, outsider):
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "CHARLIE@Example.com", Role.MEMBER)
    client = Client()
    client.force_login(outsider)
    assert client.post(f"/invitations/{sent.token}/")["Location"] == "/o/acme/"
    assert Membership.objects.for_org(org).filter(user=outsider).exists()


def test_the_action_refuses_another_account_too(owner, org, outsider):
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.MEMBER)
    with pytest.raises(actions.ActionError, match="This invitation is for dana@example.com"):
        actions.accept_invitation(sent.token, outsider)
    assert not Membership.objects.for_org(org).filter(user=outsider).exists()


def test_inviting_a_member_again_is_refused(owner_client, member):
    response = _invite(owner_client, email="BOB@example.com")
    assert "already a member" in response.content.decode()


def test_a_new_invitation_replaces_the_pending_one(owner, org):
    actor = Membership.objects.for_org(org).get(user=owner)
    first = actions.invite(actor, "dana@example.com", Role.MEMBER)
    actions.invite(actor, "dana@example.com", Role.ADMIN)
    assert Invitation.objects.for_org(org).count() == 1
    assert actions.find_invitation(first.token) is None


def test_members_and_viewers_cannot_invite(member_client, viewer_client, org):
    for client in (member_client, viewer_client):
        assert _invite(client).status_code == 403
    assert not Invitation.objects.for_org(org).exists()


def test_only_owners_invite_owners(admin_client, org):
    response = _invite(admin_client, role="owner")
    assert "Only owners can grant the owner role." in response.content.decode()
    assert not Invitation.objects.for_org(org).exists()


def test_admins_cancel_pending_invitations(owner, org, admin_client):
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.MEMBER)
    response = admin_client.post(f"/o/acme/settings/invitations/{sent.invitation.id}/revoke/")
    assert response.status_code == 302
    assert actions.find_invitation(sent.token) is None


def test_the_org_name_is_mailed_quoted_as_the_members_own_words(owner_client, org, django_capture_on_commit_callbacks):
    org.name = "Acme\r\n\r\nURGENT: your account is locked, call 555-0100"
    org.save()
    with django_capture_on_commit_callbacks(execute=True):
        _invite(owner_client)
    [message] = mail.outbox
    assert "\n" not in message.subject and message.subject.startswith("Invitation to \u201cAcme URGENT")
    assert "the organisation \u201cAcme URGENT: your account is locked, call 555-0100\u201d on Pulse" in message.body
    assert "chosen by its members, not by Pulse" in message.body
    assert "\n\nURGENT" not in message.body
