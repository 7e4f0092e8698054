"""Deployments: recorded with an ingest key, listed with the hour before and after, marked on charts."""

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apm.models import Deployment
from frontend.views.deployments import _change
from tenants import actions
from tenants.keys import clear_key_cache
from tenants.models import App
from tests.frontend.seed import TRANSACTIONS, XSS, seed_app

HOSTILE = XSS[0]

URL = "/api/v1/deployments"


def post(client, key, body, content_type="application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return client.post(URL, data, content_type=content_type, **headers)


def error_of(response):
    return response.json()["error"]


@pytest.fixture(autouse=True)
def fresh_keys():
    clear_key_cache()
    yield
    clear_key_cache()


def test_it_records_a_deployment_with_an_ingest_key(client, org, app, ingest_key):
    before = time.time()
    r = post(client, ingest_key, {"app": app.name, "version": "v1.4.2", "commit": "abc123", "description": "faster",
                                  "user": "ci"})
    assert r.status_code == 201, r.content
    d = Deployment.objects.for_org(org).get()
    assert (d.app_id, d.version, d.commit, d.description, d.user) == (app.id, "v1.4.2", "abc123", "faster", "ci")
    assert before - 1 <= d.time.timestamp() <= time.time() + 1
    assert r.json() == {"id": str(d.id), "app_id": str(app.id), "time": d.time.timestamp()}


def test_a_pipeline_may_record_before_the_apps_first_data(client, org, ingest_key):
    r = post(client, ingest_key, {"app": "new-service", "version": "1", "time": time.time() - 600})
    assert r.status_code == 201, r.content
    app = App.objects.for_org(org).get(name="new-service")
    assert Deployment.objects.for_org(org).get().app_id == app.id


@pytest.mark.parametrize(
    "body, content_type, status, field",
    [
        ({"app": "shop"}, "application/json", 400, "version"),
        ({"app": "shop", "version": ""}, "application/json", 400, "version"),
        ({"app": "shop", "version": "   "}, "application/json", 400, "version"),
        ({"app": "shop", "version": "x" * 101}, "application/json", 400, "version"),
        ({"app": "shop", "version": "1", "commit": 5}, "application/json", 400, "commit"),
        ({"app": "shop", "version": "1", "user": "a\x00b"}, "application/json", 400, "user"),
        ({"app": "shop", "version": "1", "time": time.time() - 30 * 86400}, "application/json", 400, "time"),
        ({"app": "shop", "version": "1", "time": time.time() + 3600}, "application/json", 400, "time"),
        (b"{not json", "application/json", 400, "body"),
        (b"x" * 20000, "application/json", 413, "body"),
        ({"app": "shop", "version": "1"}, "text/plain", 415, "Content-Type"),
    ],
)
def test_bad_input_gets_a_clear_error_and_records_nothing(client, org, ingest_key, body, content_type, status, field):
    r = post(client, ingest_key, body, content_type)
    assert r.status_code == status, r.content
    assert error_of(r)["field"] == field and error_of(r)["message"]
    assert not Deployment.objects.for_org(org).exists()


def test_without_a_known_key_it_is_refused(client, org, app, ingest_key):
    actions.revoke_ingest_key(org, actions.create_ingest_key(org, "old", None).key.pk)
    assert post(client, None, {"app": app.name, "version": "1"}).status_code == 401
    assert post(client, "pulse_ik_" + "x" * 40, {"app": app.name, "version": "1"}).status_code == 401
    assert client.get(URL).status_code == 405
    assert not Deployment.objects.for_org(org).exists()


def test_a_key_bound_to_an_app_records_only_that_app(client, org, app):
    other = actions.create_app(org, "other")
    raw = actions.create_ingest_key(org, "bound", None, app=app).raw
    r = post(client, raw, {"app": other.name, "version": "1"})
    assert (r.status_code, error_of(r)["code"]) == (403, "wrong_app")
    assert post(client, raw, {"app": "brand-new", "version": "1"}).status_code == 403
    assert post(client, raw, {"app": app.name.upper(), "version": "1"}).status_code == 201
    assert [d.app_id for d in Deployment.objects.for_org(org)] == [app.id]


def test_the_app_limit_holds(client, org, app, ingest_key, settings):
    settings.APPS_PER_ORG_LIMIT = 1
    r = post(client, ingest_key, {"app": "one-too-many", "version": "1"})
    assert (r.status_code, error_of(r)["code"]) == (403, "app_limit")
    assert not App.objects.for_org(org).filter(name="one-too-many").exists()


def test_an_app_may_record_so_many_an_hour(client, org, app, ingest_key, settings):
    settings.DEPLOYMENTS_PER_APP_PER_HOUR = 2
    for n in range(2):
        assert post(client, ingest_key, {"app": app.name, "version": str(n)}).status_code == 201
    r = post(client, ingest_key, {"app": app.name, "version": "3"})
    assert (r.status_code, error_of(r)["code"]) == (429, "too_many_deployments")
    assert 3500 <= int(r["Retry-After"]) <= 3601
    assert Deployment.objects.for_org(org).count() == 2


def test_another_organisations_key_cannot_record_for_this_app(client, org, app, outsider_key):
    assert post(client, outsider_key, {"app": app.name, "version": "1"}).status_code == 201
    assert not Deployment.objects.for_org(org).exists()  # it named an app of its own organisation


def _deploy(org, app, seconds_ago, version="v2"):
    return Deployment.objects.for_org(org).create(
        organization=org, app=app, time=timezone.now() - timedelta(seconds=seconds_ago),
        version=version,
    )


@pytest.fixture
def deployed(org, app):
    """Three hours of traffic, a deployment 90 minutes ago, one with a hostile version."""
    seed_app(org, app, minutes=180)
    return _deploy(org, app, 90 * 60), _deploy(org, app, 30 * 60, version=HOSTILE)


def test_the_page_compares_the_hour_before_with_the_hour_after(owner_client, org, app, deployed):
    r = owner_client.get(reverse("app_deployments", args=[org.slug, app.id]))
    assert r.status_code == 200
    html = r.content.decode()
    assert HOSTILE not in html and "&lt;script&gt;" in html
    rows = r.context["deployments"]
    assert [d["id"] for d in rows] == [str(deployed[1].id), str(deployed[0].id)]
    web_rpm = sum(t[2] for t in TRANSACTIONS if t[1] == "web")
    # seed_app sends the same traffic every minute: the same rate before and after, also
    # for the recent deployment whose hour after is still running
    for row in rows:
        throughput = next(c for c in row["compared"] if c["key"] == "rpm")
        assert throughput["before"] == pytest.approx(web_rpm, rel=0.05)
        assert throughput["after"] == pytest.approx(web_rpm, rel=0.05)
        assert throughput["verdict"] == ""


def test_the_api_lists_deployments_with_their_hours(owner_client, org, app, deployed):
    r = owner_client.get(f"/o/{org.slug}/api/apps/{app.id}/deployments", {"limit": 1})
    body = r.json()
    assert r.status_code == 200 and body["more"] is True
    [d] = body["deployments"]
    assert d["version"] == HOSTILE and d["before"]["count"] > 0
    assert owner_client.get(f"/o/{org.slug}/api/apps/{app.id}/deployments", {"limit": 0}).status_code == 400


def test_charts_carry_the_deployments_as_markers(owner_client, org, app, deployed):
    r = owner_client.get(reverse("app_overview", args=[org.slug, app.id]) + "?range=3h")
    markers = r.context["chart"]["markers"]
    assert [m["version"] for m in markers] == ["v2", HOSTILE]
    assert all(m["url"] == reverse("app_deployments", args=[org.slug, app.id]) for m in markers)
    short = owner_client.get(reverse("app_overview", args=[org.slug, app.id]) + "?range=1h")
    assert [m["version"] for m in short.context["chart"]["markers"]] == [HOSTILE]


def test_an_outsider_gets_nothing(client, outsider, org, app, deployed):
    client.force_login(outsider)
    assert client.get(reverse("app_deployments", args=[org.slug, app.id])).status_code == 404
    assert client.get(f"/o/{org.slug}/api/apps/{app.id}/deployments").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_agent_command_records_a_deployment(live_server, org, app, ingest_key):
    env = {**os.environ, "PULSE_INGEST_KEY": ingest_key, "PULSE_ENDPOINT": live_server.url,
           "PULSE_APP_NAME": app.name, "GITHUB_SHA": "0123abcd", "USER": "release-bot"}
    run = subprocess.run([sys.executable, "-m", "pulse_agent.cli", "deploy", "--version", "2.0", "--description",
                          "new checkout"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    d = Deployment.objects.for_org(org).get()
    assert (d.version, d.commit, d.user, d.description) == ("2.0", "0123abcd", "release-bot", "new checkout")

    env["PULSE_INGEST_KEY"] = "pulse_ik_" + "y" * 40
    run = subprocess.run([sys.executable, "-m", "pulse_agent.cli", "deploy", "--version", "2.1"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "HTTP 401" in run.stderr and "unknown or revoked" in run.stderr


@pytest.mark.parametrize(
    "before, after, rise_is_worse, verdict",
    [(100, 150, True, "worse"), (100, 50, True, "better"), (100, 105, True, ""), (100, 300, None, ""),
     (0.0, 0.02, True, ""), (None, 1, True, "")],
)
def test_only_a_notable_change_is_judged(before, after, rise_is_worse, verdict):
    assert _change(before, after, rise_is_worse)[1] == verdict
