"""Alerting pages: roles, forms, the "Create alert" prefill, the incidents JSON for charts.

Outsiders (404) and viewers (no writes) on every route are covered by tests/test_route_sweep.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Condition, Delivery, Incident, NotificationChannel
from alerts.status import open_incident_severity_by_app
from tenants.models import App
from tests.alerts import factories

pytestmark = pytest.mark.django_db


def url(org, path):
    return f"/o/{org.slug}/alerts/{path}"


def condition_post(app, **extra):
    data = {
        "app": str(app.id),
        "name": "Checkout p95",
        "metric": "p95",
        "comparison": "above",
        "warning_threshold": "300",
        "critical_threshold": "1000",
        "window_minutes": "5",
        "mode": "sustained",
        "enabled": "on",
    }
    data.update(extra)
    return data


def test_admins_create_conditions_and_members_cannot(org, app, admin_client, member_client, viewer_client):
    assert member_client.post(url(org, "conditions/new"), condition_post(app)).status_code == 403
    assert viewer_client.post(url(org, "conditions/new"), condition_post(app)).status_code == 403
    response = admin_client.post(url(org, "conditions/new"), condition_post(app))
    assert response.status_code == 302, response.content
    condition = Condition.objects.for_org(org).get()
    assert (condition.metric, condition.warning_threshold, condition.window_minutes) == ("p95", 300, 5)


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"window_minutes": "61"}, "less than or equal to 60"),
        ({"window_minutes": "0"}, "greater than or equal to 1"),
        ({"warning_threshold": "2000"}, "must be below the critical one"),
        ({"warning_threshold": "", "critical_threshold": ""}, "Set a warning threshold"),
        ({"warning_threshold": "nan"}, "Enter a number"),
        ({"metric": "apdex", "comparison": "below", "warning_threshold": "2", "critical_threshold": "0.5"}, "between 0 and 1"),
    ],
)
def test_bad_conditions_get_clear_errors(org, app, owner_client, extra, message):
    response = owner_client.post(url(org, "conditions/new"), condition_post(app, **extra))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Condition.objects.for_org(org).exists()


def test_a_condition_cannot_name_another_orgs_app_or_channel(org, app, owner_client, outsider_org):
    other_app = App.objects.for_org(outsider_org).create(organization=outsider_org, name="theirs")
    other_channel = factories.channel(outsider_org)
    response = owner_client.post(url(org, "conditions/new"), condition_post(other_app))
    assert response.status_code == 200 and not Condition.objects.for_org(org).exists()
    response = owner_client.post(url(org, "conditions/new"), condition_post(app, warning_channels=[str(other_channel.id)]))
    assert response.status_code == 200 and not Condition.objects.for_org(org).exists()


def test_create_alert_links_prefill_the_form(org, app, viewer_client):
    response = viewer_client.get(url(org, f"conditions/new?app={app.id}&metric=p99&transaction=shop.views.cart"))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["app"] == app.id
    assert form.initial["metric"] == "p99"
    assert form.initial["transaction"] == "shop.views.cart"
    # Nonsense parameters are ignored, not errors.
    response = viewer_client.get(url(org, "conditions/new?app=not-a-uuid&metric=bogus"))
    assert response.status_code == 200 and "app" not in response.context["form"].initial


def test_the_preview_replays_the_condition(org, app, owner_client, rollups):
    from tests.alerts.conftest import minute_floor

    base = minute_floor() - timedelta(minutes=30)
    rollups.minutes(app, [base + timedelta(minutes=i) for i in range(5)], p95=0.8)
    params = condition_post(app, window_minutes="3", preview="1")
    response = owner_client.get(url(org, "conditions/new"), params)
    chart = response.context["chart"]
    assert len(chart["t"]) == 24 * 60
    assert [s["label"] for s in chart["series"]] == ["p95 response time", "Warning threshold", "Critical threshold"]
    assert len(chart["fired"]) == 1 and chart["fired"][0]["severity"] == "warning"
    assert chart["bands"] == [{k: chart["fired"][0][k] for k in ("start", "end", "severity")}]
    assert chart["fired"][0]["opened"] == (base + timedelta(minutes=3)).timestamp()
    assert b"Would have fired" in response.content


def test_members_acknowledge_viewers_cannot(org, app, member_client, viewer_client, member):
    incident = factories.incident(org, app)
    assert viewer_client.post(url(org, f"incidents/{incident.id}/acknowledge")).status_code == 403
    assert member_client.post(url(org, f"incidents/{incident.id}/acknowledge")).status_code == 302
    incident.refresh_from_db()
    assert incident.acknowledged_by == member and incident.acknowledged_at is not None
    page = member_client.get(url(org, f"incidents/{incident.id}/"))
    assert b"Acknowledged" in page.content and b"bob@example.com" in page.content
    assert member_client.post(url(org, f"incidents/{incident.id}/resolve")).status_code == 302
    incident.refresh_from_db()
    assert incident.resolved_by == member


def test_channel_urls_are_checked(org, owner_client, settings):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = False
    data = {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:8080/x"}
    response = owner_client.post(url(org, "channels/new"), data)
    assert response.status_code == 200
    assert "loopback" in response.content.decode()
    data["url"] = "http://169.254.169.254/latest/meta-data/"
    assert "metadata" in owner_client.post(url(org, "channels/new"), data).content.decode()
    assert not NotificationChannel.objects.for_org(org).exists()
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    data["url"] = "http://127.0.0.1:8080/x"
    assert owner_client.post(url(org, "channels/new"), data).status_code == 302
    assert NotificationChannel.objects.for_org(org).get().config == {"url": "http://127.0.0.1:8080/x"}


def test_email_and_pagerduty_channels(org, owner_client):
    response = owner_client.post(url(org, "channels/new"), {"name": "mail", "kind": "email", "addresses": "a@x.io, nope"})
    assert "not an e-mail address" in response.content.decode()
    response = owner_client.post(url(org, "channels/new"), {"name": "mail", "kind": "email", "members": "on", "addresses": "a@x.io\nA@x.io"})
    assert response.status_code == 302
    assert NotificationChannel.objects.for_org(org).get(name="mail").config == {"members": True, "addresses": ["a@x.io"]}
    response = owner_client.post(url(org, "channels/new"), {"name": "pd", "kind": "pagerduty", "routing_key": "bad key!"})
    assert "routing key" in response.content.decode()


def test_send_test_notification_queues_a_delivery(org, owner_client, member_client, django_capture_on_commit_callbacks):
    channel = factories.channel(org)
    assert member_client.post(url(org, f"channels/{channel.id}/test")).status_code == 403
    with django_capture_on_commit_callbacks() as callbacks:
        assert owner_client.post(url(org, f"channels/{channel.id}/test")).status_code == 302
    assert len(callbacks) == 1
    delivery = Delivery.objects.for_org(org).get()
    assert delivery.is_test and delivery.channel == channel
    assert b"test" in owner_client.get(url(org, "deliveries/")).content


def test_incidents_json_gives_periods_for_chart_bands(org, app, viewer_client, outsider_org):
    incident = factories.incident(org, app)
    now = timezone.now().timestamp()
    response = viewer_client.get(url(org, f"incidents.json?app={app.id}&from={now - 3600}&to={now + 60}"))
    assert response.status_code == 200
    (period,) = response.json()["incidents"]
    assert period["id"] == str(incident.id) and period["end"] is None and period["severity"] == "warning"
    assert period["start"] == pytest.approx(incident.started_at.timestamp())
    # Outside the range: nothing.
    response = viewer_client.get(url(org, f"incidents.json?app={app.id}&from={now - 7200}&to={now - 3600}"))
    assert response.json()["incidents"] == []
    other = App.objects.for_org(outsider_org).create(organization=outsider_org, name="x")
    assert viewer_client.get(url(org, f"incidents.json?app={other.id}")).status_code == 404
    bad = viewer_client.get(url(org, "incidents.json?from=yesterday"))
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "from"


def test_status_severity_by_app(org, app, outsider_org):
    assert open_incident_severity_by_app(org) == {}
    first = factories.incident(org, app)
    assert open_incident_severity_by_app(org) == {app.id: "warning"}
    second = factories.incident(org, app)
    Incident.objects.for_org(org).filter(id=second.id).update(severity="critical")
    assert open_incident_severity_by_app(org) == {app.id: "critical"}
    Incident.objects.for_org(org).update(resolved_at=timezone.now())
    assert open_incident_severity_by_app(org) == {}
    assert first.organization_id == org.id


def test_untrusted_names_are_escaped(org, owner_client):
    app = App.objects.for_org(org).create(organization=org, name="<script>alert(1)</script>")
    factories.incident(org, app)
    for path in ("", "conditions/"):
        content = owner_client.get(url(org, path)).content
        assert b"<script>alert(1)" not in content and b"&lt;script&gt;" in content


def test_members_mute_an_app(org, app, member_client, viewer_client):
    assert viewer_client.post(url(org, "mutes/"), {"app": str(app.id), "minutes": "60"}).status_code == 403
    assert member_client.post(url(org, "mutes/"), {"app": str(app.id), "minutes": "60", "reason": "deploy"}).status_code == 302
    page = member_client.get(url(org, "mutes/"))
    assert b"deploy" in page.content


def test_slo_pages(org, app, owner_client, rollups):
    response = owner_client.post(
        url(org, "slos/new"),
        {"app": str(app.id), "name": "Fast checkout", "indicator": "latency", "latency_threshold_ms": "", "objective": "99.9", "period_days": "28"},
    )
    assert "needs a threshold" in response.content.decode()
    response = owner_client.post(
        url(org, "slos/new"),
        {"app": str(app.id), "name": "Fast checkout", "indicator": "latency", "latency_threshold_ms": "200", "objective": "99", "period_days": "7", "alerts_enabled": "on"},
    )
    assert response.status_code == 302
    from tests.alerts.conftest import minute_floor

    # 40 transactions, 4 of them at 800 ms: 10 % bad against a 1 % budget.
    rollups.minutes(app, [minute_floor() - timedelta(minutes=3)], p95=0.8)
    page = owner_client.get(response["Location"])
    summary = page.context["summary"]
    assert (summary["counts"].total, summary["counts"].bad) == (40, 4)
    assert summary["budget_remaining"] == pytest.approx(1 - 4 / (40 * 0.01))


def test_deleting_a_condition_resolves_its_incidents_and_keeps_history(org, app, owner_client, owner):
    incident = factories.incident(org, app)
    response = owner_client.post(url(org, f"conditions/{incident.condition_id}/delete"))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.condition_id is None and incident.resolved_by == owner
    page = owner_client.get(url(org, f"incidents/{incident.id}/"))
    assert page.status_code == 200 and b"resolved" in page.content


def test_the_incident_chart_shades_the_incident(org, app, owner_client, rollups):
    from tests.alerts.conftest import minute_floor

    incident = factories.incident(org, app)
    rollups.minutes(app, [minute_floor() - timedelta(minutes=3)], p95=0.5)
    chart = owner_client.get(url(org, f"incidents/{incident.id}/")).context["chart"]
    assert chart["bands"] == [{"start": incident.started_at.timestamp(), "end": None, "severity": "warning"}]
    assert [s["label"] for s in chart["series"]] == ["p95 response time", "Warning threshold", "Critical threshold"]


def test_only_admins_see_a_webhook_secret(org, app, owner_client, viewer_client):
    channel = factories.channel(org)
    assert channel.secret.encode() in owner_client.get(url(org, f"channels/{channel.id}/")).content
    page = viewer_client.get(url(org, f"channels/{channel.id}/"))
    assert page.status_code == 200 and channel.secret.encode() not in page.content


def test_non_admins_do_not_see_webhook_urls(org, member_client, owner_client):
    from alerts.models import ChannelKind

    channel = NotificationChannel.objects.for_org(org).create(
        organization=org, name="slack", kind=ChannelKind.SLACK, config={"url": "https://hooks.slack.com/services/T0/B0/s3cr3t"}
    )
    for path in ("channels/", f"channels/{channel.id}/"):
        content = member_client.get(url(org, path)).content
        assert b"s3cr3t" not in content and b"hooks.slack.com" in content
    assert b"s3cr3t" in owner_client.get(url(org, f"channels/{channel.id}/")).content


def test_the_form_suggests_transaction_names(org, app, owner_client, rollups):
    from tests.alerts.conftest import minute_floor

    rollups.minutes(app, [minute_floor() - timedelta(minutes=2)], p95=0.1, name="shop.views.<cart>")
    content = owner_client.get(url(org, "conditions/new")).content.decode()
    assert '<option value="shop.views.&lt;cart&gt;">' in content
