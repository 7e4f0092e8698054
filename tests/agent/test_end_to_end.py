"""End to end: the Django sample app runs under the agent (subprocess) and reports to
the real Pulse ingest endpoint (pytest-django's live server); the pipeline's consumer
applies the batches and the query layer shows the transactions, errors and traces."""

import json
import re
import time
import uuid

import pytest
import redis


@pytest.fixture
def private_stream(settings):
    from ingest.app_resolver import clear_app_cache
    from tenants import keys

    name = "pulse:ingest:test:agent:%s" % uuid.uuid4().hex
    settings.INGEST_STREAM = name
    keys.clear_key_cache()
    clear_app_cache()
    yield name
    redis.Redis.from_url(settings.REDIS_URL).delete(name, name + ":dead")
    keys.clear_key_cache()
    clear_app_cache()


@pytest.mark.django_db(transaction=True)
def test_a_django_app_under_the_agent_shows_up_in_pulse(live_server, org, private_stream, tmp_path):
    from apm import queries
    from apm.consumer import Consumer
    from conftest import run_app
    from tenants.models import App
    from tests.ingest.conftest import drain, make_key

    key = make_key(org)
    started = time.time() - 60
    result, proc = run_app(
        "django_driver.py", live_server.url, "basic",
        DJSHOP_DB=str(tmp_path / "shop.sqlite3"), DOWNSTREAM=live_server.url,
        PULSE_INGEST_KEY=key, PULSE_APP_NAME="Shop (e2e)", PULSE_TRACE_SAMPLES_PER_MINUTE="60",
    )
    assert result["statuses"]["/"] == 200
    assert "rejected" not in proc.stderr and "could not send" not in proc.stderr, proc.stderr
    consumer = Consumer(name="agent-e2e")
    assert drain(consumer) >= 1

    app = App.objects.for_org(org).get(name="Shop (e2e)")
    until = time.time() + 120
    listed = queries.transactions(org, app, started, until)["transactions"]
    by_name = {t["name"]: t for t in listed}
    assert by_name["djshop.views.index"]["count"] == 5
    assert by_name["djshop.views.item_detail"]["count"] == 3
    assert by_name["djshop.views.boom"]["count"] == 1
    groups = queries.error_groups(org, app, started, until)["groups"]
    assert any("boom: secret" in str(g) for g in groups)
    traced = {t["name"] for t in queries.traces(org, app, started, until)["traces"]}
    assert "djshop.views.item_detail" in traced


@pytest.mark.django_db(transaction=True)
def test_runtime_metrics_reach_the_instances_page(live_server, org, private_stream, owner_client, outsider_client):
    from django.urls import reverse

    from apm.consumer import Consumer
    from apm.models import InstanceMinute
    from conftest import run_app
    from tenants.models import App
    from tests.ingest.conftest import drain, make_key

    key = make_key(org)
    result, proc = run_app("runtime_driver.py", live_server.url, "asgi", PULSE_INGEST_KEY=key, PULSE_APP_NAME="Loop")
    assert "rejected" not in proc.stderr and "could not send" not in proc.stderr, proc.stderr
    assert drain(Consumer(name="agent-e2e-runtime")) >= 2

    app = App.objects.for_org(org).get(name="Loop")
    rows = InstanceMinute.objects.for_org(org).filter(app=app, pid=result["pid"])
    assert max(r.loop_lag for r in rows) >= 0.25  # the driver blocked its loop
    assert max(r.threads for r in rows) >= result["threads_started"] + 3
    html = owner_client.get(reverse("app_instances", args=[org.slug, app.id])).content.decode()
    assert 'data-chart="gc"' in html and 'data-chart="loop-lag"' in html
    charted = re.search(r'<script id="loop-lag-data" type="application/json">(.*?)</script>', html).group(1)
    (line,) = json.loads(charted)["series"]
    assert line["label"].endswith(":%d" % result["pid"])
    assert max(v for v in line["values"] if v is not None) >= 250  # ms, the peak of its minute
    assert outsider_client.get(reverse("app_instances", args=[org.slug, app.id])).status_code == 404
