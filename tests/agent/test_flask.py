"""Flask with sqlite3, Jinja2, psycopg 3, psycopg2 (real Postgres), redis-py (real
Redis), requests and urllib3, under the agent in a subprocess."""

import pytest

from conftest import run_app

INCOMING_TRACE = "ab" * 16


@pytest.fixture(scope="module")
def flask_run(module_sink):
    result, proc = run_app(
        "flask_driver.py", module_sink.url, "basic",
        DOWNSTREAM=module_sink.url, PULSE_TRACE_SAMPLES_PER_MINUTE="60",
    )
    return module_sink, result, proc


def spans_of(sink, name):
    [trace] = sink.traces_named(name)
    return trace, trace["spans"][1:]


def test_flask_transactions_are_named_after_view_functions(flask_run):
    sink, result, _ = flask_run
    assert result["index"] == 200 and result["boom"] == 500 and result["404"] == 404
    assert result["item_body"] == "<h1>a</h1><span>20</span><span>30</span>"
    m = sink.metrics_by_name()
    assert m["index"]["count"] == 4
    assert m["item"]["count"] == 2
    assert m["boom"]["errors"] == 1
    assert m["GET (no route)"]["count"] == 1
    assert sink.problems == []


def test_sqlite3_and_jinja2_are_timed(flask_run):
    sink, _, _ = flask_run
    _, spans = spans_of(sink, "item")
    db = [s for s in spans if s["kind"] == "database"]
    # comments are gone, and the span names are made from what is sent
    assert [(s["name"], s["attrs"]["sql"]) for s in db] == [
        ("SELECT item", "SELECT name FROM item WHERE id = ?"),
        ("SELECT item", "SELECT price FROM item WHERE price > ? ORDER BY price"),
    ]
    assert all(s["attrs"]["db.system"] == "sqlite" for s in db)
    assert "alice" not in str(spans) and "4711" not in str(spans)
    [tmpl] = [s for s in spans if s["kind"] == "template"]
    assert tmpl["name"] == "item.html"
    seg = sink.metrics_by_name()["item"]["segments"]
    assert seg["database"] > 0 and seg["template"] > 0


def test_psycopg_3_and_psycopg2_queries_are_obfuscated_spans(flask_run):
    sink, _, _ = flask_run
    _, spans = spans_of(sink, "pg")
    db = [s for s in spans if s["kind"] == "database"]
    assert len(db) == 3  # psycopg 3 (Connection.execute + cursor) and psycopg2
    assert all(s["attrs"]["db.system"] == "postgresql" for s in db)
    sqls = [s["attrs"]["sql"] for s in db]
    assert sqls[1] == "SELECT ? AS x WHERE ? = %s"
    assert "secret-literal" not in " ".join(sqls)
    assert sqls[2] == "SELECT count(*) FROM pg_class WHERE relname = %s"
    assert db[2]["name"] == "SELECT pg_class"


def test_redis_commands_are_spans_without_arguments(flask_run):
    sink, _, _ = flask_run
    _, spans = spans_of(sink, "redis_view")
    names = [s["name"] for s in spans if s["kind"] == "database"]
    assert names == ["redis SET", "redis GET", "redis PIPELINE"]
    assert all("pulse-agent-test" not in str(s["attrs"]) for s in spans)
    assert sink.metrics_by_name()["redis_view"]["segments"]["database"] > 0


def test_requests_and_urllib3_propagate_the_incoming_trace(flask_run):
    sink, _, _ = flask_run
    trace, spans = spans_of(sink, "call")
    assert trace["trace_id"] == INCOMING_TRACE and trace["parent_span_id"] == "cd" * 8
    externals = [s for s in spans if s["kind"] == "external"]
    assert len(externals) == 2
    sent = [h["traceparent"] for h in sink.downstream]
    assert sorted(sent) == sorted("00-%s-%s-01" % (INCOMING_TRACE, s["id"]) for s in externals)
    assert all(s["attrs"]["url"].endswith("/downstream") for s in externals)


def test_errors_keep_class_message_and_code_lines(flask_run):
    sink, _, _ = flask_run
    [err] = [e for e in sink.all("errors") if e["transaction"] == "boom"]
    assert err["class"] == "KeyError"
    assert err["stack"][-1]["code"] == 'raise KeyError("missing thing")'
    assert "locals" not in str(err)


def test_the_apps_own_exception_propagates_unchanged(sink):
    result, _ = run_app("flask_driver.py", sink.url, "propagate")
    assert result == {"same_object": True, "raised_in": "original", "message": "the original"}
    assert sink.wait_for(lambda s: s.count("original") == 1)
    assert sink.metrics_by_name()["original"]["errors"] == 1


def test_an_exception_inside_the_agent_never_reaches_the_app(sink):
    result, proc = run_app("flask_driver.py", sink.url, "hook_faults", DOWNSTREAM=sink.url)
    assert result["statuses"] == [200, 200, 500, 200] * 3
    assert result["same_object"] is True
    # logged, but once per place (rate-limited), not once per call
    lines = [ln for ln in proc.stderr.splitlines() if "internal error in" in ln]
    assert lines and len(lines) == len(set(lines))


def test_database_and_external_calls_are_aggregated_per_operation(flask_run):
    sink, _, _ = flask_run
    counts = {name: {k: v[:2] for k, v in sink.operations_of(name).items()} for name in ("item", "pg", "redis_view")}
    assert counts["item"] == {("database", "sqlite", "SELECT", "item"): [4, 0]}  # 2 requests x 2 statements
    assert counts["pg"] == {
        ("database", "postgresql", "SELECT", ""): [2, 0],
        ("database", "postgresql", "SELECT", "pg_class"): [1, 0],
    }
    assert counts["redis_view"] == {
        ("database", "redis", op, ""): [1, 0] for op in ("SET", "GET", "PIPELINE")
    }
    call = sink.operations_of("call")
    host = sink.url.split("://", 1)[1].rstrip("/")
    assert {k: v[:2] for k, v in call.items()} == {("external", host, "GET", ""): [2, 0]}
    # each call's own time, within the transaction's
    assert 0 < call[("external", host, "GET", "")][2] <= sum(m["sum"] for m in sink.all("metrics") if m["name"] == "call")
    assert "secret" not in str([p.get("operations") for p in sink.payloads])
