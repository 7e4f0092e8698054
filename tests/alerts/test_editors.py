"""What the condition, channel and SLO editors share (alerts/views.py ``_editor_page``,
``_editor_views``, ``_delete_view``): who created it, a changed definition judged afresh,
the saved/deleted messages and where they lead, and another organisation's object a 404."""

import pytest
from django.utils import timezone

from alerts.models import SLO, Condition, NotificationChannel
from tenants.models import App
from tests.alerts import factories
from tests.alerts.test_views import condition_post, url

pytestmark = pytest.mark.django_db


def _judged_minute():
    return timezone.now().replace(second=0, microsecond=0)


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_a_new_condition_records_its_creator_and_an_edit_is_judged_afresh(org, app, admin_client, admin):
    response = admin_client.post(url(org, "conditions/new"), condition_post(app), follow=True)
    assert "Condition \u201cCheckout p95\u201d saved." in _messages(response)
    assert response.redirect_chain[-1][0] == url(org, "conditions/")
    condition = Condition.objects.for_org(org).get()
    assert condition.created_by == admin
    Condition.objects.for_org(org).filter(pk=condition.pk).update(last_evaluated_minute=_judged_minute())
    admin_client.post(url(org, f"conditions/{condition.id}/"), condition_post(app, warning_threshold="400"))
    condition.refresh_from_db()
    assert (condition.warning_threshold, condition.last_evaluated_minute, condition.created_by) == (400, None, admin)


def test_a_channel_is_saved_to_its_own_page_and_deleted(org, owner_client):
    data = {"name": "On call", "kind": "email", "addresses": "oncall@example.com"}
    response = owner_client.post(url(org, "channels/new"), data)
    channel = NotificationChannel.objects.for_org(org).get()
    assert response["Location"] == url(org, f"channels/{channel.id}/")
    assert channel.config["addresses"] == ["oncall@example.com"]
    response = owner_client.post(url(org, f"channels/{channel.id}/delete"), follow=True)
    assert "Channel \u201cOn call\u201d deleted." in _messages(response)
    assert not NotificationChannel.objects.for_org(org).exists()


def test_an_slo_is_edited_and_deleted(org, app, owner_client, owner):
    slo = factories.slo(org, app)
    SLO.objects.for_org(org).filter(pk=slo.pk).update(last_evaluated_minute=_judged_minute())
    data = {"app": str(app.id), "name": "Renamed", "indicator": "errors", "objective": "99.5", "period_days": "28"}
    response = owner_client.post(url(org, f"slos/{slo.id}/edit"), data)
    assert response["Location"] == url(org, f"slos/{slo.id}/")
    slo.refresh_from_db()
    assert (slo.name, slo.objective, slo.last_evaluated_minute) == ("Renamed", 99.5, None)
    response = owner_client.post(url(org, f"slos/{slo.id}/delete"), follow=True)
    assert "SLO \u201cRenamed\u201d deleted." in _messages(response)
    assert not SLO.objects.for_org(org).exists()


def test_editing_or_deleting_another_orgs_objects_is_a_404(org, owner_client, outsider_org):
    other_app = App.objects.for_org(outsider_org).create(organization=outsider_org, name="theirs")
    theirs = [
        ("conditions/{}/", factories.condition(outsider_org, other_app)),
        ("channels/{}/", factories.channel(outsider_org)),
        ("slos/{}/edit", factories.slo(outsider_org, other_app)),
    ]
    for path, item in theirs:
        assert owner_client.get(url(org, path.format(item.id))).status_code == 404
        assert owner_client.post(url(org, path.format(item.id)), {"name": "hijacked"}).status_code == 404
        delete = path.format(item.id).rstrip("/").removesuffix("/edit") + "/delete"
        assert owner_client.post(url(org, delete)).status_code == 404
        item.refresh_from_db()
        assert item.name != "hijacked"
