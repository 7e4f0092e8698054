"""Ingest keys, pending invitations and apps per organisation (tenants/limits.py): each refused
past its setting with a form error and a 409 naming it in JSON, and held when two requests
create at the same moment."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tenants import actions, limits
from tenants.models import App, IngestKey, Invitation, Membership
from tenants.roles import Role
from tests.concurrency import run_together
from tests.conftest import client_for

KEYS = "/o/acme/settings/keys/"
MEMBERS = "/o/acme/settings/members/"
APPS = "/o/acme/settings/apps/"


def _error(response):
    return json.loads(response.content)["error"]


@pytest.mark.django_db
def test_one_key_past_the_limit_is_a_form_error_and_revoked_keys_do_not_count(org, owner, owner_client, settings):
    settings.INGEST_KEYS_PER_ORG_LIMIT = 2
    first = actions.create_ingest_key(org, "one", owner)
    actions.create_ingest_key(org, "two", owner)
    response = owner_client.post(KEYS, {"label": "three"})
    assert response.status_code == 200
    assert "maximum of 2 active ingest keys (INGEST_KEYS_PER_ORG_LIMIT)" in response.content.decode()
    actions.revoke_ingest_key(org, first.key.id)
    response = owner_client.post(KEYS, {"label": "three"})
    assert response.status_code == 200 and "pulse_ik_" in response.content.decode()  # the new key, shown once
    assert IngestKey.objects.for_org(org).filter(revoked_at__isnull=True).count() == 2


@pytest.mark.django_db
def test_a_json_client_is_told_409_naming_the_key_limit(org, owner, owner_client, settings):
    settings.INGEST_KEYS_PER_ORG_LIMIT = 1
    actions.create_ingest_key(org, "one", owner)
    response = owner_client.post(KEYS, {"label": "two"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert _error(response) | {"message": ""} == {
        "code": "limit_reached", "limit": "ingest_keys", "setting": "INGEST_KEYS_PER_ORG_LIMIT", "most": 1,
        "message": "",
    }


@pytest.mark.django_db
def test_pending_invitations_past_the_limit_are_refused_and_expired_ones_do_not_count(org, owner_client, settings):
    settings.PENDING_INVITATIONS_PER_ORG_LIMIT = 2
    assert owner_client.post(MEMBERS, {"email": "a@example.com", "role": Role.MEMBER}).status_code == 302
    assert owner_client.post(MEMBERS, {"email": "b@example.com", "role": Role.MEMBER}).status_code == 302
    # Inviting an address again replaces its pending invitation: no room needed.
    assert owner_client.post(MEMBERS, {"email": "a@example.com", "role": Role.VIEWER}).status_code == 302
    response = owner_client.post(MEMBERS, {"email": "c@example.com", "role": Role.MEMBER})
    assert "maximum of 2 pending invitations (PENDING_INVITATIONS_PER_ORG_LIMIT)" in response.content.decode()
    response = owner_client.post(MEMBERS, {"email": "c@example.com", "role": Role.MEMBER},
                                 HTTP_ACCEPT="application/json")
    assert (response.status_code, _error(response)["limit"]) == (409, "pending_invitations")
    Invitation.objects.for_org(org).filter(email="b@example.com").update(expires_at=timezone.now() - timedelta(days=1))
    assert owner_client.post(MEMBERS, {"email": "c@example.com", "role": Role.MEMBER}).status_code == 302


@pytest.mark.django_db
def test_a_json_client_is_told_409_naming_the_app_limit(org, app, owner_client, settings):
    settings.APPS_PER_ORG_LIMIT = 1
    response = owner_client.post(APPS, {"name": "two", "apdex_t": "0.5"}, HTTP_ACCEPT="application/json")
    assert (response.status_code, _error(response)["limit"], _error(response)["most"]) == (409, "apps", 1)
    assert App.objects.for_org(org).count() == 1


@pytest.mark.django_db
def test_a_json_client_gets_the_page_for_refusals_that_are_not_limits(org, app, owner_client):
    response = owner_client.post(APPS, {"name": app.name, "apdex_t": "0.5"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and "There is already an app" in response.content.decode()


def test_every_limit_names_a_setting_that_exists(settings):
    for limit in limits.EVERY_LIMIT:
        assert limit.most == getattr(settings, limit.setting) >= 1


@pytest.mark.django_db(transaction=True)
def test_two_keys_created_at_once_cannot_both_take_the_last_place(org, owner, admin, settings):
    settings.INGEST_KEYS_PER_ORG_LIMIT = 1
    results = run_together(*[lambda c=client_for(u): c.post(KEYS, {"label": "k"}) for u in (owner, admin)])
    assert IngestKey.objects.for_org(org).count() == 1
    assert sum("INGEST_KEYS_PER_ORG_LIMIT" in r.content.decode() for r in results) == 1


@pytest.mark.django_db(transaction=True)
def test_two_invitations_sent_at_once_cannot_both_take_the_last_place(org, owner, admin, settings):
    settings.PENDING_INVITATIONS_PER_ORG_LIMIT = 1
    mine = Membership.objects.for_org(org).get(user=owner)
    theirs = Membership.objects.for_org(org).get(user=admin)
    results = run_together(
        lambda: actions.invite(mine, "x@example.com", Role.MEMBER),
        lambda: actions.invite(theirs, "y@example.com", Role.MEMBER),
    )
    assert sum(isinstance(r, limits.LimitReached) for r in results) == 1
    assert Invitation.objects.for_org(org).count() == 1
