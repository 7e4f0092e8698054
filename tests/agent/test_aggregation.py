"""Folding finished transactions on the harvest side, in-process: the request path
only appends tuples; these check that what comes out is exact."""

import random

import pytest

from pulse_agent import config, state, transaction
from pulse_agent.aggregator import FOLD_AT, OTHER_NAME, Aggregator
from pulse_agent.sketch import DDSketch


@pytest.fixture
def attach():
    """Attach an Aggregator to the request-side hot path, for one test."""

    def attach(**kwargs):
        a = Aggregator(config.load(environ={"PULSE_APDEX_T": "0.1", "PULSE_MAX_EVENTS": "50"}), **kwargs)
        a.attach()
        return a

    yield attach
    state.reset()


@pytest.fixture
def agg(attach):
    return attach()


def run(name, duration, status=200, db=0.0, error=False):
    txn = transaction.Transaction(name)
    txn.status = status
    txn.t_db = db
    txn.error = error
    txn.spans.append((transaction.FUNCTION, "view", txn.t0, txn.t0 + duration, None, None))
    txn.duration = duration
    state.hand_off(txn, duration)
    return txn


def test_metrics_are_exact_per_name(agg):
    rng = random.Random(7)
    expected = {}
    for i in range(3000):
        name = "view.%d" % (i % 3)
        d = rng.choice([0.01, 0.05, 0.2, 0.6, 1e-12]) * rng.uniform(0.5, 1.5)
        status = 500 if i % 97 == 0 else 200
        db = d / 3 if i % 2 else 0.0
        run(name, d, status, db)
        e = expected.setdefault(name, {"durations": [], "errors": 0, "db": 0.0, "apdex": [0, 0, 0]})
        e["durations"].append(d)
        e["db"] += db
        if status >= 500:
            e["errors"] += 1
            e["apdex"][2] += 1
        else:
            e["apdex"][0 if d <= 0.1 else 1 if d <= 0.4 else 2] += 1
        if i % 700 == 0:
            agg.fold()  # several batches into one harvest
    h = agg.swap()
    [by_name] = h.metrics.values()  # (a minute boundary is covered below)
    assert set(by_name) == set(expected)
    for name, e in expected.items():
        m = by_name[name]
        assert m.count == len(e["durations"])
        assert m.errors == e["errors"]
        assert [m.satisfied, m.tolerating, m.frustrated] == e["apdex"]
        assert m.min == min(e["durations"]) and m.max == max(e["durations"])
        assert m.sum == pytest.approx(sum(e["durations"]))
        assert m.database == pytest.approx(e["db"])
        assert m.python == pytest.approx(sum(e["durations"]) - e["db"])
        one_by_one = DDSketch()
        for d in e["durations"]:
            one_by_one.add(d)
        assert m.sketch.to_bytes() == one_by_one.to_bytes()
    assert h.events_seen == 3000
    assert len(h.events) == 50


def test_a_batch_across_a_minute_boundary_is_split_by_end_minute(agg):
    for _ in range(5):
        run("a", 0.01)
    h = agg.current
    batch = agg.buffer[:]
    del agg.buffer[:]
    minute_end = 1_800_000_060.0  # perf_counter -> wall offset chosen to straddle it
    first_end = batch[0][2] + batch[0][3]
    h.fold(batch[:2], minute_end - first_end - 0.5)
    h.fold(batch[2:], minute_end - first_end + 0.5)
    counts = {minute: by_name["a"].count for minute, by_name in h.metrics.items()}
    assert counts == {1_800_000_000: 2, 1_800_000_060: 3}


def test_names_past_the_limit_are_counted_as_other(agg):
    agg.settings.max_metric_names = 2
    agg.current.settings = agg.settings
    for name in ("a", "b", "c", "d", "a"):
        run(name, 0.01)
    h = agg.swap()
    [by_name] = h.metrics.values()
    assert {n: m.count for n, m in by_name.items()} == {"a": 2, "b": 1, OTHER_NAME: 2}
    metrics, events, seen, traces, errors = h.payload_parts()
    assert {e["name"] for e in events} == {"a", "b", OTHER_NAME}


def test_slow_transactions_become_traces_and_their_events_name_them(agg):
    run("fast", 0.01)
    slow = run("slow", 0.5)  # over 4 x Apdex T
    h = agg.swap()
    metrics, events, seen, traces, errors = h.payload_parts()
    names = [t["name"] for t in traces]
    assert "slow" in names
    [event] = [e for e in events if e["name"] == "slow"]
    assert event["has_trace"] and event["trace_id"] == slow.trace_id


def test_a_full_buffer_drops_and_counts(attach):
    agg = attach(capacity=10)
    for _ in range(25):
        run("a", 0.01)
    assert len(agg.buffer) == 10
    assert agg.take_dropped() == 15
    h = agg.swap()
    [by_name] = h.metrics.values()
    assert by_name["a"].count == 10


def test_nothing_is_buffered_once_the_hot_path_is_reset(agg):
    run("a", 0.01)
    state.reset()
    run("a", 0.01)
    assert len(agg.buffer) == 1
    assert agg.take_dropped() == 0


def test_the_request_that_fills_a_fold_batch_wakes_the_harvest_thread(agg):
    woken = []
    agg.attach(wake=lambda: woken.append(len(agg.buffer)))
    for _ in range(FOLD_AT - 1):
        run("a", 0.01)
    assert woken == []
    run("a", 0.01)
    assert woken == [FOLD_AT]
    for _ in range(10):
        run("a", 0.01)
    assert woken == [FOLD_AT]  # once per batch


def run_with_spans(name, spans, duration=0.05):
    txn = transaction.Transaction(name)
    txn.status = 200
    base = txn.t0
    for kind, span_name, start, length, attrs, extra in spans:
        txn.spans.append((kind, span_name, base + start, base + start + length, attrs, extra))
    txn.duration = duration
    txn.t_db = txn.t_ext = 0.001  # as the hooks count them
    state.hand_off(txn, duration)


def test_database_and_external_spans_are_aggregated_per_operation(agg):
    sql = "SELECT name FROM shop_item WHERE id = %s AND sku = 'ab-12'"
    for i in range(30):
        run_with_spans("view.%d" % (i % 2), [
            (transaction.DATABASE, None, 0.001, 0.002 * (i + 1), sql, "postgresql"),
            (transaction.DATABASE, "redis GET", 0.01, 0.001, {"db.system": "redis"}, None),
            (transaction.EXTERNAL, "POST api.example.com", 0.02, 0.01,
             {"method": "POST", "url": "https://api.example.com/pay", "host": "api.example.com",
              "status": "503" if i % 3 == 0 else "201"}, "b" * 16),
            (transaction.EXTERNAL, "GET down.example.com", 0.03, 0.01,
             {"method": "GET", "url": "https://down.example.com/", "host": "down.example.com"}, "c" * 16),
            (transaction.TEMPLATE, "page.html", 0.04, 0.001, None, None),
        ])
    ops = {(o["transaction"], o["kind"], o["service"], o["operation"], o["table"]): o for o in agg.swap().operations.payload()}
    assert set(ops) == {
        (t, k, s, op, table)
        for t in ("view.0", "view.1")
        for k, s, op, table in [
            ("database", "postgresql", "SELECT", "shop_item"), ("database", "redis", "GET", ""),
            ("external", "api.example.com", "POST", ""), ("external", "down.example.com", "GET", ""),
        ]
    }
    select = ops[("view.0", "database", "postgresql", "SELECT", "shop_item")]
    durations = [0.002 * (i + 1) for i in range(0, 30, 2)]
    assert (select["count"], select["errors"]) == (15, 0)
    assert select["sum"] == pytest.approx(sum(durations))
    expected = DDSketch()
    for d in durations:
        expected.add(d)
    assert DDSketch.from_base64(select["sketch"]).count == 15
    assert DDSketch.from_base64(select["sketch"]).quantile(0.95) == pytest.approx(expected.quantile(0.95))
    # a 5xx answer, or none at all, is an error
    assert ops[("view.0", "external", "api.example.com", "POST", "")]["errors"] == 5  # i = 0, 6, 12, 18, 24
    assert ops[("view.1", "external", "down.example.com", "GET", "")]["errors"] == 15
    assert "ab-12" not in str(ops)


def test_operations_past_the_limit_are_counted_as_other(attach):
    a = Aggregator(config.load(environ={"PULSE_MAX_OPERATIONS": "10"}))
    a.attach()
    for i in range(25):
        run_with_spans("view", [(transaction.DATABASE, None, 0.0, 0.001, "SELECT * FROM t%d" % i, "sqlite")])
    ops = {(o["service"], o["operation"], o["table"]): o["count"] for o in a.swap().operations.payload()}
    assert a.swap().operations.payload() == []
    assert len(ops) == 11
    assert ops[("(other)", "(other)", "")] == 15
    assert sum(ops.values()) == 25


def test_spans_of_transactions_without_database_or_external_time_are_not_held(agg):
    run("view", 0.01)  # function spans only
    txn = transaction.Transaction("query")
    txn.spans.append((transaction.DATABASE, None, txn.t0, txn.t0 + 0.001, "SELECT 1", "sqlite"))
    txn.t_db = 0.001
    state.hand_off(txn, 0.01)
    assert [rec[11] for rec in agg.buffer] == [None, txn.spans]
