"""The audit log: the entries each action writes (who, what, target, from where), the page
and the JSON export for admins, members and outsiders, and retention."""

import datetime as dt
import json
import re

import pyotp
import pytest
from django.test import AsyncClient, Client
from django.utils import timezone

from alerts.models import SLO, Condition, NotificationChannel
from apm.tasks import enforce_retention
from tenants import actions, audit, two_factor
from tenants.models import AuditEntry, Invitation, Membership, Organization
from tenants.roles import Role
from tests.alerts.test_views import condition_post
from tests.conftest import PASSWORD, client_for, make_org
from tests.live.threads import run_async

ADDRESS = "198.51.100.23"


def _entries(org, action=None):
    entries = AuditEntry.objects.for_org(org).order_by("created_at", "id")
    return list(entries.filter(action=action) if action else entries)


def _only(org, action):
    entries = _entries(org, action)
    assert len(entries) == 1, [(e.action, e.target) for e in _entries(org)]
    return entries[0]


def _client(user):
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(user)
    return client


# --- sign-ins ---------------------------------------------------------------


def test_a_sign_in_is_written_to_each_organisation_of_the_user(owner, org, outsider_org):
    second = make_org("Beta", "beta", owner)
    Client(REMOTE_ADDR=ADDRESS).post("/login/", {"email": owner.email, "password": PASSWORD})
    for each in (org, second):
        entry = _only(each, audit.Action.LOGIN_SUCCEEDED)
        assert (entry.actor, entry.target, entry.address, entry.details) == (
            owner, owner.email, ADDRESS, {"method": "password"}
        )
    assert _entries(outsider_org) == []


def test_failed_sign_ins_are_written_but_not_throttled_ones_or_unknown_addresses(owner, org, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = Client(REMOTE_ADDR=ADDRESS)
    for _ in range(4):
        client.post("/login/", {"email": owner.email, "password": "wrong"})
    client.post("/login/", {"email": "nobody@example.com", "password": "wrong"})
    failed = _entries(org, audit.Action.LOGIN_FAILED)
    assert [(e.actor, e.details, e.address) for e in failed] == [(owner, {"step": "password"}, ADDRESS)] * 2
    assert AuditEntry.objects.unscoped().count() == 2


def test_a_wrong_second_factor_code_is_written_as_a_failed_sign_in(owner, org):
    client = _client(owner)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', client.get("/account/").content.decode()).group(1)
    totp = pyotp.TOTP(secret)
    client.post("/account/", {"code": totp.now(), "password": PASSWORD})
    assert _only(org, audit.Action.TWO_FACTOR_ENROLLED).actor == owner
    login = Client(REMOTE_ADDR=ADDRESS)
    login.post("/login/", {"email": owner.email, "password": PASSWORD})
    login.post("/login/code/", {"code": "nope-nope"})
    assert _only(org, audit.Action.LOGIN_FAILED).details == {"step": "code"}


# --- members, invitations, keys, the organisation ---------------------------


def test_role_changes_and_removals_are_written(org, owner, member, viewer):
    client = _client(owner)
    membership = Membership.objects.for_org(org).get(user=member)
    client.post(f"/o/acme/settings/members/{membership.id}/role/", {"role": "admin"})
    entry = _only(org, audit.Action.ROLE_CHANGED)
    assert (entry.actor, entry.target, entry.details, entry.address) == (
        owner, member.email, {"from": "member", "to": "admin"}, ADDRESS
    )
    gone = Membership.objects.for_org(org).get(user=viewer)
    client.post(f"/o/acme/settings/members/{gone.id}/remove/")
    entry = _only(org, audit.Action.MEMBER_REMOVED)
    assert (entry.actor, entry.target, entry.details) == (owner, viewer.email, {"role": "viewer"})


def test_invitations_sent_cancelled_and_accepted_are_written(org, owner):
    client = _client(owner)
    client.post("/o/acme/settings/members/", {"email": "new@example.com", "role": "member"})
    assert _only(org, audit.Action.INVITATION_SENT).target == "new@example.com"
    invitation = Invitation.objects.for_org(org).get()
    client.post(f"/o/acme/settings/invitations/{invitation.id}/revoke/")
    assert _only(org, audit.Action.INVITATION_REVOKED).target == "new@example.com"

    owner_membership = Membership.objects.for_org(org).get(user=owner)
    sent = actions.invite(owner_membership, "second@example.com", Role.VIEWER)
    invited = actions.create_user("second@example.com", PASSWORD)
    actions.accept_invitation(sent.token, invited)
    entry = _only(org, audit.Action.INVITATION_ACCEPTED)
    assert (entry.actor, entry.details) == (invited, {"role": "viewer"})


def test_keys_created_and_revoked_are_written(org, owner):
    client = _client(owner)
    client.post("/o/acme/settings/keys/", {"label": "prod"})
    created = _only(org, audit.Action.KEY_CREATED)
    assert created.actor == owner and created.target.startswith("prod (")
    key_id = org.ingest_keys.get().id
    client.post(f"/o/acme/settings/keys/{key_id}/revoke/")
    assert _only(org, audit.Action.KEY_REVOKED).target == created.target


def test_api_tokens_created_and_revoked_are_written(org, owner):
    client = _client(owner)
    client.post("/o/acme/settings/tokens/", {"label": "prometheus", "scope": "read"})
    created = _only(org, audit.Action.TOKEN_CREATED)
    assert created.actor == owner and created.target.startswith("prometheus (") and created.details == {"scope": "read"}
    token_id = org.api_tokens.get().id
    client.post(f"/o/acme/settings/tokens/{token_id}/revoke/")
    assert _only(org, audit.Action.TOKEN_REVOKED).target == created.target


def test_organisation_settings_are_written(org, owner):
    secret = pyotp.random_base32()
    two_factor.enrol(owner, PASSWORD, secret, pyotp.TOTP(secret).now())
    client = _client(owner)
    client.post("/o/acme/settings/organization/", {"name": "Acme Corp"})
    assert _only(org, audit.Action.ORGANIZATION_RENAMED).details == {"from": "Acme"}
    client.post("/o/acme/settings/organization/two-factor/", {"require_two_factor": "on"})
    assert _only(org, audit.Action.TWO_FACTOR_REQUIRED).actor == owner
    client.post("/o/acme/settings/organization/two-factor/", {})
    assert _only(org, audit.Action.TWO_FACTOR_OPTIONAL).actor == owner


def test_apps_created_changed_and_deleted_are_written(org, owner):
    client = _client(owner)
    client.post("/o/acme/settings/apps/", {"name": "Shop", "apdex_t": "0.5"})
    app_id = org.apps.get().id
    client.post(f"/o/acme/settings/apps/{app_id}/", {"name": "Shop", "apdex_t": "0.8"})
    client.post(f"/o/acme/settings/apps/{app_id}/delete/", {"confirm": "Shop"})
    written = [(e.action, e.target, e.actor, e.details) for e in _entries(org)]
    assert written == [
        ("app.created", "Shop", owner, {"apdex_t": 0.5}),
        ("app.changed", "Shop", owner, {"apdex_t": {"from": 0.5, "to": 0.8}}),
        ("app.deleted", "Shop", owner, {}),
    ]


def test_an_action_that_fails_writes_nothing(org, owner):
    owner_membership = Membership.objects.for_org(org).get(user=owner)
    with pytest.raises(actions.ActionError):
        actions.change_role(owner_membership, owner_membership.pk, Role.MEMBER)  # the last owner
    assert _entries(org) == []


# --- alerting definitions ---------------------------------------------------


def test_channels_conditions_and_slos_created_changed_and_deleted_are_written(org, app, admin):
    client = _client(admin)
    base = "/o/acme/alerts/"
    client.post(base + "channels/new", {"name": "On call", "kind": "email", "addresses": "oncall@example.com"})
    channel = NotificationChannel.objects.for_org(org).get()
    client.post(base + f"channels/{channel.id}/", {"name": "Pager", "kind": "email", "addresses": "oncall@example.com"})
    client.post(base + f"channels/{channel.id}/delete")

    client.post(base + "conditions/new", condition_post(app))
    condition = Condition.objects.for_org(org).get()
    client.post(base + f"conditions/{condition.id}/", condition_post(app, warning_threshold="400"))
    client.post(base + f"conditions/{condition.id}/delete")

    slo = {"app": str(app.id), "name": "Fast", "indicator": "latency", "latency_threshold_ms": "200",
           "objective": "99", "period_days": "7"}
    client.post(base + "slos/new", slo)
    slo_id = SLO.objects.for_org(org).get().id
    client.post(base + f"slos/{slo_id}/edit", {**slo, "objective": "99.5"})
    client.post(base + f"slos/{slo_id}/delete")

    written = [(e.action, e.target, e.actor, e.address) for e in _entries(org)]
    assert written == [
        ("channel.created", "On call", admin, ADDRESS),
        ("channel.changed", "Pager", admin, ADDRESS),
        ("channel.deleted", "Pager", admin, ADDRESS),
        ("condition.created", "Checkout p95", admin, ADDRESS),
        ("condition.changed", "Checkout p95", admin, ADDRESS),
        ("condition.deleted", "Checkout p95", admin, ADDRESS),
        ("slo.created", "Fast", admin, ADDRESS),
        ("slo.changed", "Fast", admin, ADDRESS),
        ("slo.deleted", "Fast", admin, ADDRESS),
    ]
    changed = _only(org, audit.Action.CONDITION_CHANGED)
    assert changed.details == {"id": str(condition.id), "fields": ["warning_threshold"]}
    # Field names only, never a channel's addresses or secrets.
    assert "oncall@example.com" not in json.dumps([e.details for e in _entries(org)])


# --- the page and the export ------------------------------------------------


@pytest.fixture
def logged(org, owner, outsider_org, outsider):
    audit.record(org, owner, audit.Action.KEY_CREATED, "<script>alert(1)</script>", {"app": "<b>x</b>"})
    audit.record(org, owner, audit.Action.ORGANIZATION_RENAMED, "Acme 2")
    audit.record(outsider_org, outsider, audit.Action.KEY_CREATED, "other org's key")


def test_admins_read_the_log_escaped(logged, admin_client):
    page = admin_client.get("/o/acme/settings/audit/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert(1)" not in body
    assert "&lt;b&gt;x&lt;/b&gt;" in body
    assert "Ingest key created" in body and "Organisation renamed" in body
    assert "other org&#x27;s key" not in body


def test_the_log_filters_by_action_and_actor(logged, org, admin, owner_client):
    audit.record(org, admin, audit.Action.ORGANIZATION_RENAMED, "By the admin")
    page = owner_client.get("/o/acme/settings/audit/", {"action": "organization.renamed", "actor": "ADAM@example.com"})
    body = page.content.decode()
    assert "By the admin" in body and "Acme 2" not in body and "alert(1)" not in body
    bad = owner_client.get("/o/acme/settings/audit/", {"action": "drop table"})
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()


def test_the_log_is_paginated(org, owner, owner_client):
    for i in range(55):
        audit.record(org, owner, audit.Action.ORGANIZATION_RENAMED, f"name {i:02d}")
    first = owner_client.get("/o/acme/settings/audit/").content.decode()
    assert "name 54" in first and "name 04" not in first and "Page 1 of 2" in first
    second = owner_client.get("/o/acme/settings/audit/", {"page": "2"}).content.decode()
    assert "name 04" in second and "name 54" not in second


# The sync test client gathers the export's asynchronous stream (served as a stream over ASGI).
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_the_export_streams_the_organisations_entries_as_json(logged, admin_client):
    response = admin_client.get("/o/acme/settings/audit/export.json")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/json"
    assert 'filename="pulse-audit-acme.json"' in response["Content-Disposition"]
    entries = json.loads(b"".join(response))
    assert [(e["action"], e["target"]) for e in entries] == [
        ("organization.renamed", "Acme 2"),
        ("key.created", "<script>alert(1)</script>"),
    ]
    assert entries[1]["actor"] == "alice@example.com" and entries[1]["details"] == {"app": "<b>x</b>"}
    filtered = admin_client.get("/o/acme/settings/audit/export.json", {"action": "key.created"})
    assert [e["action"] for e in json.loads(b"".join(filtered))] == ["key.created"]
    bad = admin_client.get("/o/acme/settings/audit/export.json", {"actor": "not an address"})
    assert bad.status_code == 400 and "actor" in bad.json()["fields"]


@pytest.mark.django_db(transaction=True)
def test_the_export_is_sent_in_chunks_over_asgi(org, owner, admin, settings):
    for i in range(1200):
        audit.record(org, owner, audit.Action.ORGANIZATION_RENAMED, f"name {i}")

    async def export():
        client = AsyncClient()
        await client.aforce_login(admin)
        response = await client.get("/o/acme/settings/audit/export.json")
        return response.status_code, [part async for part in response.streaming_content]

    status, parts = run_async(export)
    assert status == 200
    assert len(parts) >= 4  # "[", three chunks of entries, "]"
    entries = json.loads(b"".join(parts))
    assert [e["target"] for e in entries] == [f"name {i}" for i in reversed(range(1200))]


@pytest.mark.parametrize("path", ["/o/acme/settings/audit/", "/o/acme/settings/audit/export.json"])
@pytest.mark.parametrize("persona", ["member", "viewer"])
def test_members_and_viewers_are_refused_the_log(request, logged, path, persona):
    assert client_for(request.getfixturevalue(persona)).get(path).status_code == 403


@pytest.mark.parametrize("path", ["/o/acme/settings/audit/", "/o/acme/settings/audit/export.json"])
def test_outsiders_get_404_for_the_log(logged, path, outsider_client):
    assert outsider_client.get(path).status_code == 404


def test_retention_deletes_old_entries_with_the_other_tables(org, owner, settings):
    settings.RETENTION_AUDIT_DAYS = 30
    for age in (0, 29, 31, 400):
        entry = audit.record(org, owner, audit.Action.ORGANIZATION_RENAMED, f"{age} days ago")
        AuditEntry.objects.for_org(org).filter(pk=entry.pk).update(created_at=timezone.now() - dt.timedelta(days=age))
    assert enforce_retention()["tenants_auditentry"] == 2
    assert sorted(e.target for e in _entries(org)) == ["0 days ago", "29 days ago"]


def test_an_entry_keeps_its_actor_after_the_account_is_gone(org, owner, admin):
    audit.record(org, admin, audit.Action.ORGANIZATION_RENAMED, "x")
    admin.delete()
    entry = _only(org, audit.Action.ORGANIZATION_RENAMED)
    assert (entry.actor, entry.actor_email) == (None, "adam@example.com")
    assert Organization.objects.filter(pk=org.pk).exists()


def test_details_read_as_one_line(org, owner, owner_client):
    audit.record(org, owner, audit.Action.CONDITION_CHANGED, "p95", {"fields": ["name", "<i>x</i>"], "app": None})
    body = owner_client.get("/o/acme/settings/audit/").content.decode()
    assert "fields: name, &lt;i&gt;x&lt;/i&gt;" in body and "app:" not in body
