"""Conditions, channels and SLOs per organisation (tenants/limits.py): each refused past its
setting with a form error on the page and a 409 naming it in JSON, and held when two admins
create at the same moment."""

import json

import pytest

from alerts.models import SLO, Condition, NotificationChannel
from tests.alerts import factories
from tests.alerts.test_views import condition_post, url
from tests.concurrency import run_together
from tests.conftest import client_for


def _condition(org, app):
    return condition_post(app)


def _channel(org, app):
    return {"name": "On call", "kind": "email", "addresses": "oncall@example.com"}


def _slo(org, app):
    return {"app": str(app.id), "name": "Errors", "indicator": "errors", "objective": "99.5", "period_days": "28"}


KINDS = [
    pytest.param(Condition, "conditions/new", _condition, factories.condition, "ALERT_CONDITIONS_PER_ORG_LIMIT",
                 "alert_conditions", id="conditions"),
    pytest.param(NotificationChannel, "channels/new", _channel, lambda org, app: factories.channel(org),
                 "NOTIFICATION_CHANNELS_PER_ORG_LIMIT", "notification_channels", id="channels"),
    pytest.param(SLO, "slos/new", _slo, factories.slo, "SLOS_PER_ORG_LIMIT", "slos", id="slos"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("model, path, data, existing, setting, code", KINDS)
def test_one_past_the_limit_is_a_form_error_naming_it(org, app, admin_client, settings, model, path, data, existing,
                                                      setting, code):
    setattr(settings, setting, 2)
    existing(org, app)
    assert admin_client.post(url(org, path), data(org, app)).status_code == 302  # the second fits
    response = admin_client.post(url(org, path), data(org, app))
    assert response.status_code == 200
    assert "already has the maximum of 2" in response.content.decode()
    assert setting in response.content.decode()
    assert model.objects.for_org(org).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("model, path, data, existing, setting, code", KINDS)
def test_a_json_client_is_told_409_naming_the_limit(org, app, admin_client, settings, model, path, data, existing,
                                                   setting, code):
    setattr(settings, setting, 1)
    existing(org, app)
    response = admin_client.post(url(org, path), data(org, app), HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    error = json.loads(response.content)["error"]
    assert (error["code"], error["limit"], error["setting"], error["most"]) == ("limit_reached", code, setting, 1)
    assert model.objects.for_org(org).count() == 1


@pytest.mark.django_db
def test_editing_at_the_limit_still_saves(org, app, admin_client, settings):
    settings.ALERT_CONDITIONS_PER_ORG_LIMIT = 1
    condition = factories.condition(org, app)
    response = admin_client.post(url(org, f"conditions/{condition.id}/"), condition_post(app, warning_threshold="400"))
    assert response.status_code == 302
    condition.refresh_from_db()
    assert condition.warning_threshold == 400


@pytest.mark.django_db
def test_another_organisations_objects_do_not_count(org, app, admin_client, settings, outsider_org):
    settings.NOTIFICATION_CHANNELS_PER_ORG_LIMIT = 1
    factories.channel(outsider_org)
    assert admin_client.post(url(org, "channels/new"), _channel(org, app)).status_code == 302


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("model, path, data, existing, setting, code", KINDS)
def test_two_admins_creating_at_once_cannot_both_take_the_last_place(org, app, admin, owner, settings, model, path,
                                                                     data, existing, setting, code):
    setattr(settings, setting, 1)
    clients = [client_for(admin), client_for(owner)]
    payload = data(org, app)
    results = run_together(*[lambda c=c: c.post(url(org, path), payload) for c in clients])
    assert sorted(r.status_code for r in results) == [200, 302]
    assert model.objects.for_org(org).count() == 1
