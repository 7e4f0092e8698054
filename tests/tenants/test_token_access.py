"""API tokens at the door of organisation APIs (tenants/access.py, ``@org_view(tokens=True)``):
each token kind and scope on reads and writes, another organisation's token, revoked
tokens, a removed member's personal token; and personal tokens on the account page."""

import re

import pytest
from django.test import Client

from tenants import actions
from tenants.api_tokens import PERSONAL_TOKEN
from tenants.models import ApiToken, Membership, PersonalToken, TokenScope
from tenants.secret_tokens import hash_secret
from tests.tenants.test_keys import _all_text_in_database
from tests.tokens import auth, org_token, personal_token

READ, WRITE = TokenScope.READ, TokenScope.WRITE
CHANNEL = {"name": "Ops", "kind": "email", "addresses": ["ops@example.com"]}


def read(client, org, raw):
    """A read of the query API and one of the alerts API; both statuses."""
    return (client.get(f"/o/{org.slug}/api/apps", **auth(raw)).status_code,
            client.get(f"/o/{org.slug}/api/alerts/channels", **auth(raw)).status_code)


def write(client, org, raw):
    return client.post(f"/o/{org.slug}/api/alerts/channels", CHANNEL, content_type="application/json", **auth(raw))


@pytest.fixture
def tokens(org, owner, viewer):
    """(kind, scope, who) -> raw token; personal ones of the owner and of a viewer."""
    return {
        ("org", READ, None): org_token(org, READ, owner),
        ("org", WRITE, None): org_token(org, WRITE, owner),
        ("personal", READ, "owner"): personal_token(owner, READ),
        ("personal", WRITE, "owner"): personal_token(owner, WRITE),
        ("personal", READ, "viewer"): personal_token(viewer, READ),
        ("personal", WRITE, "viewer"): personal_token(viewer, WRITE),
    }


def test_every_token_kind_and_scope_reads(client, org, tokens):
    for key, raw in tokens.items():
        assert read(client, org, raw) == (200, 200), key


@pytest.mark.parametrize(
    "key, status",
    [
        (("org", READ, None), 403),  # scope
        (("personal", READ, "owner"), 403),  # scope, whatever the role
        (("personal", WRITE, "viewer"), 403),  # role, whatever the scope
        (("org", WRITE, None), 201),
        (("personal", WRITE, "owner"), 201),
    ],
)
def test_writes_need_write_scope_and_an_admins_role(client, org, tokens, key, status):
    response = write(client, org, tokens[key])
    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden"
        assert not client.get(f"/o/{org.slug}/api/alerts/channels", **auth(tokens[key])).json()["channels"]


def test_a_read_token_cannot_write_through_the_query_api_either(client, org, tokens):
    assert client.post(f"/o/{org.slug}/api/apps", **auth(tokens[("org", READ, None)])).status_code == 403
    # A write token passes the door; the query API itself only reads.
    assert client.post(f"/o/{org.slug}/api/apps", **auth(tokens[("org", WRITE, None)])).status_code == 405


def test_another_organisations_token_gets_404_like_a_non_member(client, org, app, outsider_org, outsider):
    for raw in (org_token(outsider_org, WRITE, outsider), personal_token(outsider, WRITE)):
        assert read(client, org, raw) == (404, 404)
        assert client.get(f"/o/{org.slug}/api/apps/{app.id}/timeseries", **auth(raw)).status_code == 404
        assert write(client, org, raw).status_code == 404
        assert read(client, outsider_org, raw) == (200, 200)  # and it works at home


def test_revoked_and_unknown_tokens_get_401(client, org, owner, tokens):
    org_raw, personal_raw = tokens[("org", READ, None)], tokens[("personal", READ, "owner")]
    actions.revoke_api_token(org, ApiToken.objects.for_org(org).get(label="test read").pk, owner)
    actions.revoke_personal_token(owner, PersonalToken.objects.get(user=owner, label="test read").pk)
    for raw in (org_raw, personal_raw, PERSONAL_TOKEN.generate(), "pulse_at_short"):
        response = client.get(f"/o/{org.slug}/api/apps", **auth(raw))
        assert response.status_code == 401, raw
        assert response.json()["error"]["code"] == "unauthorized"
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert read(client, org, tokens[("org", WRITE, None)]) == (200, 200)


def test_a_removed_members_personal_token_stops_at_once(client, org, owner, member):
    raw = personal_token(member, READ)
    assert read(client, org, raw) == (200, 200)
    memberships = Membership.objects.for_org(org)
    actions.remove_member(memberships.get(user=owner), memberships.get(user=member).pk)
    assert read(client, org, raw) == (404, 404)


def test_a_personal_token_follows_its_users_role(client, org, owner, member):
    raw = personal_token(member, WRITE)
    assert write(client, org, raw).status_code == 403  # members do not edit alerts
    Membership.objects.for_org(org).filter(user=member).update(role="admin")
    assert write(client, org, raw).status_code == 201


def test_a_deactivated_users_tokens_are_refused(client, org, owner):
    raw = personal_token(owner, READ)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert client.get(f"/o/{org.slug}/api/apps", **auth(raw)).status_code == 401


def test_personal_tokens_respect_organisations_requiring_sso_or_two_factor(client, org, owner):
    raw = personal_token(owner, READ)
    org.require_two_factor = True
    org.save()
    refused = client.get(f"/o/{org.slug}/api/apps", **auth(raw))
    assert refused.status_code == 403 and "two-factor" in refused.json()["error"]["message"]
    org.require_two_factor, org.sso_required = False, True
    org.save()
    refused = client.get(f"/o/{org.slug}/api/apps", **auth(raw))
    assert refused.status_code == 403 and "single sign-on" in refused.json()["error"]["message"]
    assert client.get(f"/o/{org.slug}/api/apps", **auth(org_token(org, READ))).status_code == 200


def test_sessions_still_work_and_a_token_marks_its_last_use(owner_client, client, org, owner):
    assert owner_client.get(f"/o/{org.slug}/api/alerts/channels").status_code == 200
    raw = personal_token(owner, READ)
    client.get(f"/o/{org.slug}/api/apps", **auth(raw))
    assert PersonalToken.objects.get(user=owner).last_used_at is not None


# --- personal tokens on the account page -------------------------------------------------

TOKEN_RE = re.compile(r"pulse_pt_[A-Za-z0-9]{40}")


def test_a_personal_token_is_shown_once_stored_hashed_listed_and_revoked(owner_client, owner, org, client):
    response = owner_client.post("/account/tokens/", {"label": "laptop <b>", "scope": "write"})
    assert response.status_code == 200
    raw = TOKEN_RE.search(response.content.decode()).group(0)
    token = PersonalToken.objects.get(user=owner)
    assert (token.token_hash, token.scope, token.prefix) == (hash_secret(raw), "write", raw[: PERSONAL_TOKEN.shown_length])
    assert raw[PERSONAL_TOKEN.shown_length:] not in _all_text_in_database()

    listing = owner_client.get("/account/").content.decode()
    assert raw not in listing and token.prefix in listing
    assert "laptop &lt;b&gt;" in listing and "laptop <b>" not in listing
    assert read(client, org, raw) == (200, 200)

    assert owner_client.post(f"/account/tokens/{token.id}/revoke").status_code == 302
    assert read(client, org, raw)[0] == 401
    assert "revoked" in owner_client.get("/account/").content.decode()


def test_bad_token_input_is_named_and_creates_nothing(owner_client, owner):
    page = owner_client.post("/account/tokens/", {"label": " ", "scope": "admin"})
    assert page.status_code == 400
    html = page.content.decode()
    assert "This field is required." in html and "Select a valid choice" in html
    assert not PersonalToken.objects.filter(user=owner).exists()


def test_nobody_revokes_anothers_personal_token(owner_client, outsider):
    theirs = actions.create_personal_token(outsider, "theirs", READ).token
    assert owner_client.post(f"/account/tokens/{theirs.id}/revoke").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


# --- deployments ----------------------------------------------------------------------------


def test_deployments_take_a_write_token_and_refuse_a_read_token(client, org, app):
    body = {"app": app.name, "version": "1.2.3"}
    ok = client.post("/api/v1/deployments", body, content_type="application/json", **auth(org_token(org, WRITE)))
    assert ok.status_code == 201 and ok.json()["app_id"] == str(app.id)
    refused = client.post("/api/v1/deployments", body, content_type="application/json", **auth(org_token(org, READ)))
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "Authorization"
    unknown = client.post("/api/v1/deployments", body, content_type="application/json",
                          **auth("pulse_at_" + "x" * 40))
    assert unknown.status_code == 401


def test_only_token_requests_skip_the_csrf_check(org, owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    url = f"/o/{org.slug}/api/alerts/channels"
    forged = browser.post(url, CHANNEL, content_type="application/json")
    assert forged.status_code == 403 and b"CSRF" in forged.content
    script = Client(enforce_csrf_checks=True)
    assert script.post(url, CHANNEL, content_type="application/json", **auth(org_token(org, WRITE))).status_code == 201
