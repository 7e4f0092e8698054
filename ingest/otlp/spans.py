"""OTLP spans → the queued form of a payload (contract/queued.py), the form the agent's
harvests take at ingest, so the workers, rollups, pages, live views, alerts and SLOs
treat an OpenTelemetry service like any other app.

- Entry spans are transactions: a span without a parent, or a SERVER or CONSUMER span
  whose parent is remote (or not said to be local). Named ``METHOD route`` from
  ``http.request.method``/``http.method`` and ``http.route`` (``url.path``/``http.target``
  without the query when there is no route), else the span's name.
- Per (name, minute) they become metrics: count, errors, sum/min/max, Apdex against the
  app's T, a sketch in the protocol's encoding (contract/sketches.py), and time per
  segment: a descendant span with ``db.system``/``db.system.name`` is database, any other
  CLIENT or PRODUCER span external, a ``render``/template span template; a segment inside
  another counts once, in the outer one; the rest of the entry's time is python.
- The first MAX_EVENTS entries are events; the slow (over 4 x Apdex T) and failed ones,
  and the first of each name per minute in this process, become traces (span trees of at
  most MAX_SPANS, SQL obfuscated by the agent's rules, ids kept: a trace that crosses
  an agent service and an OTel service shares its trace id and links by parent span id).
- Exception events become errors with their stacks (ingest/otlp/stacks.py); a failed
  entry with none becomes an error named by ``error.type`` or its status.

A span with bad ids, an end outside the protocol's time window or a negative or too long
duration is rejected and counted; the rest is kept. Spans of one trace that arrive in
another request count in their own request (their segments are then python time).
"""

import hashlib

import msgspec

from contract import queued
from contract.schema import FUTURE_WINDOW, MAX_DURATION, PAST_WINDOW, Span
from contract.sketches import DDSketch
from ingest.otlp.stacks import frames
from pulse_agent.sql import obfuscate_sql

# opentelemetry.proto.trace.v1: Span.SpanKind, Status.StatusCode, SpanFlags.
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5
STATUS_ERROR = 2
_PARENT_FLAGS, _PARENT_LOCAL = 0x300, 0x100  # HAS_IS_REMOTE | IS_REMOTE; HAS_IS_REMOTE alone

DATABASE, EXTERNAL, TEMPLATE, OTHER, ENTRY = 0, 1, 2, 3, 4
_KINDS = ("database", "external", "template", "function")

# The protocol's bounds per payload (contract/schema.py).
MAX_METRICS = 2000
MAX_EVENTS = 2000
MAX_TRACES = 20
MAX_SLOW_TRACES = 10
MAX_SPANS = 500
MAX_ERRORS = 100
MAX_ATTRS = 16
_MAX_DEPTH = 64
_NS = 1e-9

_DB_KEYS = frozenset({"db.system", "db.system.name"})
_ENTRY_KEYS = frozenset({
    "http.route", "http.request.method", "http.method", "url.path", "http.target",
    "http.response.status_code", "http.status_code", "error.type",
})
_SPAN_KEYS = frozenset({
    "db.system", "db.system.name", "db.statement", "db.query.text", "db.name", "db.namespace",
    "server.address", "net.peer.name", "url.full", "http.url", "http.response.status_code", "http.status_code",
})

_sampled = {}  # minute -> {(app id, name)} whose sample trace this process took
_MAX_SAMPLED = 100_000  # names a minute; past it, only slow and failed transactions are traced
_encode_spans = msgspec.json.encode


def count(rejected, reason):
    rejected[reason] = rejected.get(reason, 0) + 1


def service_name(resource):
    """The ``service.name`` of a resource ('unknown_service' without one, as the SDKs say)."""
    for kv in resource.attributes:
        if kv.key == "service.name":
            name = str(_value(kv.value) or "").strip()
            return name[:255] or "unknown_service"
    return "unknown_service"


def batch_id(raw, app):
    """A batch id the same for the same request body and app: an exporter's retry of a
    request counts once (the workers' ledger drops it)."""
    return hashlib.blake2b(raw + b"\0" + app.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _value(v):
    which = v.WhichOneof("value")
    if which in ("string_value", "int_value", "double_value", "bool_value"):
        return getattr(v, which)
    return None


def attributes(items, wanted):
    """{key: value} of the ``wanted`` keys among OTLP KeyValues ``items`` (scalar values only)."""
    out = {}
    for kv in items:
        if kv.key in wanted:
            out[kv.key] = _value(kv.value)
    return out


class Mapped:
    """What one app's items (spans, log records) of a request became: ``payload`` (a
    QueuedPayload, or None when nothing is to be queued), the items ``rejected`` by reason,
    how many items there were, and how many were ``ignored`` (not stored, not an error)."""

    __slots__ = ("payload", "rejected", "items", "ignored")

    def __init__(self, payload, rejected, items, ignored=0):
        self.payload, self.rejected, self.items, self.ignored = payload, rejected, items, ignored


def map_spans(resource_spans, app_id, apdex_t, batch, now):
    """Map the spans of ``resource_spans`` (all of one app) to a Mapped."""
    lo, hi = int((now - PAST_WINDOW) * 1e9), int((now + FUTURE_WINDOW) * 1e9)
    max_ns = int(MAX_DURATION * 1e9)
    nodes = {}  # span id -> (parent id, segment, duration ns, entry index, span, trace id)
    entries = []
    classified = []
    with_events = []
    rejected = {}
    for rs in resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                tid, sid, pid = span.trace_id, span.span_id, span.parent_span_id
                t0, t1 = span.start_time_unix_nano, span.end_time_unix_nano
                if len(tid) != 16 or len(sid) != 8 or (pid and len(pid) != 8):
                    count(rejected, "trace_id must be 16 bytes, span_id and parent_span_id 8")
                    continue
                if not lo <= t1 <= hi:
                    count(rejected, "end time more than 24 h in the past or more than 10 min in the future")
                    continue
                if t1 < t0 or t1 - t0 > max_ns:
                    count(rejected, "end time before start time or duration over 24 h")
                    continue
                kind = span.kind
                if not pid or ((kind == SERVER or kind == CONSUMER) and span.flags & _PARENT_FLAGS != _PARENT_LOCAL):
                    nodes[sid] = (pid, ENTRY, t1 - t0, len(entries), span, tid)
                    entries.append(span)
                else:
                    segment = _segment(span, kind)
                    nodes[sid] = (pid, segment, t1 - t0, -1, span, tid)
                    if segment != OTHER:
                        classified.append(sid)
                if span.events:
                    with_events.append(span)

    segments = [[0, 0, 0] for _ in entries]
    for sid in classified:
        parent, segment, duration = nodes[sid][:3]
        for _ in range(_MAX_DEPTH):
            node = nodes.get(parent)
            if node is None:
                break
            if node[1] == ENTRY:
                segments[node[3]][segment] += duration
                break
            if node[1] != OTHER:
                break  # inside another segment: counted there
            parent = node[0]

    txns = [_transaction(span) for span in entries]
    metrics, kept = _metrics(txns, segments, apdex_t, rejected)
    listed = [i for i in range(len(txns)) if i in kept][:MAX_EVENTS]
    traces = _traces(txns, entries, nodes, app_id, apdex_t, listed)
    events = _events([txns[i] for i in listed])
    errors = _errors(txns, entries, with_events)
    items = len(nodes) + sum(rejected.values())
    if not metrics and not errors:
        return Mapped(None, rejected, items)
    payload = queued.QueuedPayload(batch, now, metrics, events, traces, errors, None)
    return Mapped(payload, rejected, items)


def _segment(span, kind):
    if kind == CLIENT or kind == PRODUCER:
        for kv in span.attributes:
            if kv.key in _DB_KEYS:
                return DATABASE
        return EXTERNAL
    name = span.name.lower()
    if name.startswith("render") or "template" in name:
        return TEMPLATE
    return OTHER


class _Txn:
    __slots__ = ("name", "type", "end", "duration", "status", "error", "trace_id", "error_type", "has_trace")


def _transaction(span):
    a = attributes(span.attributes, _ENTRY_KEYS)
    method = a.get("http.request.method") or a.get("http.method")
    route = a.get("http.route")
    if not route:
        target = a.get("url.path") or a.get("http.target")
        route = str(target).split("?", 1)[0] if target else None
    if method and route:
        name = f"{method} {route}"
    else:
        name = str(route or span.name or "unnamed")
    t = _Txn()
    t.name = name[:255]
    t.type = "web" if method or span.kind == SERVER else "background"
    t.end = span.end_time_unix_nano * _NS
    t.duration = (span.end_time_unix_nano - span.start_time_unix_nano) * _NS
    status = a.get("http.response.status_code") or a.get("http.status_code")
    try:
        status = int(status) if status is not None else None
    except ValueError:
        status = None
    t.status = status if status is not None and 100 <= status <= 599 else None
    t.error = span.status.code == STATUS_ERROR or (t.status is not None and t.status >= 500)
    t.trace_id = span.trace_id.hex()
    t.error_type = a.get("error.type")
    t.has_trace = False
    return t


def _metrics(txns, segments, apdex_t, rejected):
    """QueuedMetrics per (name, minute), and the indexes of the transactions they count."""
    groups = {}
    for i, t in enumerate(txns):
        key = (int(t.end // 60) * 60, t.name)
        g = groups.get(key)
        if g is None:
            if len(groups) >= MAX_METRICS:
                count(rejected, f"more than {MAX_METRICS} transaction names and minutes in one request")
                continue
            groups[key] = g = []
        g.append(i)
    out = []
    kept = set()
    frustrated = 4.0 * apdex_t
    for (minute, name), idx in groups.items():
        kept.update(idx)
        durations = sorted(txns[i].duration for i in idx)
        errors = satisfied = tolerating = 0
        database = external = template = python = 0.0
        for i in idx:
            t = txns[i]
            if t.error:
                errors += 1
            elif t.duration <= apdex_t:
                satisfied += 1
            elif t.duration <= frustrated:
                tolerating += 1
            db, ext, tmpl = segments[i]
            db, ext, tmpl = db * _NS, ext * _NS, tmpl * _NS
            database += db
            external += ext
            template += tmpl
            python += max(0.0, t.duration - db - ext - tmpl)
        sketch = DDSketch()
        if len(durations) < 8:  # most groups of one request: add_sorted pays off on more
            for d in durations:
                sketch.add(d)
        else:
            sketch.add_sorted(durations)
        sk = queued.check_sketch(sketch.to_bytes(), len(durations))
        out.append(queued.QueuedMetric(
            name, txns[idx[0]].type, minute, len(durations), errors, sum(durations), durations[0], durations[-1],
            satisfied, tolerating, len(durations) - errors - satisfied - tolerating,
            python, database, external, template,
            sk.zero_count, sk.bins, sk.first_index, sk.first_count, sk.steps, sk.counts,
        ))
    return out, kept


def _events(txns):
    return queued.QueuedEvents(
        [t.name for t in txns],
        [t.type for t in txns],
        [t.end for t in txns],
        [t.duration for t in txns],
        [t.status for t in txns],
        [t.error for t in txns],
        [t.trace_id for t in txns],
        [t.has_trace for t in txns],
    )


def _traces(txns, entries, nodes, app_id, apdex_t, listed):
    """QueuedTraces of the slow and failed transactions among ``listed`` (indexes), then of
    the first of each name and minute not yet sampled in this process; marks them has_trace."""
    slow_limit = 4.0 * apdex_t
    slow = sorted(
        (i for i in listed if txns[i].error or txns[i].duration > slow_limit),
        key=lambda i: -txns[i].duration,
    )[:MAX_SLOW_TRACES]
    chosen = list(slow)
    taken = set(slow)
    for i in listed:
        if len(chosen) >= MAX_TRACES:
            break
        t = txns[i]
        if i not in taken and _first_this_minute(app_id, t.name, int(t.end // 60)):
            chosen.append(i)
            taken.add(i)
    traces = []
    if chosen:
        children = _children(nodes, {entries[i].trace_id for i in chosen})
        for i in chosen:
            txns[i].has_trace = True
            traces.append(_trace(txns[i], entries[i], children, nodes))
    return traces


def _first_this_minute(app_id, name, minute):
    """True the first time (``app_id``, ``name``) is asked for ``minute`` in this process."""
    taken = _sampled.get(minute)
    if taken is None:
        for old in [m for m in list(_sampled) if m < minute - 2]:  # list(): another thread may add
            _sampled.pop(old, None)
        taken = _sampled.setdefault(minute, set())
    key = (app_id, name)
    if key in taken or len(taken) >= _MAX_SAMPLED:
        return False
    taken.add(key)
    return True


def _children(nodes, trace_ids):
    out = {}
    for sid, node in nodes.items():
        if node[5] in trace_ids and node[1] != ENTRY:
            out.setdefault(node[0], []).append(sid)
    return out


def _trace(t, entry, children, nodes):
    base = entry.start_time_unix_nano
    spans = [Span(id=entry.span_id.hex(), parent=None, kind="python", name=t.name, offset=0.0, duration=t.duration)]
    stack = [entry.span_id]
    while stack and len(spans) < MAX_SPANS:
        parent = stack.pop()
        below = sorted(children.get(parent, ()), key=lambda s: nodes[s][4].start_time_unix_nano, reverse=True)
        for sid in below:
            if len(spans) >= MAX_SPANS:
                break
            _, segment, duration, _, span, _ = nodes[sid]
            spans.append(Span(
                id=sid.hex(), parent=parent.hex(), kind=_KINDS[segment], name=span.name[:255] or _KINDS[segment],
                offset=max(0.0, (span.start_time_unix_nano - base) * _NS), duration=duration * _NS,
                attrs=_span_attrs(span, segment),
            ))
            stack.append(sid)
    pid = entry.parent_span_id
    return queued.QueuedTrace(
        t.trace_id, pid.hex() if pid else None, t.name, t.type, base * _NS, t.duration, t.status, t.error,
        len(spans), _encode_spans(spans),
    )


def _span_attrs(span, segment):
    if segment == OTHER or segment == TEMPLATE:
        return {}
    a = attributes(span.attributes, _SPAN_KEYS)
    out = {}
    if segment == DATABASE:
        system = a.get("db.system.name") or a.get("db.system")
        statement = a.get("db.query.text") or a.get("db.statement")
        if system:
            out["db.system"] = str(system)
        if statement:
            out["sql"] = obfuscate_sql(str(statement), str(system) if system else None)
        database = a.get("db.namespace") or a.get("db.name")
        if database:
            out["db.name"] = str(database)
    else:
        url = a.get("url.full") or a.get("http.url")
        if url:
            out["url"] = str(url).split("?", 1)[0]
        host = a.get("server.address") or a.get("net.peer.name")
        if host:
            out["host"] = str(host)
        status = a.get("http.response.status_code") or a.get("http.status_code")
        if status is not None:
            out["status"] = str(status)
    return {k: v[:4096] for k, v in list(out.items())[:MAX_ATTRS]}


def _errors(txns, entries, with_events):
    names = {}
    for t in txns:
        names.setdefault(t.trace_id, t.name)
    out = []
    excepted = set()
    for span in with_events:
        for ev in span.events:
            if ev.name != "exception" or len(out) >= MAX_ERRORS:
                continue
            a = attributes(ev.attributes, ("exception.type", "exception.message", "exception.stacktrace"))
            trace_id = span.trace_id.hex()
            excepted.add(trace_id)
            when = ev.time_unix_nano
            if not span.start_time_unix_nano <= when <= span.end_time_unix_nano:
                when = span.end_time_unix_nano  # the span's end is within the window
            when *= _NS
            out.append(queued.QueuedError(
                str(a.get("exception.type") or "Exception")[:255], str(a.get("exception.message") or "")[:2048],
                frames(str(a.get("exception.stacktrace") or "")), names.get(trace_id), when, trace_id,
            ))
    for t, span in zip(txns, entries):
        if t.error and t.trace_id not in excepted and len(out) < MAX_ERRORS:
            error_class = t.error_type or (f"HTTP {t.status}" if t.status else "Error")
            message = span.status.message or (f"{t.name} answered {t.status}" if t.status else f"{t.name} failed")
            out.append(queued.QueuedError(str(error_class)[:255], message[:2048], [], t.name, t.end, t.trace_id))
    return out
