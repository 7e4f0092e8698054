import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants import actions
from tenants.keys import KEY_PREFIX, clear_key_cache, hash_key, resolve_ingest_key
from tenants.models import IngestKey

KEY_RE = re.compile(r"pulse_ik_[A-Za-z0-9]{40}")


def _create(client, label="shop production", **extra):
    return client.post("/o/acme/settings/keys/", {"label": label, **extra})


def _all_text_in_database():
    """Every text value of every row of every table, to look for a leaked key."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                values.extend(str(v) for v in row if v is not None)
    return "\n".join(values)


def test_it_shows_a_new_key_once_and_stores_only_its_hash(owner_client, owner, org):
    response = _create(owner_client)
    page = response.content.decode()
    assert response.status_code == 200
    raw = KEY_RE.search(page).group(0)
    assert "only time Pulse shows the full key" in page
    assert f"PULSE_INGEST_KEY={raw}" in page
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]

    key = IngestKey.objects.for_org(org).get()
    assert key.key_hash == hash_key(raw)
    assert key.prefix == raw[: len(KEY_PREFIX) + 6]
    assert key.created_by == owner
    assert raw not in _all_text_in_database()
    assert raw[len(KEY_PREFIX) + 6:] not in _all_text_in_database()

    listing = owner_client.get("/o/acme/settings/keys/").content.decode()
    assert raw not in listing
    assert key.prefix in listing and "shop production" in listing and owner.email in listing


def test_a_key_is_never_logged_or_sent_to_the_database(owner_client, org, caplog):
    caplog.set_level("DEBUG")
    caplog.set_level("DEBUG", logger="django.db.backends")
    with CaptureQueriesContext(connection) as queries:  # also makes Django log every query
        page = _create(owner_client).content.decode()
        raw = KEY_RE.search(page).group(0)
        resolve_ingest_key(raw)
        owner_client.get("/o/acme/settings/keys/")
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    assert "INSERT INTO \"tenants_ingestkey\"" in sql and "tenants_ingestkey" in caplog.text
    secret_part = raw[len(KEY_PREFIX) + 6:]
    assert secret_part not in sql
    assert secret_part not in caplog.text


def test_the_key_page_fills_in_the_new_apps_name(owner_client, org, app):
    page = _create(owner_client, label="Shop", app=str(app.id)).content.decode()
    assert 'PULSE_APP_NAME="Shop (prod)"' in page


def test_a_label_is_required(owner_client, org):
    response = _create(owner_client, label="   ")
    assert "This field is required." in response.content.decode()
    assert not IngestKey.objects.for_org(org).exists()


@pytest.mark.parametrize("persona", ["member_client", "viewer_client"])
def test_members_and_viewers_cannot_create_or_revoke_keys(request, persona, org, owner):
    created = actions.create_ingest_key(org, "k", owner)
    client = request.getfixturevalue(persona)
    assert _create(client).status_code == 403
    assert client.post(f"/o/acme/settings/keys/{created.key.id}/revoke/").status_code == 403
    assert IngestKey.objects.for_org(org).count() == 1
    assert resolve_ingest_key(created.raw) is not None


def test_resolve_finds_the_org_and_records_last_use(org, owner):
    created = actions.create_ingest_key(org, "k", owner)
    resolved = resolve_ingest_key(created.raw)
    assert resolved.organization_id == org.id
    assert resolved.key_id == created.key.id
    created.key.refresh_from_db()
    assert created.key.last_used_at is not None


def test_resolve_answers_from_its_cache(org, owner, django_assert_num_queries):
    created = actions.create_ingest_key(org, "k", owner)
    resolve_ingest_key(created.raw)
    with django_assert_num_queries(0):
        assert resolve_ingest_key(created.raw).organization_id == org.id


def test_resolve_refuses_unknown_and_malformed_keys(org, owner, django_assert_num_queries):
    unknown = KEY_PREFIX + "A" * 40
    assert resolve_ingest_key(unknown) is None
    with django_assert_num_queries(0):  # unknown keys are cached too, and junk never reaches the DB
        assert resolve_ingest_key(unknown) is None
        for junk in ["", "pulse_ik_short", "x" * 49, None, KEY_PREFIX + "!" * 40]:
            assert resolve_ingest_key(junk) is None


def test_a_revoked_key_stops_resolving(owner_client, org, owner, django_capture_on_commit_callbacks):
    created = actions.create_ingest_key(org, "k", owner)
    assert resolve_ingest_key(created.raw) is not None
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/o/acme/settings/keys/{created.key.id}/revoke/")
    assert response["Location"] == "/o/acme/settings/keys/"
    created.key.refresh_from_db()
    assert created.key.revoked_at is not None
    assert resolve_ingest_key(created.raw) is None  # cache cleared on revocation
    listing = owner_client.get("/o/acme/settings/keys/").content.decode()
    assert "revoked" in listing


def test_a_revoked_key_stays_revoked_after_the_cache_expires(org, owner):
    created = actions.create_ingest_key(org, "k", owner)
    actions.revoke_ingest_key(org, created.key.id)
    clear_key_cache()
    assert resolve_ingest_key(created.raw) is None


def test_keys_of_another_org_cannot_be_revoked(owner_client, outsider, outsider_org):
    theirs = actions.create_ingest_key(outsider_org, "theirs", outsider)
    assert owner_client.post(f"/o/acme/settings/keys/{theirs.key.id}/revoke/").status_code == 404
    theirs.key.refresh_from_db()
    assert theirs.key.revoked_at is None


def test_keys_are_unique_and_recognisable(org, owner):
    raws = {actions.create_ingest_key(org, f"k{i}", owner).raw for i in range(5)}
    assert len(raws) == 5
    assert all(KEY_RE.fullmatch(raw) for raw in raws)


def test_the_key_form_binds_a_key_to_one_app_of_the_organisation(owner_client, org, app, outsider_org):
    from tenants.models import App

    page = owner_client.get(f"/o/acme/settings/keys/?app={app.id}").content.decode()
    assert f'<option value="{app.id}" selected>' in page  # the app just created is offered first
    response = _create(owner_client, label="shop only", app=str(app.id))
    assert f'PULSE_APP_NAME="{app.name}"' in response.content.decode()
    assert IngestKey.objects.for_org(org).get(label="shop only").app == app
    _create(owner_client, label="all apps", app="")
    assert IngestKey.objects.for_org(org).get(label="all apps").app is None
    # Another organisation's app is not a choice.
    theirs = App.objects.for_org(outsider_org).create(organization=outsider_org, name="Theirs")
    response = _create(owner_client, label="theirs", app=str(theirs.id))
    assert "Select a valid choice" in response.content.decode()
    assert not IngestKey.objects.for_org(org).filter(label="theirs").exists()
    listing = owner_client.get("/o/acme/settings/keys/").content.decode()
    assert app.name in listing and "every app" in listing
