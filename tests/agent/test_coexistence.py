"""Pulse beside Sentry and beside the OpenTelemetry SDK, the real packages, in both
orders of start-up: both keep recording, and after Pulse is shut down and
uninstrumented the other tool still records everything it did before."""

import pytest

from conftest import run_app

ORDERS = ("pulse-first", "tool-first")
ITEM, CALL, RAW = "djshop.views.item_detail", "djshop.views.call_out", "djshop.views.raw_sql"


def run_beside(sink, tool, order, tmp_path):
    result, _ = run_app(
        "coexist_driver.py", sink.url, tool, order, via_cli=False,
        DOWNSTREAM=sink.url, SENTRY_DSN="http://public@127.0.0.1:%d/1" % sink.port,
        DJSHOP_DB=str(tmp_path / "shop.sqlite3"), PULSE_TRACE_SAMPLES_PER_MINUTE="60",
    )
    assert result["statuses"] == [200] * 6
    return result


def assert_pulse_recorded_the_first_phase_only(sink):
    assert sink.wait_for(lambda s: s.count() >= 3)
    assert {name: m["count"] for name, m in sink.metrics_by_name().items()} == {ITEM: 1, CALL: 1, RAW: 1}
    kinds = {name: [sp["kind"] for sp in sink.traces_named(name)[0]["spans"]] for name in (ITEM, CALL, RAW)}
    assert kinds[ITEM].count("database") == 3 and "template" in kinds[ITEM]
    assert kinds[CALL].count("external") == 3  # requests, httpx, urllib
    assert kinds[RAW].count("database") == 1  # sqlite3.connect, wrapped by both tools
    assert sink.problems == []


@pytest.mark.parametrize("order", ORDERS)
def test_sentry_and_pulse_both_record_and_sentry_outlives_pulse(sink, order, tmp_path):
    run_beside(sink, "sentry", order, tmp_path)
    assert_pulse_recorded_the_first_phase_only(sink)
    assert sink.wait_for(lambda s: len(s.sentry_requests()) == 6)
    requests = sink.sentry_requests()
    for phase in (requests[:3], requests[3:]):
        ops = [op for request in phase for op in request]
        # the three ORM queries (and any connection set-up), and the three outgoing calls
        assert ops.count("db") >= 3 and ops.count("http.client") == 3, ops


@pytest.mark.parametrize("order", ORDERS)
def test_opentelemetry_and_pulse_both_record_and_otel_outlives_pulse(sink, order, tmp_path):
    result = run_beside(sink, "otel", order, tmp_path)
    assert_pulse_recorded_the_first_phase_only(sink)
    both, after = result["otel"]
    assert both == after
    assert both.count("SERVER GET items/<int:item_id>/") == 1
    assert both.count("CLIENT GET") == 2  # requests and httpx
    assert sum(name.startswith("CLIENT SELECT") for name in both) == 4, both  # 3 ORM queries, 1 raw
