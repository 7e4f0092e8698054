"""Django under the agent (subprocess), reporting to a real local sink."""

import pytest

from conftest import run_app

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


@pytest.fixture(scope="module")
def django_run(module_sink, tmp_path_factory):
    sink = module_sink
    sink.apdex_t = 0.05
    db = tmp_path_factory.mktemp("dj") / "shop.sqlite3"
    result, proc = run_app(
        "django_driver.py",
        sink.url,
        "basic",
        DJSHOP_DB=str(db),
        DOWNSTREAM=sink.url,
        PULSE_APDEX_T="0.05",
        PULSE_TRACE_SAMPLES_PER_MINUTE="60",
    )
    # the app has exited, so its last payload (flushed at exit) is in
    return sink, result, proc


def test_it_names_transactions_after_the_resolved_view(django_run):
    sink, result, _ = django_run
    assert result["statuses"] == {
        "/": 200, "/items": 200, "/boom": 500, "/nowhere": 404, "/slow": 200, "/ping": 200, "/call": 200,
    }
    metrics = sink.metrics_by_name()
    assert metrics["djshop.views.index"]["count"] == 5
    assert metrics["djshop.views.item_detail"]["count"] == 3
    assert metrics["djshop.views.PingView"]["count"] == 1
    assert metrics["GET (no route)"]["count"] == 1
    assert all(m["type"] == "web" for m in metrics.values())
    assert not any("/items/" in name for name in metrics)  # never the raw URL
    assert sink.problems == []


def test_it_counts_errors_and_keeps_the_stack(django_run):
    sink, _, _ = django_run
    metrics = sink.metrics_by_name()
    assert metrics["djshop.views.boom"]["errors"] == 1
    assert metrics["GET (no route)"]["errors"] == 0  # a 404 is not an error
    [error] = sink.all("errors")
    assert error["class"] == "ValueError"
    assert error["message"] == "boom: secret=hunter2"
    assert error["transaction"] == "djshop.views.boom"
    last = error["stack"][-1]
    assert last["function"] == "boom"
    assert last["file"].endswith("views.py")
    assert "raise ValueError" in last["code"]
    events = [e for e in sink.all("events") if e["name"] == "djshop.views.boom"]
    assert events and events[0]["error"] is True and events[0]["status"] == 500


def test_it_times_database_and_template_segments(django_run):
    sink, _, _ = django_run
    seg = sink.metrics_by_name()["djshop.views.item_detail"]["segments"]
    assert seg["database"] > 0
    assert seg["template"] > 0
    assert seg["python"] > 0
    assert sink.metrics_by_name()["djshop.views.index"]["segments"]["database"] == 0


def test_trace_has_spans_for_middleware_queries_and_templates(django_run):
    sink, _, _ = django_run
    [trace] = sink.traces_named("djshop.views.item_detail")[:1]
    assert trace["trace_id"] == TRACE_ID
    assert trace["parent_span_id"] == PARENT
    spans = trace["spans"]
    by_kind = {}
    for sp in spans:
        by_kind.setdefault(sp["kind"], []).append(sp)
    assert len(by_kind["database"]) == 3
    for sp in by_kind["database"]:
        assert sp["attrs"]["db.system"] == "sqlite"
        assert sp["name"].startswith("SELECT")
    sqls = " ".join(sp["attrs"]["sql"] for sp in by_kind["database"])
    assert "?" in sqls or "%s" in sqls
    templates = {sp["name"]: sp for sp in by_kind["template"]}
    assert set(templates) == {"djshop/item.html", "djshop/price.html"}
    # the include nests inside the page template
    assert templates["djshop/price.html"]["parent"] == templates["djshop/item.html"]["id"]
    functions = [sp["name"] for sp in by_kind["function"]]
    assert "django.middleware.security.SecurityMiddleware" in functions
    assert "django.middleware.common.CommonMiddleware" in functions
    assert "view" in functions
    root = spans[0]
    assert root["parent"] is None
    assert all(sp["parent"] is not None for sp in spans[1:])


def test_sql_literals_are_obfuscated(django_run):
    sink, _, _ = django_run
    for trace in sink.all("traces"):
        for sp in trace["spans"]:
            sql = sp["attrs"].get("sql", "")
            assert "'it" not in sql and "100" not in sql, sql


def test_slow_transactions_are_traced(django_run):
    sink, _, _ = django_run
    [trace] = sink.traces_named("djshop.views.slow")
    assert trace["duration"] > 4 * 0.05
    events = [e for e in sink.all("events") if e["name"] == "djshop.views.slow"]
    assert events[0]["has_trace"] is True
    assert events[0]["trace_id"] == trace["trace_id"]


def test_outgoing_calls_carry_traceparent_and_are_external_spans(django_run):
    sink, _, _ = django_run
    assert len(sink.downstream) == 3
    span_ids = set()
    for headers in sink.downstream:
        version, trace_id, span_id, flags = headers["traceparent"].split("-")
        assert (version, trace_id, flags) == ("00", TRACE_ID, "01")
        span_ids.add(span_id)
    [trace] = sink.traces_named("djshop.views.call_out")
    externals = [sp for sp in trace["spans"] if sp["kind"] == "external"]
    assert {sp["id"] for sp in externals} == span_ids
    for sp in externals:
        assert "?" not in sp["attrs"]["url"] and "token" not in sp["attrs"]["url"]
        assert sp["attrs"]["status"] == "200"
        assert sp["attrs"]["url"].endswith("/downstream")
    assert sink.metrics_by_name()["djshop.views.call_out"]["segments"]["external"] > 0


def test_instance_reports_framework_and_process(django_run):
    sink, _, _ = django_run
    inst = [p["instance"] for p in sink.payloads if p["instance"]]
    assert inst
    assert inst[-1]["framework"].startswith("django ")
    assert inst[-1]["memory_bytes"] > 0
    assert all(p["app"] == "agent-test" for p in sink.payloads)
    # the agent used the server's Apdex T once it had it
    assert {p["apdex_t"] for p in sink.payloads} <= {0.05}


def test_events_count_every_transaction(django_run):
    sink, _, _ = django_run
    seen = sum(p["events_seen"] for p in sink.payloads)
    total = sum(m["count"] for m in sink.metrics_by_name().values())
    assert seen == total == 13


def test_django_under_asgi(sink, tmp_path):
    result, _ = run_app(
        "django_driver.py", sink.url, "asgi",
        DJSHOP_DB=str(tmp_path / "asgi.sqlite3"), PULSE_TRACE_SAMPLES_PER_MINUTE="60",
    )
    assert result["statuses"] == {"/": 200, "/items": 200, "/boom": 500}
    m = sink.metrics_by_name()
    assert m["djshop.views.index"]["count"] == 1
    assert m["djshop.views.item_detail"]["count"] == 1
    assert m["djshop.views.boom"]["errors"] == 1
    # sync views run in a worker thread: queries and templates are still attributed
    seg = m["djshop.views.item_detail"]["segments"]
    assert seg["database"] > 0 and seg["template"] > 0
    [trace] = sink.traces_named("djshop.views.item_detail")
    assert trace["trace_id"] == TRACE_ID
    assert len([s for s in trace["spans"] if s["kind"] == "database"]) == 3
    assert sink.problems == []


@pytest.fixture
def postgres_database():
    """A database of its own on the local PostgreSQL server, dropped after."""
    import os

    import psycopg

    name = "pulse_agent_djshop_%d" % os.getpid()
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s"' % name)
        conn.execute('CREATE DATABASE "%s"' % name)
    yield name
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def test_orm_queries_on_postgresql_are_recorded_once(sink, postgres_database):
    # psycopg's own hook sees the ORM's span open and stays out: one span per statement
    result, _ = run_app(
        "django_driver.py", sink.url, "basic",
        DJSHOP_PG=postgres_database, DOWNSTREAM=sink.url, PULSE_TRACE_SAMPLES_PER_MINUTE="60",
    )
    assert result["statuses"]["/items"] == 200
    [trace] = sink.traces_named("djshop.views.item_detail")[:1]
    database = [sp for sp in trace["spans"] if sp["kind"] == "database"]
    sqls = [sp["attrs"]["sql"] for sp in database]
    # Django sets the time zone on the new connection through psycopg (no ORM span
    # there), then the view's three ORM queries, each once
    assert len(sqls) == 4
    assert sqls[0].startswith("SELECT set_config(")
    assert [s.split()[0] for s in sqls[1:]] == ["SELECT"] * 3
    assert all('FROM "djshop_item"' in s for s in sqls[1:])
    assert sqls[3].startswith("SELECT COUNT(*)")
    assert all(sp["attrs"]["db.system"] == "postgresql" for sp in database)
    assert "'it" not in " ".join(sp["attrs"]["sql"] for sp in database)
    assert sink.metrics_by_name()["djshop.views.item_detail"]["segments"]["database"] > 0
    # every item_detail request's three ORM statements, aggregated under their table
    requests = sink.metrics_by_name()["djshop.views.item_detail"]["count"]
    ops = sink.operations_of("djshop.views.item_detail")
    assert ops[("database", "postgresql", "SELECT", "djshop_item")][:2] == [3 * requests, 0]
    assert set(ops) <= {("database", "postgresql", "SELECT", "djshop_item"), ("database", "postgresql", "SELECT", "")}
    assert sink.problems == []
