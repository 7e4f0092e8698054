"""OTLP/HTTP on the wire: export requests in, responses and ``google.rpc.Status`` out,
each in protobuf or JSON as the request came (the OTLP specification, "OTLP/HTTP").

The messages are the official ``opentelemetry-proto`` ones on protobuf's upb runtime.
OTLP's JSON differs from protobuf's canonical JSON in one point: trace and span ids are
hex, not base64; they are converted before ``json_format`` parses the rest (which takes
lowerCamelCase and the original field names, integer enums, and ignores unknown fields).
"""

import base64

import msgspec
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MEDIA_TYPES = (PROTOBUF, JSON)

# google.rpc.Code of each HTTP status we answer with.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}

# Keys of OTLP JSON whose values are hex ids (bytes fields), in both spellings.
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


class Signal:
    """One OTLP signal: its path, request and response messages, and what its items are called."""

    def __init__(self, path, request, response, item, items, rejected_field):
        self.path, self.request, self.response, self.item, self.items = path, request, response, item, items
        self.rejected_field = rejected_field  # the partial_success count field of the response


TRACES = Signal(
    "/v1/traces", trace_service_pb2.ExportTraceServiceRequest, trace_service_pb2.ExportTraceServiceResponse,
    "span", "spans", "rejected_spans",
)
METRICS = Signal(
    "/v1/metrics", metrics_service_pb2.ExportMetricsServiceRequest,
    metrics_service_pb2.ExportMetricsServiceResponse, "data point", "data points", "rejected_data_points",
)
LOGS = Signal(
    "/v1/logs", logs_service_pb2.ExportLogsServiceRequest, logs_service_pb2.ExportLogsServiceResponse,
    "log record", "log records", "rejected_log_records",
)
SIGNALS = {s.path: s for s in (TRACES, METRICS, LOGS)}


class BadMessage(ValueError):
    """A body that is no valid export request of its signal (the message says why)."""


def parse(signal, raw, media):
    """The export request of ``signal`` in ``raw`` bytes of ``media`` type; raises BadMessage."""
    message = signal.request()
    if media == PROTOBUF:
        try:
            message.ParseFromString(raw)
        except DecodeError as exc:
            raise BadMessage(f"body is not a valid protobuf {signal.request.DESCRIPTOR.name}: {exc}") from None
        return message
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadMessage(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadMessage(f"body must be a JSON object ({signal.request.DESCRIPTOR.name})")
    _hex_ids_to_base64(data)
    try:
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise BadMessage(f"body is not a valid {signal.request.DESCRIPTOR.name}: {exc}") from None
    return message


def _hex_ids_to_base64(node):
    """Rewrite OTLP JSON's hex ids, wherever they are, as the base64 ``json_format`` reads."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _ID_KEYS and isinstance(value, str):
                    try:
                        node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
                    except ValueError:
                        raise BadMessage(f"{key} must be hexadecimal, got {value[:40]!r}") from None
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))


def render(message, media):
    """``message`` as body bytes of ``media`` type."""
    if media == PROTOBUF:
        return message.SerializeToString()
    return msgspec.json.encode(json_format.MessageToDict(message))


def response(signal, rejected=0, reason=""):
    """The export response of ``signal``, with ``partial_success`` when items were rejected."""
    message = signal.response()
    if rejected or reason:
        setattr(message.partial_success, signal.rejected_field, rejected)
        message.partial_success.error_message = reason
    return message


def status(http_status, text):
    """The ``google.rpc.Status`` of an error answer."""
    return status_pb2.Status(code=GRPC_CODES.get(http_status, 2), message=text)

