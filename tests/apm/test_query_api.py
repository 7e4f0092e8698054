"""The query layer over data that went through the real ingest path (endpoint → Redis → consumer)."""

import json
import random
import time

import pytest

from apm.models import AppDay, AppHour, AppMinute, TransactionHour, TransactionMinute
from apm.sketches import DDSketch, decode, merge_into
from apm.tasks import downsample_org
from tenants.models import App
from tests.ingest import payloads as P
from tests.ingest.conftest import drain


def send(client, key, p):
    r = client.post("/api/v1/ingest", P.body(p), content_type="application/json", **P.headers(key))
    assert r.status_code == 202, r.content
    return r


def api(client, org, path, **params):
    return client.get(f"/o/{org.slug}/api/{path}", params)


@pytest.fixture
def minute():
    return int(time.time()) // 60 * 60 - 120


@pytest.fixture
def shop(client, org, ingest_key, consumer, minute):
    """Two payloads from two processes: exact values known."""
    send(client, ingest_key, P.payload("shop", metrics=[
        P.metric("checkout", [0.1, 0.2, 0.3, 2.5], minute, errors=1),
        P.metric("home", [0.05, 0.07], minute),
    ], events=[P.event("checkout", minute + 3, 0.2)], traces=[P.trace("checkout", minute + 1, 2.5, spans=4)],
        errors=[P.error("builtins.ValueError", "bad id 42", minute + 2), P.error("builtins.ValueError", "bad id 7", minute + 4)],
        inst=P.instance(minute + 30)))
    send(client, ingest_key, P.payload("shop", metrics=[
        P.metric("checkout", [0.4, 0.6], minute, errors=0),
        P.metric("home", [0.01], minute + 60),
    ], inst=P.instance(minute + 90, host="web-2", pid=7, cpu=50.0)))
    drain(consumer)
    return App.objects.for_org(org).get(name="shop")


@pytest.mark.django_db
def test_it_reports_exact_totals_in_timeseries(owner_client, org, shop, minute):
    r = api(owner_client, org, f"apps/{shop.pk}/timeseries", **{"from": minute - 60, "to": minute + 180})
    assert r.status_code == 200
    body = r.json()
    assert body["resolution"] == 60
    totals = body["totals"]
    assert totals["count"] == 9 and totals["error_count"] == 1
    assert totals["avg_ms"] == pytest.approx(sum([0.1, 0.2, 0.3, 2.5, 0.05, 0.07, 0.4, 0.6, 0.01]) / 9 * 1000)
    # apdex T 0.5: the errored 0.1 and 2.5 (> 4 T) frustrated; 0.6 tolerating; six satisfied
    assert (totals["apdex_s"], totals["apdex_t"], totals["apdex_f"]) == (6, 1, 2)
    assert totals["apdex"] == pytest.approx(6.5 / 9)
    by_t = {p["t"]: p for p in body["points"]}
    assert by_t[minute]["count"] == 8 and by_t[minute + 60]["count"] == 1
    assert by_t[minute - 60]["count"] == 0 and by_t[minute - 60]["avg_ms"] is None


@pytest.mark.django_db
def test_it_ranks_transactions(owner_client, org, shop, minute):
    r = api(owner_client, org, f"apps/{shop.pk}/transactions", **{"from": minute, "to": minute + 120, "sort": "time"})
    rows = r.json()["transactions"]
    assert [t["name"] for t in rows] == ["checkout", "home"]
    assert rows[0]["count"] == 6 and rows[0]["error_count"] == 1
    assert rows[0]["total_time_s"] == pytest.approx(4.1)
    assert rows[1]["count"] == 3
    assert rows[0]["p95_ms"] == pytest.approx(600, rel=0.01) and rows[1]["p50_ms"] == pytest.approx(50, rel=0.01)
    r = api(owner_client, org, f"apps/{shop.pk}/transactions", **{"from": minute, "to": minute + 120, "sort": "rpm"})
    assert r.json()["transactions"][0]["name"] == "checkout"
    r = api(owner_client, org, f"apps/{shop.pk}/transactions", **{"from": minute, "to": minute + 120, "sort": "p95",
                                                                  "limit": 1})
    assert [t["name"] for t in r.json()["transactions"]] == ["checkout"]
    r = api(owner_client, org, f"apps/{shop.pk}/transactions", **{"from": minute, "to": minute + 120, "q": "HOM"})
    body = r.json()["transactions"]
    assert [t["name"] for t in body] == ["home"] and body[0]["time_share"] == pytest.approx(0.13 / 4.23)
    txn = rows[1]["id"]
    series = api(owner_client, org, f"apps/{shop.pk}/timeseries", transaction=txn,
                 **{"from": minute, "to": minute + 120}).json()
    assert series["transaction"]["name"] == "home" and series["totals"]["count"] == 3
    detail = api(owner_client, org, f"apps/{shop.pk}/transactions/{txn}", **{"from": minute, "to": minute + 120})
    assert detail.json()["totals"]["count"] == 3


@pytest.mark.django_db
def test_it_groups_errors_and_keeps_samples(owner_client, org, shop, minute):
    groups = api(owner_client, org, f"apps/{shop.pk}/errors", range="1h").json()["groups"]
    assert len(groups) == 1
    g = groups[0]
    assert g["count"] == 2 and g["error_class"] == "builtins.ValueError" and g["message"] == "bad id <n>"
    assert g["top_frame"] == "shop/views.py in checkout"
    detail = api(owner_client, org, f"apps/{shop.pk}/errors/{g['id']}", range="1h").json()
    assert sum(p["count"] for p in detail["series"]) == 2
    assert {s["message"] for s in detail["samples"]} == {"bad id 42", "bad id 7"}
    assert detail["samples"][0]["stack"][-1]["function"] == "checkout"


@pytest.mark.django_db
def test_it_lists_traces_events_and_instances(owner_client, org, shop, minute):
    traces = api(owner_client, org, f"apps/{shop.pk}/traces", range="1h").json()["traces"]
    assert len(traces) == 1 and traces[0]["duration_ms"] == pytest.approx(2500) and traces[0]["span_count"] == 4
    trace = api(owner_client, org, f"apps/{shop.pk}/traces/{traces[0]['trace_id']}").json()["trace"]
    assert len(trace["spans"]) == 4 and trace["spans"][1]["attrs"]["db.system"] == "postgresql"
    events = api(owner_client, org, f"apps/{shop.pk}/events", range="1h").json()
    assert len(events["events"]) == 1 and events["events"][0]["name"] == "checkout"
    instances = api(owner_client, org, f"apps/{shop.pk}/instances", range="1h").json()["instances"]
    assert {(i["host"], i["pid"]) for i in instances} == {("web-1", 4242), ("web-2", 7)}
    apps = api(owner_client, org, "apps", minutes=10).json()["apps"]
    assert apps[0]["name"] == "shop" and apps[0]["summary"]["count"] == 9 and len(apps[0]["sparkline"]["rpm"]) == 60


@pytest.mark.django_db
def test_it_hides_everything_from_outsiders(outsider_client, owner_client, org, shop, minute):
    paths = [
        "apps", f"apps/{shop.pk}/timeseries", f"apps/{shop.pk}/transactions", f"apps/{shop.pk}/errors",
        f"apps/{shop.pk}/traces", f"apps/{shop.pk}/events", f"apps/{shop.pk}/instances",
    ]
    for path in paths:
        assert api(outsider_client, org, path).status_code == 404, path
    # Another organisation's ids through one's own organisation are 404 too.
    other = App.objects.for_org(shop.organization).get(pk=shop.pk)
    from tenants.models import Organization

    other_org = Organization.objects.get(slug="other-co")
    assert api(outsider_client, other_org, f"apps/{other.pk}/timeseries").status_code == 404
    txn = api(owner_client, org, f"apps/{shop.pk}/transactions", range="1h").json()["transactions"][0]["id"]
    assert api(owner_client, org, f"apps/{shop.pk}/timeseries", transaction=txn + 10_000).status_code == 404


@pytest.mark.django_db
def test_it_explains_bad_parameters(owner_client, org, shop):
    for params, field in [({"range": "abc"}, "range"), ({"from": "x"}, "from"), ({"range": "500d"}, "range"),
                          ({"type": "cli"}, "type"), ({"transaction": "x"}, "transaction")]:
        r = api(owner_client, org, f"apps/{shop.pk}/timeseries", **params)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, params


def _exact(values, q):
    s = sorted(values)
    return s[int(q * (len(s) - 1))]


@pytest.mark.django_db
@pytest.mark.parametrize("shape", ["lognormal", "bimodal"])
def test_it_answers_percentiles_within_one_percent(owner_client, org, ingest_key, consumer, minute, shape):
    rng = random.Random(7)
    values = []
    for proc in range(12):  # twelve processes, each its own sketch, merged by the pipeline
        if shape == "lognormal":
            d = [rng.lognormvariate(-2.0, 1.2) for _ in range(800)]
        else:
            d = [rng.gauss(0.02, 0.003) if rng.random() < 0.7 else rng.gauss(1.5, 0.2) for _ in range(800)]
            d = [max(x, 0.0005) for x in d]
        values += d
        send(owner_client, ingest_key, P.payload("dist", metrics=[P.metric("t", d, minute - 60 * (proc % 3))]))
    drain(consumer)
    app = App.objects.for_org(org).get(name="dist")
    totals = api(owner_client, org, f"apps/{app.pk}/timeseries", **{"from": minute - 600, "to": minute + 60}).json()["totals"]
    for q, field in [(0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")]:
        exact = _exact(values, q) * 1000
        assert abs(totals[field] - exact) <= 0.01 * exact, (field, totals[field], exact)


@pytest.mark.django_db
def test_it_downsamples_hours_and_days_to_the_merge_of_their_minutes(org, ingest_key, consumer, client):
    rng = random.Random(3)
    now = int(time.time())
    hour = now // 3600 * 3600 - 3600
    minutes = [hour + 60 * k for k in (0, 1, 30, 59)] + [hour + 3600 + 60 * k for k in (0, 2) if hour + 3600 + 120 < now]
    for m in minutes:
        for name in ("a", "b"):
            d = [rng.lognormvariate(-2, 1) for _ in range(rng.randint(1, 40))]
            send(client, ingest_key, P.payload("hours", metrics=[P.metric(name, d, m, errors=min(2, len(d)))]))
    drain(consumer)
    app = App.objects.for_org(org).get(name="hours")
    downsample_org(org.id, [hour, hour + 3600])
    downsample_org(org.id, [hour, hour + 3600])  # idempotent
    fields = ["count", "errors", "apdex_s", "apdex_t", "apdex_f"]
    for coarse, fine, key in [(TransactionHour, TransactionMinute, "transaction_id"), (AppHour, AppMinute, "txn_type")]:
        rows = list(coarse.objects.for_org(org).filter(app=app))
        assert rows
        for row in rows:
            mins = fine.objects.for_org(org).filter(
                app=app, **{key: getattr(row, key)}, time__gte=row.time, time__lt=row.time + __import__("datetime").timedelta(hours=1)
            )
            for f in fields:
                assert getattr(row, f) == sum(getattr(m, f) for m in mins)
            assert row.sum == pytest.approx(sum(m.sum for m in mins))
            assert row.min == min(m.min for m in mins) and row.max == max(m.max for m in mins)
            merged = DDSketch()
            for m in mins:
                merge_into(merged, decode(bytes(m.sketch)))
            assert decode(bytes(row.sketch)) == merged
    for day in AppDay.objects.for_org(org).filter(app=app):
        hours = AppHour.objects.for_org(org).filter(app=app, txn_type=day.txn_type, time__date=day.time.date())
        assert day.count == sum(h.count for h in hours)
        merged = DDSketch()
        for h in hours:
            merge_into(merged, decode(bytes(h.sketch)))
        assert decode(bytes(day.sketch)) == merged


@pytest.mark.django_db
def test_it_counts_long_ranges_exactly_from_mixed_resolutions(owner_client, org, shop, minute):
    downsample_org(org.id, [minute - 3600, minute])
    for rng in ("2d", "5d", "30d"):
        rows = api(owner_client, org, f"apps/{shop.pk}/transactions", range=rng).json()["transactions"]
        assert {t["name"]: t["count"] for t in rows} == {"checkout": 6, "home": 3}, rng
        assert rows[0]["error_count"] == 1


@pytest.mark.django_db
def test_a_stored_nan_answers_null_not_invalid_json(owner_client, org, shop, minute):
    # Postgres stores NaN in a float column; the API must still answer JSON a browser parses.
    AppMinute.objects.for_org(org).filter(app=shop).update(sum=float("nan"))
    r = api(owner_client, org, f"apps/{shop.pk}/timeseries", **{"from": minute - 60, "to": minute + 180})
    assert r.status_code == 200 and r["Content-Type"] == "application/json"
    body = json.loads(r.content, parse_constant=lambda token: pytest.fail(f"{token} in JSON"))
    assert body["totals"]["count"] == 9 and body["totals"]["avg_ms"] is None
