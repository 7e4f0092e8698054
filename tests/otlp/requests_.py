"""OTLP export requests for the receiver tests, built with the official messages."""

import os
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2

SERVER, CLIENT, INTERNAL = trace_pb2.Span.SPAN_KIND_SERVER, trace_pb2.Span.SPAN_KIND_CLIENT, trace_pb2.Span.SPAN_KIND_INTERNAL


def attrs(**values):
    out = []
    for key, value in values.items():
        key = key.replace("__", ".")
        if isinstance(value, bool):
            v = AnyValue(bool_value=value)
        elif isinstance(value, int):
            v = AnyValue(int_value=value)
        else:
            v = AnyValue(string_value=str(value))
        out.append(KeyValue(key=key, value=v))
    return out


def span(trace_id, span_id, parent=b"", kind=INTERNAL, name="work", start=None, duration=0.01, attributes=None,
         error=False, events=()):
    start = time.time() - 5 if start is None else start
    s = trace_pb2.Span(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent, kind=kind, name=name,
        start_time_unix_nano=int(start * 1e9), end_time_unix_nano=int((start + duration) * 1e9),
        attributes=attributes or [],
    )
    if error:
        s.status.code = trace_pb2.Status.STATUS_CODE_ERROR
    for name_, when, ev_attrs in events:
        s.events.add(name=name_, time_unix_nano=int(when * 1e9), attributes=ev_attrs)
    return s


def new_ids():
    return os.urandom(16), os.urandom(8)


def request(service, spans):
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend(attrs(service__name=service))
    rs.scope_spans.add().spans.extend(spans)
    return req


def web_request(route="/items/{id}", method="GET", status=200, duration=0.05, start=None, children=(), **more):
    """(trace id, entry span id, spans) of one web request with ``children`` as (kind, name, offset, duration,
    attributes) under the entry span."""
    trace_id, sid = new_ids()
    start = time.time() - 5 if start is None else start
    entry = span(trace_id, sid, kind=SERVER, name=f"{method} {route}", start=start, duration=duration,
                 attributes=attrs(http__route=route, http__request__method=method,
                                  http__response__status_code=status), **more)
    out = [entry]
    for kind, name, offset, d, a in children:
        out.append(span(trace_id, os.urandom(8), parent=sid, kind=kind, name=name, start=start + offset,
                        duration=d, attributes=a))
    return trace_id, sid, out
