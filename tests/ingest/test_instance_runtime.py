"""Runtime metrics in the ``instance`` sample: checked at ingest with a named field,
stored per minute and hour by the worker, served by the instances API and page (escaped),
and never to another organisation. Agents without them are still accepted."""

import time

import pytest
from django.urls import reverse

from apm.downsample import downsample_hours
from apm.models import InstanceHour, InstanceMinute
from tests.ingest import payloads as P
from tests.ingest.conftest import drain
from tests.ingest.test_validation import assert_refused, post

POOLS = [{"name": "django:default", "open": 3, "in_use": 1, "max": 4}, {"name": "<script>x</script>", "open": 2}]
STORED = [POOLS[0], {**POOLS[1], "in_use": None, "max": None}]  # what was not sent is stored as null


def runtime_payload(**changes):
    inst = P.instance(time.time() - 5)
    inst.update(gc_time=0.1, gc_collections=[40, 4, 1], loop_lag=0.25, db_pools=POOLS, period=2.0)
    inst.update(changes)
    return P.simple(inst=inst)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"gc_time": -0.1}, "instance.gc_time"),
        ({"gc_time": 30.0}, "instance.gc_time"),  # longer than the period
        ({"gc_collections": []}, "instance.gc_collections"),
        ({"gc_collections": [1, 2, 3, 4, 5]}, "instance.gc_collections"),
        ({"gc_collections": [1, -2, 3]}, "instance.gc_collections[1]"),
        ({"loop_lag": "slow"}, "instance.loop_lag"),
        ({"loop_lag": 1e9}, "instance.loop_lag"),
        ({"db_pools": [{"name": "a", "open": 1, "in_use": 2}]}, "instance.db_pools[0].in_use"),
        ({"db_pools": [{"name": "", "open": 1}]}, "instance.db_pools[0].name"),
        ({"db_pools": [{"name": "a", "open": 1}] * 2}, "instance.db_pools"),
        ({"db_pools": [{"name": f"p{i}", "open": 1} for i in range(33)]}, "instance.db_pools"),
        ({"db_pools": [{"name": "a", "open": 1, "idle": 0}]}, "instance.db_pools[0]"),
    ],
)
def test_it_names_the_runtime_field_and_rule(client, ingest_key, changes, field):
    assert_refused(post(client, ingest_key, runtime_payload(**changes)), 400, "invalid", field)


@pytest.mark.django_db
def test_it_stores_and_serves_the_runtime_metrics(client, org, ingest_key, consumer, owner_client, outsider_client):
    old_agent = P.simple(inst=P.instance(time.time() - 5, host="web-2"))
    assert post(client, ingest_key, old_agent).status_code == 202
    assert post(client, ingest_key, runtime_payload()).status_code == 202
    assert drain(consumer) == 2

    new, old = InstanceMinute.objects.for_org(org).order_by("host")
    assert (new.gc_percent, new.gc_per_minute, new.loop_lag) == (5.0, [1200.0, 120.0, 30.0], 0.25)
    assert (new.db_connections, new.db_pools) == (5, STORED)
    assert (old.gc_percent, old.gc_per_minute, old.loop_lag, old.db_connections, old.db_pools) == (None,) * 5

    downsample_hours(org.id, [int(new.time.timestamp())])
    hour = InstanceHour.objects.for_org(org).get(host="web-1")
    assert (hour.gc_sum, hour.gc_samples, hour.loop_lag_max, hour.db_connections_max) == (5.0, 1, 0.25, 5)
    assert (hour.gc_per_minute, hour.db_pools) == ([1200.0, 120.0, 30.0], STORED)

    api = f"/o/{org.slug}/api/apps/{new.app_id}/instances"
    procs = {p["host"]: p for p in owner_client.get(api, {"range": "1h"}).json()["instances"]}
    point = procs["web-1"]["series"][-1]
    assert (point["gc_percent"], point["loop_lag"], point["db_connections"]) == (5.0, 0.25, 5)
    assert procs["web-1"]["db_pools"] == STORED and procs["web-1"]["gc_per_minute"] == [1200.0, 120.0, 30.0]
    assert procs["web-2"]["series"][-1]["gc_percent"] is None

    page = reverse("app_instances", args=[org.slug, new.app_id])
    html = owner_client.get(page).content.decode()
    assert 'data-chart="gc"' in html and 'data-chart="loop-lag"' in html and 'data-chart="db"' in html
    assert "250 ms" in html and "5.0%" in html and "(1 in use of 4)" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    assert outsider_client.get(page).status_code == 404
    assert outsider_client.get(api, {"range": "1h"}).status_code == 404
