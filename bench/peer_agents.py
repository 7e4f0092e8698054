"""Other APM agents beside Pulse in ``bench/agent_overhead.py --peers``: how each is
started in a bench child, and one local sink that takes what each of them sends.

Each peer runs with tracing on and records to a sink in the parent process, so the
figures are for agents that do their full work: the OpenTelemetry SDK (Django,
sqlite3 and psycopg instrumentations, batch span processor, OTLP/HTTP exporter),
ddtrace (``ddtrace.auto``, v0.4 msgpack traces), sentry-sdk (``traces_sample_rate=1.0``,
envelopes) and New Relic. New Relic cannot report anywhere but its own collector,
so it runs in its developer mode (its own fake collector client, which builds and
"sends" every harvest payload without a network); the child counts the events in
those payloads.
"""

import gzip
import json
import os
import re
import tempfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PEERS = ("opentelemetry", "newrelic", "ddtrace", "sentry")
LABELS = {"agent": "Pulse", "opentelemetry": "OpenTelemetry", "newrelic": "New Relic",
          "ddtrace": "ddtrace", "sentry": "Sentry"}
_SENTRY_ENVELOPE = re.compile(r"^/api/\d+/envelope/?$")

# -- the parent: one sink for every protocol ----------------------------------------------


class Counts:
    """Payloads and spans (or transactions, for Pulse) received per agent."""

    def __init__(self):
        self.lock = threading.Lock()
        self.payloads = {}
        self.spans = {}

    def add(self, agent, spans):
        with self.lock:
            self.payloads[agent] = self.payloads.get(agent, 0) + 1
            self.spans[agent] = self.spans.get(agent, 0) + spans

    def snapshot(self):
        with self.lock:
            return dict(self.payloads), dict(self.spans)


def _pulse_transactions(body):
    payload = json.loads(gzip.decompress(body))
    return sum(m["count"] for m in payload.get("metrics", ()) if m.get("type") == "web")


def _otlp_spans(body):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)


def _ddtrace_spans(body):
    import msgpack

    return sum(len(trace) for trace in msgpack.unpackb(body, strict_map_key=False))


def _sentry_spans(body):
    """Spans in a Sentry envelope: a line for the envelope header, then a header and a
    JSON payload per item; sentry-sdk 3 streams spans as ``span`` items."""
    lines = body.split(b"\n")[1:]
    spans = 0
    for header, item in zip(lines[::2], lines[1::2]):
        kind = json.loads(header).get("type")
        if kind == "transaction":
            spans += 1 + len(json.loads(item).get("spans", ()))
        elif kind == "span":
            spans += len(json.loads(item).get("items", ()))
    return spans


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counts = None

    def log_message(self, *a):
        pass

    def _body(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        return body

    def _reply(self, status, raw=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        if self.path == "/info":  # ddtrace asks its agent what it accepts
            self._reply(200, b'{"endpoints": ["/v0.4/traces"]}')
        else:
            self._reply(404)

    def do_PUT(self):
        self.do_POST()

    def do_POST(self):
        path = self.path.split("?")[0]
        if path == "/api/v1/ingest":
            # Pulse gzips its body itself (no Content-Encoding header)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.counts.add("agent", _pulse_transactions(raw))
            self._reply(202, b'{"batch_id": "x", "apdex_t": 0.5}')
        elif path == "/v1/traces":
            self.counts.add("opentelemetry", _otlp_spans(self._body()))
            self._reply(200, b"", "application/x-protobuf")
        elif path in ("/v0.4/traces", "/v0.5/traces"):
            self.counts.add("ddtrace", _ddtrace_spans(self._body()))
            self._reply(200, b'{"rate_by_service": {}}')
        elif _SENTRY_ENVELOPE.match(path):
            self.counts.add("sentry", _sentry_spans(self._body()))
            self._reply(200, b"{}")
        else:
            self._body()
            self._reply(404)


def start_sink():
    """A local HTTP server every agent reports to; returns (its URL, Counts, server)."""
    counts = Counts()
    handler = type("Sink", (_Handler,), {"counts": counts})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "http://127.0.0.1:%d" % server.server_address[1], counts, server


# -- the child: start one peer -------------------------------------------------------------


def before_django(peer, sink):
    """Start ``peer`` before Django is imported (ddtrace, New Relic and Sentry hook
    imports or patch at start-up); returns what ``after_configure`` and ``finish``
    need."""
    if peer == "ddtrace":
        os.environ.update({
            "DD_TRACE_AGENT_URL": sink, "DD_TRACE_API_VERSION": "v0.4", "DD_SERVICE": "bench",
            "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false", "DD_REMOTE_CONFIGURATION_ENABLED": "false",
            "DD_TRACE_STARTUP_LOGS": "false", "DD_TRACE_STATS_COMPUTATION_ENABLED": "false",
        })
        import ddtrace.auto  # noqa: F401  (patches every supported library, as ddtrace-run does)
        return None
    if peer == "sentry":
        import sentry_sdk

        sentry_sdk.init(dsn=sink.replace("http://", "http://public@") + "/1", traces_sample_rate=1.0)
        return None
    if peer == "newrelic":
        return _start_newrelic()
    return None


def _start_newrelic():
    import newrelic.agent
    from newrelic.common import agent_http

    recorded = {"transactions": 0, "spans": 0, "payloads": 0}
    original = agent_http.DeveloperModeClient.send_request

    def send_request(self, method="POST", path="/agent_listener/invoke_raw_method", params=None, headers=None,
                     payload=None):
        name = (params or {}).get("method")
        if name in ("analytic_event_data", "span_event_data") and payload:
            _run_id, sampling, events = json.loads(payload)
            recorded["payloads"] += 1
            recorded["transactions" if name == "analytic_event_data" else "spans"] += len(events)
        return original(self, method, path, params, headers, payload)

    agent_http.DeveloperModeClient.send_request = send_request
    config = tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False)
    config.write("[newrelic]\nlicense_key = %s\napp_name = bench\ndeveloper_mode = true\nlog_level = error\n"
                 "distributed_tracing.enabled = true\nspan_events.enabled = true\n"
                 "event_harvest_config.harvest_limits.analytic_event_data = 100000\n"
                 "span_events.max_samples_stored = 100000\n" % ("0" * 40))
    config.close()
    newrelic.agent.initialize(config.name)
    newrelic.agent.register_application(timeout=10.0)
    os.unlink(config.name)
    return recorded


def after_configure(peer, sink):
    """Instrumentations that need Django's settings (OpenTelemetry adds a middleware)."""
    if peer != "opentelemetry":
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=sink + "/v1/traces")))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    SQLite3Instrumentor().instrument()
    PsycopgInstrumentor().instrument()


def finish(peer, state):
    """Send what the peer still holds; returns what it recorded by its own count (New Relic)."""
    if peer == "opentelemetry":
        from opentelemetry import trace

        trace.get_tracer_provider().force_flush()
    elif peer == "ddtrace":
        from ddtrace.trace import tracer

        tracer.flush()
    elif peer == "sentry":
        import sentry_sdk

        sentry_sdk.flush(timeout=10)
    elif peer == "newrelic":
        import newrelic.agent

        newrelic.agent.shutdown_agent(timeout=10.0)
        return state
    return None
