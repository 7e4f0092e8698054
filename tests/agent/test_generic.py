"""The generic WSGI/ASGI middleware, background_task() and urllib."""

import pytest

from conftest import run_app


@pytest.fixture(scope="module")
def generic_run(module_sink):
    result, proc = run_app("generic_driver.py", module_sink.url, DOWNSTREAM=module_sink.url)
    return module_sink, result, proc


def test_wsgi_middleware_names_by_url_without_ids_and_keeps_exceptions(generic_run):
    sink, result, _ = generic_run
    assert result == {"orders": [200, 200, 200], "missing": 404, "fail": "wsgi failure", "asgi": 201}
    m = sink.metrics_by_name()
    assert m["GET /orders/{id}"]["count"] == 3
    assert m["GET /missing"]["errors"] == 0
    assert m["GET /fail"]["errors"] == 1
    statuses = {e["name"]: e["status"] for e in sink.all("events")}
    assert statuses["GET /missing"] == 404 and statuses["GET /orders/{id}"] == 200
    [err] = sink.all("errors")
    assert (err["class"], err["message"]) == ("OSError", "wsgi failure")


def test_asgi_middleware_reads_traceparent(generic_run):
    sink, _, _ = generic_run
    [event] = [e for e in sink.all("events") if e["name"] == "POST /api/things/{id}"]
    assert event["status"] == 201
    assert event["trace_id"] == "56" * 16


def test_background_task_with_urllib_call(generic_run):
    sink, _, _ = generic_run
    m = sink.metrics_by_name()["nightly.cleanup"]
    assert m["type"] == "background" and m["count"] == 2
    assert m["segments"]["external"] > 0
    assert len(sink.downstream) == 2
    assert all(h["traceparent"].startswith("00-") for h in sink.downstream)
    assert sink.problems == []
