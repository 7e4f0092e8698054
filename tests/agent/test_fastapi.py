"""FastAPI/Starlette with psycopg 3 async, redis.asyncio, Jinja2 async and httpx, and
the same app again with httpx2 as its HTTP client."""

import pytest

from conftest import run_app
from sink import Sink


@pytest.fixture(scope="module", params=["httpx", "httpx2"])
def fastapi_run(request):
    sink = Sink()
    result, proc = run_app(
        "fastapi_driver.py", sink.url, DOWNSTREAM=sink.url, PULSE_TRACE_SAMPLES_PER_MINUTE="60",
        HTTP_CLIENT=request.param,
    )
    yield sink, result, proc
    sink.close()


def test_routes_name_transactions_with_their_path_template(fastapi_run):
    sink, result, _ = fastapi_run
    assert {k: v for k, v in result.items() if k not in ("client", "clients")} == {
        "index": 200, "items": {"doubled": 42, "text": "hello 21"}, "call": 200,
        "sync_call": 200, "boom": 500, "missing": 404,
    }
    assert result["clients"] == [result["client"]]  # instrumented, and the only one imported
    m = sink.metrics_by_name()
    assert m["GET /"]["count"] == 3
    assert m["GET /items/{item_id}"]["count"] == 1
    assert m["GET (no route)"]["count"] == 1
    assert m["GET /boom"]["errors"] == 1
    assert sink.problems == []
    assert any(((p["instance"] or {}).get("framework") or "").startswith("fastapi") for p in sink.payloads)


def test_async_database_redis_and_template_spans(fastapi_run):
    sink, _, _ = fastapi_run
    [trace] = sink.traces_named("GET /items/{item_id}")
    assert trace["trace_id"] == "12" * 16 and trace["parent_span_id"] == "34" * 8
    spans = trace["spans"][1:]
    assert [(s["kind"], s["name"]) for s in spans] == [
        ("database", "SELECT"), ("database", "redis SET"), ("database", "redis GET"), ("template", "hello.txt"),
    ]
    assert spans[0]["attrs"]["sql"] == "SELECT %s::int * ?, ?"
    seg = sink.metrics_by_name()["GET /items/{item_id}"]["segments"]
    assert seg["database"] > 0 and seg["template"] > 0


def test_concurrent_async_calls_and_threadpool_calls_are_each_propagated(fastapi_run):
    sink, _, _ = fastapi_run
    [concurrent] = sink.traces_named("GET /call")
    [threaded] = sink.traces_named("GET /sync-call")
    sent = {h["traceparent"] for h in sink.downstream}
    for trace, n in ((concurrent, 2), (threaded, 1)):
        externals = [s for s in trace["spans"] if s["kind"] == "external"]
        assert len(externals) == n
        for s in externals:
            assert "00-%s-%s-03" % (trace["trace_id"], s["id"]) in sent  # started here: sampled, random
    assert len(sent) == 3


def test_async_errors_are_recorded(fastapi_run):
    sink, _, _ = fastapi_run
    [err] = sink.all("errors")
    assert (err["class"], err["message"], err["transaction"]) == ("RuntimeError", "async boom", "GET /boom")
    assert err["stack"][-1]["function"] == "boom"
