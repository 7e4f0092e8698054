"""A real local ingest endpoint for the agent tests: a stdlib HTTP server that
decodes and records payloads, checks them against the protocol, and can be told to
answer slowly or with errors. Also serves /downstream, which records the headers
of outgoing calls made by the apps under test, records the items of Sentry
envelopes posted to /api/<project>/envelope/ (a DSN pointing here), and counts the
TCP connections its clients open."""

import gzip
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
KEY = "pulse_ik_" + "A1b2C3d4E5" * 4


def check_payload(p):
    """Protocol v1 checks (docs/protocol-v1.md); returns a list of problems."""
    problems = []

    def need(cond, msg):
        if not cond:
            problems.append(msg)

    allowed = {"v", "batch_id", "app", "sent_at", "apdex_t", "metrics", "events", "events_seen",
               "traces", "errors", "instance"}
    need(set(p) - {"operations"} == allowed, "fields %s" % sorted((set(p) - {"operations"}) ^ allowed))
    need(p.get("v") == 1, "v")
    need(HEX32.match(p.get("batch_id", "")), "batch_id")
    need(1 <= len(p.get("app", "")) <= 255, "app")
    need(0.001 <= p.get("apdex_t", 0) <= 60, "apdex_t")
    need(len(p.get("metrics", [])) <= 2000, "metrics len")
    need(len(p.get("events", [])) <= 2000, "events len")
    need(p.get("events_seen", -1) >= len(p.get("events", [])), "events_seen")
    need(len(p.get("traces", [])) <= 20, "traces len")
    need(len(p.get("errors", [])) <= 100, "errors len")
    for i, m in enumerate(p.get("metrics", [])):
        need(m["type"] in ("web", "background"), "metrics[%d].type" % i)
        need(m["minute"] % 60 == 0, "metrics[%d].minute" % i)
        need(1 <= m["count"] and 0 <= m["errors"] <= m["count"], "metrics[%d].count" % i)
        need(m["min"] <= m["max"] <= m["sum"] + 1e-9, "metrics[%d].min/max/sum" % i)
        need(sum(m["apdex"]) == m["count"], "metrics[%d].apdex" % i)
        need(set(m["segments"]) <= {"python", "database", "external", "template"}, "segments")
        need(all(v >= 0 for v in m["segments"].values()), "metrics[%d].segments" % i)
        need(len(m["sketch"]) <= 16384, "sketch size")
    for i, e in enumerate(p.get("events", [])):
        need(HEX32.match(e["trace_id"]), "events[%d].trace_id" % i)
        need(e["status"] is None or 100 <= e["status"] <= 599, "events[%d].status" % i)
    for i, t in enumerate(p.get("traces", [])):
        need(HEX32.match(t["trace_id"]), "traces[%d].trace_id" % i)
        need(t["parent_span_id"] is None or HEX16.match(t["parent_span_id"]), "parent_span_id")
        need(len(t["spans"]) <= 500, "spans len")
        ids = set()
        for sp in t["spans"]:
            need(HEX16.match(sp["id"]), "span id")
            need(sp["parent"] is None or sp["parent"] in ids, "span parent order")
            need(sp["kind"] in ("python", "database", "external", "template", "function"), "kind")
            need(len(sp["attrs"]) <= 16, "attrs")
            need(1 <= len(sp["name"]) <= 255, "span name")
            ids.add(sp["id"])
    for i, e in enumerate(p.get("errors", [])):
        need(1 <= len(e["class"]) <= 255, "errors[%d].class" % i)
        need(len(e["message"]) <= 2048, "errors[%d].message" % i)
        need(len(e["stack"]) <= 100, "errors[%d].stack" % i)
    for i, o in enumerate(p.get("operations", [])):
        need(o["kind"] in ("database", "external"), "operations[%d].kind" % i)
        need(o["minute"] % 60 == 0, "operations[%d].minute" % i)
        need(1 <= o["count"] and 0 <= o["errors"] <= o["count"], "operations[%d].count" % i)
        need(1 <= len(o["operation"]) <= 64 and 1 <= len(o["service"]) <= 255, "operations[%d] names" % i)
    inst = p.get("instance")
    if inst is not None:
        need(set(inst["dropped"]) == {"events", "traces", "errors", "metrics", "payloads"}, "dropped")
        need(inst["language"] == "python", "language")
    return problems


def server_schema_problems(raw):
    """Validate with the Pulse server's own msgspec schema when it is importable."""
    try:
        from contract.schema import decode_payload
    except Exception:
        return []
    try:
        decode_payload(raw)
    except Exception as exc:
        return ["server schema: %s" % exc]
    return []


SENTRY_ENVELOPE = re.compile(r"^/api/\d+/envelope/")


def envelope_items(raw):
    """(item type, payload) of each item of a Sentry envelope (one JSON line each)."""
    lines = raw.split(b"\n")[1:]
    items = []
    for header, payload in zip(lines[0::2], lines[1::2]):
        if header.strip():
            items.append((json.loads(header).get("type"), json.loads(payload)))
    return items


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0

    def process_request(self, request, client_address):
        self.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # clients that gave up (timeouts in the fault tests) are expected


class Sink:
    def __init__(self, port=0):
        self.payloads = []
        self.batch_ids = set()
        self.duplicates = 0
        self.post_times = []  # monotonic time of each ingest POST  # accepted (202) payloads, decoded
        self.rejected = 0  # posts answered with anything but 202
        self.posts = 0
        self.problems = []
        self.downstream = []  # headers of calls to /downstream
        self.sentry = []  # (item type, payload) of every Sentry envelope item
        self.close_after = 0  # close the connection after every n-th ingest POST (0: never)
        self.status = 202
        self.delay = 0.0
        self.retry_after = "1"
        self.apdex_t = 0.5
        self.live = False  # say "live": true in 202 replies, as ingest does while the app is watched
        self.max_body = None  # answer 413 above this many compressed bytes
        self.body_sizes = []  # compressed sizes of accepted payloads
        self.lock = threading.RLock()
        self.server = _Server(("127.0.0.1", port), self._handler())
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.connections = lambda: self.server.connections
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(sink):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _reply(self, status, body, headers=()):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                if self.path.startswith("/downstream"):
                    with sink.lock:
                        sink.downstream.append({k.lower(): v for k, v in self.headers.items()})
                    return self._reply(200, {"ok": True})
                return self._reply(404, {"error": {"code": "not_found"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.startswith("/downstream"):
                    with sink.lock:
                        sink.downstream.append({k.lower(): v for k, v in self.headers.items()})
                    return self._reply(200, {"ok": True})
                if SENTRY_ENVELOPE.match(self.path):
                    if self.headers.get("Content-Encoding") == "gzip":
                        raw = gzip.decompress(raw)
                    with sink.lock:
                        sink.sentry.extend(envelope_items(raw))
                    return self._reply(200, {})
                with sink.lock:
                    sink.posts += 1
                    if sink.close_after and sink.posts % sink.close_after == 0:
                        self.close_connection = True
                    sink.post_times.append(time.monotonic())
                    status, delay, max_body = sink.status, sink.delay, sink.max_body
                if delay:
                    time.sleep(delay)
                if self.headers.get("Authorization") != "Bearer " + KEY:
                    return self._reply(401, {"error": {"code": "unauthorized"}})
                if max_body is not None and len(raw) > max_body:
                    with sink.lock:
                        sink.rejected += 1
                    return self._reply(413, {"error": {"code": "too_large"}})
                if status != 202:
                    with sink.lock:
                        sink.rejected += 1
                    headers = [("Retry-After", sink.retry_after)] if status in (429, 503) else []
                    return self._reply(status, {"error": {"code": "test"}}, headers)
                with sink.lock:
                    sink.body_sizes.append(len(raw))
                try:
                    if self.headers.get("Content-Encoding") == "gzip":
                        raw = gzip.decompress(raw)
                    payload = json.loads(raw)
                except Exception as exc:
                    with sink.lock:
                        sink.problems.append("undecodable: %s" % exc)
                    return self._reply(400, {"error": {"code": "invalid"}})
                problems = check_payload(payload) + server_schema_problems(raw)
                with sink.lock:
                    sink.problems.extend(problems)
                    if payload.get("batch_id") in sink.batch_ids:  # counted once, like the server
                        sink.duplicates += 1
                    else:
                        sink.batch_ids.add(payload.get("batch_id"))
                        sink.payloads.append(payload)
                reply = {"batch_id": payload.get("batch_id"), "apdex_t": sink.apdex_t}
                if sink.live:
                    reply["live"] = True
                self._reply(202, reply)

        return Handler

    # -- helpers for assertions -------------------------------------------------

    def wait_for(self, predicate, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return True
            time.sleep(0.05)
        with self.lock:
            return predicate(self)

    def sentry_requests(self):
        """Sentry's spans (streamed in "span" items) per web request, in request order:
        a list of the ops of the spans under each ``http.server`` segment."""
        with self.lock:
            spans = [sp for kind, p in self.sentry if kind == "span" for sp in p["items"]]

        def op(sp):
            return sp["attributes"].get("sentry.op", {}).get("value")

        segments = sorted((sp for sp in spans if sp.get("is_segment") and op(sp) == "http.server"),
                          key=lambda sp: sp["start_timestamp"])
        return [sorted(op(sp) for sp in spans if sp["trace_id"] == seg["trace_id"] and sp is not seg)
                for seg in segments]

    def operations_of(self, transaction):
        """{(kind, service, operation, table): [count, errors, sum]} of one transaction,
        summed over every payload received."""
        out = {}
        with self.lock:
            for p in self.payloads:
                for o in p.get("operations", []):
                    if o["transaction"] == transaction:
                        row = out.setdefault((o["kind"], o["service"], o["operation"], o["table"]), [0, 0, 0.0])
                        row[0] += o["count"]
                        row[1] += o["errors"]
                        row[2] += o["sum"]
        return out

    def all(self, field):
        with self.lock:
            return [x for p in self.payloads for x in p[field]]

    def metrics_by_name(self):
        out = {}
        for m in self.all("metrics"):
            agg = out.setdefault(m["name"], {"count": 0, "errors": 0, "segments": {}, "type": m["type"]})
            agg["count"] += m["count"]
            agg["errors"] += m["errors"]
            for k, v in m["segments"].items():
                agg["segments"][k] = agg["segments"].get(k, 0.0) + v
        return out

    def count(self, name=None):
        if name is None:
            return sum(m["count"] for m in self.all("metrics"))
        return self.metrics_by_name().get(name, {}).get("count", 0)

    def traces_named(self, name):
        return [t for t in self.all("traces") if t["name"] == name]
