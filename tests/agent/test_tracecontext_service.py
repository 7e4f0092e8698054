"""W3C Trace Context end to end: requests with traceparent/tracestate reach a real
WSGI server (wsgiref) and a real ASGI server (uvicorn) running under the agent in a
subprocess; each request calls the sink's /downstream with requests, httpx and
urllib. The headers those calls carry are checked against the span ids of the
traces the agent sent to the sink."""

import json

import pytest

from conftest import run_app

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
SERVERS = ("wsgi", "asgi")
CLIENTS = ("requests", "httpx", "urllib")  # in the order the service calls them

CASES = [
    ("continue", [("traceparent", "00-%s-%s-01" % (TRACE, PARENT)),
                  ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")]),
    ("unsampled", [("traceparent", "00-%s-%s-00" % (TRACE, PARENT)), ("tracestate", "rojo=1")]),
    ("random", [("traceparent", "00-%s-%s-02" % (TRACE, PARENT)),
                ("tracestate", "rojo=1,pulse=1111111111111111,congo=2")]),
    ("later-version", [("traceparent", "cc-%s-%s-0d-more-fields" % (TRACE, PARENT))]),
    ("split-lines", [("traceparent", "00-%s-%s-01" % (TRACE, PARENT)),
                     ("tracestate", "rojo=1"), ("tracestate", "congo=2, a=3")]),
    ("invalid-tracestate", [("traceparent", "00-%s-%s-01" % (TRACE, PARENT)),
                            ("tracestate", "rojo=1,Congo=2")]),
    ("restart", [("traceparent", "00-%s-%s-01-extra" % (TRACE, PARENT)), ("tracestate", "rojo=1")]),
    ("two-traceparents", [("traceparent", "00-%s-%s-01" % (TRACE, PARENT)),
                          ("traceparent", "00-%s-%s-01" % ("1" * 32, "2" * 16)), ("tracestate", "rojo=1")]),
    ("no-headers", []),
]

# What goes out for each case: (flags, members after ours) on the incoming trace,
# or None when the trace restarts here.
CONTINUED = {
    "continue": ("01", ",rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    "unsampled": ("00", ",rojo=1"),
    "random": ("02", ",rojo=1,congo=2"),
    "later-version": ("01", ""),
    "split-lines": ("01", ",rojo=1,congo=2,a=3"),
    "invalid-tracestate": ("01", ""),
    "restart": None,
    "two-traceparents": None,
    "no-headers": None,
}


@pytest.fixture(scope="module")
def service(module_sink):
    cases = [{"name": name, "headers": headers} for name, headers in CASES]
    result, _ = run_app(
        "tracecontext_service.py", module_sink.url,
        DOWNSTREAM=module_sink.url, TRACE_CASES=json.dumps(cases), PULSE_TRACE_SAMPLES_PER_MINUTE="60",
    )
    assert result == {"%s/%s" % (s, name): 200 for s in SERVERS for name, _ in CASES}
    assert module_sink.problems == []
    return module_sink


def sent_and_trace(sink, server, case):
    """The headers of each downstream call of one request, by client, and its trace."""
    label = "%s/%s" % (server, case)
    sent = {h["x-case"].rsplit("/", 1)[1]: h for h in sink.downstream if h["x-case"].startswith(label + "/")}
    [trace] = sink.traces_named("GET /" + label)
    return sent, trace


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("case", [name for name, _ in CASES])
def test_outgoing_headers_follow_the_rules(service, server, case):
    sent, trace = sent_and_trace(service, server, case)
    externals = [s for s in trace["spans"] if s["kind"] == "external"]
    assert sorted(sent) == sorted(CLIENTS) and len(externals) == 3
    expected = CONTINUED[case]
    if expected is None:  # a new trace of ours, nothing of the caller's tracestate
        assert trace["trace_id"] != TRACE and trace["parent_span_id"] is None
        flags, forwarded = "03", ""
    else:
        assert (trace["trace_id"], trace["parent_span_id"]) == (TRACE, PARENT)
        flags, forwarded = expected
    for client, span in zip(CLIENTS, externals):
        headers = sent[client]
        assert headers["traceparent"] == "00-%s-%s-%s" % (trace["trace_id"], span["id"], flags)
        assert headers["tracestate"] == "pulse=%s%s" % (span["id"], forwarded)
