"""Alerts as code (alerts/api_views.py): JSON create/read/update/delete of conditions,
channels and SLOs with API tokens, validated by the pages' forms, limited and audited."""

import pytest

from alerts.models import SLO, Condition, Incident, NotificationChannel
from tenants.models import AuditEntry, TokenScope
from tenants.models import App
from tests.alerts import factories
from tests.tokens import auth, org_token, personal_token


@pytest.fixture
def token(org, owner):
    return org_token(org, TokenScope.WRITE, owner)


@pytest.fixture
def api(client, org, token):
    """call(method, path, body=None, raw=token) -> response, under /o/<org>/api/alerts/."""

    def call(method, path, body=None, raw=None):
        kwargs = auth(raw or token)
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        return getattr(client, method)(f"/o/{org.slug}/api/alerts/{path}", **kwargs)

    return call


def _channel(api, **fields):
    response = api("post", "channels", {"name": "Ops", "kind": "email", "addresses": ["ops@example.com"], **fields})
    assert response.status_code == 201, response.content
    return response.json()


def test_a_condition_round_trips(api, org, app):
    channel = _channel(api)
    created = api("post", "conditions", {
        "name": "Checkout slow", "app": str(app.id), "transaction": "checkout", "metric": "p95",
        "warning_threshold": 300, "critical_threshold": 800, "critical_channels": [channel["id"]],
    })
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["window_minutes"], body["mode"], body["enabled"]) == (5, "sustained", True)  # the defaults
    stored = Condition.objects.for_org(org).get(pk=body["id"])
    assert stored.critical_threshold == 800 and list(stored.critical_channels.all()) == [
        NotificationChannel.objects.for_org(org).get(pk=channel["id"])]

    assert api("get", f"conditions/{body['id']}").json() == body
    assert [c["id"] for c in api("get", "conditions").json()["conditions"]] == [body["id"]]

    changed = api("patch", f"conditions/{body['id']}", {"window_minutes": 10, "critical_channels": []}).json()
    assert changed == {**body, "window_minutes": 10, "critical_channels": []}

    # What a GET answers can be edited and sent back whole.
    replaced = api("put", f"conditions/{body['id']}", {**changed, "name": "Checkout very slow"})
    assert replaced.status_code == 200 and replaced.json()["name"] == "Checkout very slow"
    assert Condition.objects.for_org(org).get(pk=body["id"]).window_minutes == 10

    assert api("delete", f"conditions/{body['id']}").status_code == 204
    assert not Condition.objects.for_org(org).exists()
    assert api("get", f"conditions/{body['id']}").status_code == 404


def test_put_replaces_absent_fields_with_their_defaults(api, org, app):
    created = api("post", "conditions", {"name": "Errors", "app": str(app.id), "metric": "error_rate",
                                         "critical_threshold": 5, "window_minutes": 15}).json()
    replaced = api("put", f"conditions/{created['id']}", {"name": "Errors", "app": str(app.id),
                                                          "metric": "error_rate", "critical_threshold": 5})
    assert replaced.json()["window_minutes"] == 5


def test_an_slo_round_trips(api, org, app):
    created = api("post", "slos", {"name": "Fast", "app": str(app.id), "indicator": "latency",
                                   "latency_threshold_ms": 250, "objective": 99.5})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["period_days"], body["alerts_enabled"]) == (28, True)
    assert api("get", f"slos/{body['id']}").json() == body
    changed = api("patch", f"slos/{body['id']}", {"objective": 99.9, "period_days": 7}).json()
    assert (changed["objective"], changed["period_days"], changed["latency_threshold_ms"]) == (99.9, 7, 250)
    assert SLO.objects.for_org(org).get(pk=body["id"]).objective == 99.9
    assert api("delete", f"slos/{body['id']}").status_code == 204
    assert not SLO.objects.for_org(org).exists()


def test_a_channel_round_trips_without_its_secrets(api, org):
    email = _channel(api, members=True)
    assert (email["members"], email["addresses"], email["target"]) == (True, ["ops@example.com"], "every member, ops@example.com")
    hook = api("post", "channels", {"name": "Hook", "kind": "webhook", "url": "http://127.0.0.1:9/hook?token=s3cret"})
    assert hook.status_code == 201, hook.content
    shown = hook.json()
    stored = NotificationChannel.objects.for_org(org).get(pk=shown["id"])
    for answer in (hook, api("get", f"channels/{shown['id']}"), api("get", "channels")):
        text = answer.content.decode()
        assert "s3cret" not in text and stored.secret not in text
    assert shown["target"] == "127.0.0.1" and shown["secret_hint"] == stored.secret[:4] + "…"
    # A change of the name keeps the URL nobody read back.
    assert api("patch", f"channels/{shown['id']}", {"name": "Hook 2"}).status_code == 200
    stored.refresh_from_db()
    assert (stored.name, stored.config["url"]) == ("Hook 2", "http://127.0.0.1:9/hook?token=s3cret")
    assert api("delete", f"channels/{shown['id']}").status_code == 204
    assert NotificationChannel.objects.for_org(org).count() == 1


def test_deleting_a_condition_resolves_its_open_incident(api, org, app):
    incident = factories.incident(org, app)
    assert api("delete", f"conditions/{incident.condition_id}").status_code == 204
    assert Incident.objects.for_org(org).get(pk=incident.pk).resolved_at is not None


def test_bad_bodies_get_400_naming_every_field_and_change_nothing(api, org, app):
    bad = api("post", "conditions", {"name": "", "app": str(app.id), "metric": "apdex", "warning_threshold": 2,
                                     "critical_threshold": 0.5, "comparison": "below", "window_minutes": 99})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == {"name", "warning_threshold", "window_minutes"}
    assert error["field"] in error["fields"] and error["field"] in error["message"]
    unknown = api("post", "conditions", {"name": "x", "threshold": 3})
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "threshold"
    nested = api("post", "slos", {"name": {"a": 1}})
    assert nested.status_code == 400 and nested.json()["error"]["field"] == "name"
    not_json = api("post", "slos", "{not json", raw=None)
    assert not_json.status_code == 400
    form_encoded = api("post", "slos")
    assert form_encoded.status_code == 415
    assert not Condition.objects.for_org(org).exists() and not SLO.objects.for_org(org).exists()


def test_another_organisations_ids_are_404_in_the_path_and_invalid_in_the_body(api, org, app, outsider_org):
    foreign_app = factories.condition(outsider_org, App.objects.for_org(outsider_org).create(
        organization=outsider_org, name="theirs")).app
    foreign = {
        "conditions": factories.condition(outsider_org, foreign_app),
        "channels": factories.channel(outsider_org),
        "slos": factories.slo(outsider_org, foreign_app),
    }
    for path, item in foreign.items():
        for method, body in (("get", None), ("patch", {"name": "mine"}), ("put", {"name": "mine"}), ("delete", None)):
            assert api(method, f"{path}/{item.id}", body).status_code == 404, (method, path)
        item.refresh_from_db()
        assert item.name != "mine"
    borrowed = api("post", "conditions", {"name": "x", "app": str(foreign_app.id), "metric": "p95",
                                          "critical_threshold": 1, "warning_channels": [str(foreign["channels"].id)]})
    assert borrowed.status_code == 400 and set(borrowed.json()["error"]["fields"]) == {"app", "warning_channels"}


@pytest.mark.parametrize("path, body, setting", [
    ("channels", {"name": "B", "kind": "email", "members": True}, "NOTIFICATION_CHANNELS_PER_ORG_LIMIT"),
    ("slos", {"name": "B", "indicator": "errors", "objective": 99}, "SLOS_PER_ORG_LIMIT"),
    ("conditions", {"name": "B", "metric": "p95", "critical_threshold": 9}, "ALERT_CONDITIONS_PER_ORG_LIMIT"),
])
def test_a_full_organisation_gets_409_naming_the_limit(api, settings, app, path, body, setting):
    setattr(settings, setting, 1)
    body = {**body, "app": str(app.id)} if path != "channels" else body
    first = api("post", path, {**body, "name": "A"})
    assert first.status_code == 201, first.content
    refused = api("post", path, body)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "limit_reached" and refused.json()["error"]["setting"] == setting
    # Changing what exists is not limited.
    assert api("patch", f"{path}/{first.json()['id']}", {"name": "A2"}).status_code == 200


def test_changes_are_audited_with_the_token_they_came_through(api, org, owner, app):
    channel = _channel(api)
    api("patch", f"channels/{channel['id']}", {"name": "Ops 2"})
    api("delete", f"channels/{channel['id']}")
    entries = list(AuditEntry.objects.for_org(org).filter(action__startswith="channel.").order_by("created_at", "id"))
    assert [e.action for e in entries] == ["channel.created", "channel.changed", "channel.deleted"]
    assert all(e.actor is None and "pulse_at_" in e.details["via"] for e in entries)
    assert entries[1].details["fields"] == ["name"]

    raw = personal_token(owner, TokenScope.WRITE)
    created = api("post", "slos", {"name": "S", "app": str(app.id), "indicator": "errors", "objective": 99}, raw=raw)
    entry = AuditEntry.objects.for_org(org).get(action="slo.created")
    assert entry.actor == owner and entry.details["id"] == created.json()["id"]
    assert "personal token" in entry.details["via"]


def test_sessions_use_the_same_api(owner_client, viewer_client, org, app):
    url = f"/o/{org.slug}/api/alerts/channels"
    body = {"name": "Ops", "kind": "email", "members": True}
    assert viewer_client.post(url, body, content_type="application/json").status_code == 403
    assert owner_client.post(url, body, content_type="application/json").status_code == 201
    assert viewer_client.get(url).json()["channels"][0]["name"] == "Ops"
