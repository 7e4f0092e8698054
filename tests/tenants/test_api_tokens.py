"""Organisation API tokens: created by owners and admins (shown once, stored hashed), listed
with their last use, revoked; members and viewers may not, outsiders get 404."""

import re

import pytest

from tenants import actions
from tenants.api_tokens import API_TOKEN, resolve_api_token
from tenants.models import ApiToken, TokenScope
from tenants.secret_tokens import bearer, hash_secret
from tests.tenants.test_keys import _all_text_in_database

TOKEN_RE = re.compile(r"pulse_at_[A-Za-z0-9]{40}")
PAGE = "/o/acme/settings/tokens/"


def _create(client, label="Prometheus prod", scope="read"):
    return client.post(PAGE, {"label": label, "scope": scope})


@pytest.mark.parametrize("persona", ["owner", "admin"])
def test_owners_and_admins_create_a_token_shown_once_and_stored_hashed(request, persona, org):
    user = request.getfixturevalue(persona)
    client = request.getfixturevalue(f"{persona}_client")
    response = _create(client)
    page = response.content.decode()
    assert response.status_code == 200
    raw = TOKEN_RE.search(page).group(0)
    assert "only time Pulse shows the full token" in page
    assert f"credentials: {raw}" in page and "metrics_path: /api/v1/metrics" in page
    assert "no-store" in response["Cache-Control"] or response["Cache-Control"].startswith("max-age=0")

    token = ApiToken.objects.for_org(org).get()
    assert (token.token_hash, token.scope, token.created_by) == (hash_secret(raw), TokenScope.READ, user)
    assert token.prefix == raw[: API_TOKEN.shown_length]
    assert raw[API_TOKEN.shown_length :] not in _all_text_in_database()

    listing = client.get(PAGE).content.decode()
    assert raw not in listing
    assert token.prefix in listing and "Prometheus prod" in listing and "never" in listing


def test_the_list_shows_scope_and_last_use(owner_client, org, owner):
    created = actions.create_api_token(org, "ci", TokenScope.WRITE, owner)
    resolve_api_token(created.raw)
    listing = owner_client.get(PAGE).content.decode()
    assert "read and write" in listing
    assert "ago" in listing and "never" not in listing


def test_bad_input_is_named_and_creates_nothing(owner_client, org):
    assert "This field is required." in _create(owner_client, label="  ").content.decode()
    assert "Select a valid choice" in _create(owner_client, scope="admin").content.decode()
    assert not ApiToken.objects.for_org(org).exists()


def test_labels_are_escaped_in_the_list(owner_client, org, owner):
    actions.create_api_token(org, "<script>alert(1)</script>", TokenScope.READ, owner)
    page = owner_client.get(PAGE).content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


@pytest.mark.parametrize("persona", ["member_client", "viewer_client"])
def test_members_and_viewers_see_the_list_but_cannot_create_or_revoke(request, persona, org, owner):
    created = actions.create_api_token(org, "scrape", TokenScope.READ, owner)
    client = request.getfixturevalue(persona)
    page = client.get(PAGE)
    assert page.status_code == 200 and created.token.prefix in page.content.decode()
    assert "Create token" not in page.content.decode()
    assert _create(client).status_code == 403
    assert client.post(f"{PAGE}{created.token.id}/revoke/").status_code == 403
    assert ApiToken.objects.for_org(org).count() == 1
    assert resolve_api_token(created.raw) is not None


def test_outsiders_get_404(outsider_client, org, owner):
    created = actions.create_api_token(org, "scrape", TokenScope.READ, owner)
    assert outsider_client.get(PAGE).status_code == 404
    assert outsider_client.post(f"{PAGE}{created.token.id}/revoke/").status_code == 404


def test_a_revoked_token_stops_resolving_at_once(owner_client, org, owner):
    created = actions.create_api_token(org, "scrape", TokenScope.READ, owner)
    assert resolve_api_token(created.raw).organization == org
    response = owner_client.post(f"{PAGE}{created.token.id}/revoke/")
    assert response["Location"] == PAGE
    assert resolve_api_token(created.raw) is None
    assert "revoked" in owner_client.get(PAGE).content.decode()


def test_tokens_of_another_org_cannot_be_revoked(owner_client, org, outsider, outsider_org):
    theirs = actions.create_api_token(outsider_org, "theirs", TokenScope.READ, outsider)
    assert owner_client.post(f"{PAGE}{theirs.token.id}/revoke/").status_code == 404
    assert resolve_api_token(theirs.raw) is not None


def test_resolve_refuses_junk_without_a_query(org, django_assert_num_queries):
    with django_assert_num_queries(0):
        for junk in ["", None, "pulse_at_short", "pulse_ik_" + "A" * 40, "pulse_at_" + "!" * 40]:
            assert resolve_api_token(junk) is None


def test_bearer_reads_only_bearer_headers():
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") is None
    assert bearer("Bearer ") is None
    assert bearer(None) is None


def test_scopes_write_includes_read(org, owner):
    read = resolve_api_token(actions.create_api_token(org, "r", TokenScope.READ, owner).raw)
    write = resolve_api_token(actions.create_api_token(org, "w", TokenScope.WRITE, owner).raw)
    assert read.allows(TokenScope.READ) and not read.allows(TokenScope.WRITE)
    assert write.allows(TokenScope.READ) and write.allows(TokenScope.WRITE)
