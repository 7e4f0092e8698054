"""GET /api/v1/metrics: the organisation of the bearer token in the Prometheus text format or
OpenMetrics, read back with prometheus_client's own parsers and compared with the query layer."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from apm import queries
from apm.consumer import Consumer
from apm.models import Transaction
from apm.queries import scrape as scrape_queries
from apm.tasks import downsample_org
from tenants import actions
from tenants.models import ApiToken, TokenScope
from tests.ingest import payloads as P
from tests.ingest.conftest import drain
from tests.prometheus.conftest import scrape, send

OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def samples(body, parser=parse_text):
    """{(sample name, frozenset of labels): value}"""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in parser(body.decode())
        for s in family.samples
    }


def labels(**kw):
    return frozenset(kw.items())


@pytest.mark.django_db
def test_it_exposes_counters_summaries_and_apdex_as_the_query_layer_computes_them(client, org, shop, minute, read_token):
    r = scrape(client, read_token)
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/plain")
    got = samples(r.content)
    checkout = labels(app="shop", transaction="checkout", type="web")
    home = labels(app="shop", transaction="home", type="web")
    assert got[("pulse_transaction_requests_total", checkout)] == 6
    assert got[("pulse_transaction_errors_total", checkout)] == 1
    assert got[("pulse_transaction_requests_total", home)] == 3
    assert got[("pulse_transaction_errors_total", home)] == 0
    assert got[("pulse_transaction_duration_seconds_count", checkout)] == 6
    assert got[("pulse_transaction_duration_seconds_sum", checkout)] == pytest.approx(4.1)

    start, end = scrape_queries.recent_window(time.time())
    txn = Transaction.objects.for_org(org).get(app=shop, name="checkout")
    stats = queries.window_stats(org, shop, start, end, transaction=txn.pk)
    for q, field in (("0.5", "p50_ms"), ("0.95", "p95_ms"), ("0.99", "p99_ms")):
        key = ("pulse_transaction_duration_seconds", checkout | {("quantile", q)})
        assert got[key] == pytest.approx(stats[field] / 1000)
    assert got[("pulse_transaction_apdex", checkout)] == pytest.approx(stats["apdex"])

    app_stats = queries.window_stats(org, shop, start, end)
    web = labels(app="shop", type="web")
    assert got[("pulse_app_duration_seconds_count", web)] == 9
    assert got[("pulse_app_duration_seconds", web | {("quantile", "0.95")})] == pytest.approx(app_stats["p95_ms"] / 1000)
    assert got[("pulse_app_apdex", web)] == pytest.approx(app_stats["apdex"])

    assert got[("pulse_instance_cpu_percent", labels(app="shop", host="web-2", pid="7"))] == 50.0
    assert got[("pulse_instance_memory_bytes", labels(app="shop", host="web-1", pid="4242"))] == 100_000_000


@pytest.mark.django_db
def test_it_answers_openmetrics_when_asked_with_the_counters_origin(client, shop, read_token):
    r = scrape(client, read_token, accept=OPENMETRICS)
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/openmetrics-text")
    assert r.content.endswith(b"# EOF\n")
    families = {f.name: f for f in parse_openmetrics(r.content.decode())}
    assert families["pulse_transaction_requests"].type == "counter"
    assert families["pulse_transaction_duration_seconds"].type == "summary"
    created = {s.value for s in families["pulse_transaction_requests"].samples if s.name.endswith("_created")}
    assert created == {float(scrape_queries.day_start(time.time()))}


@pytest.mark.django_db
def test_hostile_transaction_names_come_back_exactly(client, org, ingest_key, consumer, minute, read_token):
    hostile = 'GET /a"b\\c\n} evil{x="1"} # HELP'
    send(client, ingest_key, P.payload("shop", metrics=[P.metric(hostile, [0.1, 0.2], minute)]))
    drain(consumer)
    for accept, parser in ((None, parse_text), (OPENMETRICS, parse_openmetrics)):
        got = samples(scrape(client, read_token, accept).content, parser)
        assert got[("pulse_transaction_requests_total", labels(app="shop", transaction=hostile, type="web"))] == 2


@pytest.mark.django_db
def test_another_organisations_token_sees_nothing_of_this_one(client, org, shop, outsider_token, outsider_key, minute):
    send(client, outsider_key, P.payload("theirs", metrics=[P.metric("their-view", [0.3], minute)]))
    drain(Consumer(name="outsider"))
    body = scrape(client, outsider_token).content.decode()
    assert "their-view" in body
    assert "shop" not in body and "checkout" not in body and "web-2" not in body


@pytest.mark.django_db
def test_it_refuses_missing_bad_and_revoked_tokens(client, org, owner, shop, read_token, ingest_key):
    assert client.get("/api/v1/metrics").status_code == 401
    for bad in ("nonsense", ingest_key, read_token[:-1] + ("A" if read_token[-1] != "A" else "B")):
        r = scrape(client, bad)
        assert r.status_code == 401, bad
        assert r["WWW-Authenticate"].startswith("Bearer")
        assert "unknown or revoked" in r.json()["error"]["message"]
    assert scrape(client, read_token).status_code == 200
    token = ApiToken.objects.for_org(org).get()
    actions.revoke_api_token(org, token.pk)
    assert scrape(client, read_token).status_code == 401


@pytest.mark.django_db
def test_it_marks_when_a_token_was_last_used(client, org, read_token):
    assert ApiToken.objects.for_org(org).get().last_used_at is None
    assert scrape(client, read_token).status_code == 200
    assert ApiToken.objects.for_org(org).get().last_used_at is not None


@pytest.mark.django_db
def test_write_tokens_read_too_and_only_get_is_answered(client, org, owner, shop):
    raw = actions.create_api_token(org, "ci", TokenScope.WRITE, owner).raw
    assert scrape(client, raw).status_code == 200
    assert client.post("/api/v1/metrics", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 405


@pytest.mark.django_db
def test_counters_never_go_down_when_hours_are_downsampled_and_late_data_arrives(
    client, org, shop, minute, read_token, ingest_key, consumer
):
    checkout = ("pulse_transaction_requests_total", labels(app="shop", transaction="checkout", type="web"))
    before = samples(scrape(client, read_token).content)[checkout]
    downsample_org(org.pk)  # hour rows written, marks removed: read from the hour rows now
    assert samples(scrape(client, read_token).content)[checkout] == before
    send(client, ingest_key, P.payload("shop", metrics=[P.metric("checkout", [0.2], minute)]))  # late, same minute
    drain(consumer)
    assert samples(scrape(client, read_token).content)[checkout] == before + 1  # from the marked hour's minutes
    downsample_org(org.pk)
    assert samples(scrape(client, read_token).content)[checkout] == before + 1


@pytest.mark.django_db
def test_a_scrape_costs_the_same_queries_whatever_the_number_of_apps_and_transactions(
    client, org, ingest_key, consumer, minute, read_token
):
    def queries_of_a_scrape():
        scrape(client, read_token)  # warms the sketch caches
        with CaptureQueriesContext(connection) as captured:
            assert scrape(client, read_token).status_code == 200
        return len(captured)

    send(client, ingest_key, P.payload("one", metrics=[P.metric("a", [0.1], minute)], inst=P.instance(minute + 5)))
    drain(consumer)
    few = queries_of_a_scrape()
    assert few > 0  # the captured scrape did run its queries
    for app in ("two", "three", "four"):
        send(client, ingest_key, P.payload(app, metrics=[P.metric(f"t{i}", [0.1, 0.3], minute) for i in range(8)],
                                           inst=P.instance(minute + 5, host=app)))
    drain(consumer)
    assert queries_of_a_scrape() == few
