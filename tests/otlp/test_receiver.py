"""The OTLP/HTTP receiver on the real ingest server (ASGI fast path), its answers, and
what the workers make of the spans (real Redis, real Postgres, the query layer)."""

import gzip
import json
import time

import httpx
import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from apm import queries
from apm.consumer import Consumer
from tenants import keys
from tenants.models import App, IngestKey
from tests.ingest.conftest import drain, make_key
from tests.otlp.requests_ import CLIENT, INTERNAL, attrs, new_ids, request, span, web_request

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


def post(url, key, body, path="/v1/traces", headers=PROTOBUF, gzipped=False):
    headers = {**headers}
    if key is not None:
        headers["x-pulse-ingest-key"] = key
    if gzipped:
        headers["content-encoding"] = "gzip"
        body = gzip.compress(body)
    return httpx.post(url + path, content=body, headers=headers, timeout=30)


def export_response(r):
    out = ExportTraceServiceResponse()
    out.ParseFromString(r.content)
    return out


def status_of(r):
    if r.headers["content-type"] == "application/json":
        return json.loads(r.content)
    s = Status()
    s.ParseFromString(r.content)
    return {"code": s.code, "message": s.message}


def shop_request():
    """Three GET /items/{id} with a database and an external span, one failing POST /checkout."""
    spans, ids = [], []
    for i in range(3):
        trace_id, sid, s = web_request(children=[
            (CLIENT, "SELECT", 0.005, 0.02, attrs(db__system="postgresql",
                                                  db__statement=f"SELECT * FROM items WHERE id = {i} AND owner = 'secret'")),
            (CLIENT, "GET", 0.03, 0.01, attrs(http__request__method="GET", server__address="api.example.com",
                                              url__full="https://api.example.com/prices?token=secret")),
            (INTERNAL, "compute", 0.041, 0.002, []),
        ])
        spans += s
        ids.append(trace_id)
    now = time.time()
    stack = 'Traceback (most recent call last):\n  File "/srv/shop.py", line 12, in checkout\n    pay()\nValueError: card declined\n'
    trace_id, _, s = web_request(route="/checkout", method="POST", status=500, duration=0.2, start=now - 4, error=True,
                                 events=[("exception", now - 3.9, attrs(exception__type="ValueError",
                                                                       exception__message="card declined",
                                                                       exception__stacktrace=stack))])
    spans += s
    return request("shop", spans), ids, trace_id


def test_protobuf_spans_become_transactions_segments_traces_and_errors(ingest_server, org, ingest_key):
    started = time.time() - 120
    req, item_traces, checkout_trace = shop_request()
    r = post(ingest_server, ingest_key, req.SerializeToString(), gzipped=True)
    assert r.status_code == 200, r.content
    assert r.headers["content-type"] == "application/x-protobuf"
    assert not export_response(r).HasField("partial_success")
    assert drain(Consumer(name="otlp-test")) == 1

    app = App.objects.for_org(org).get(name="shop")
    until = time.time() + 60
    by_name = {t["name"]: t for t in queries.transactions(org, app, started, until)["transactions"]}
    items, checkout = by_name["GET /items/{id}"], by_name["POST /checkout"]
    assert (items["count"], items["error_count"]) == (3, 0)
    assert (checkout["count"], checkout["error_count"]) == (1, 1)
    assert items["avg_ms"] == pytest.approx(50, rel=0.01)
    [group] = queries.error_groups(org, app, started, until)["groups"]
    assert (group["error_class"], group["message"], group["transaction"]) == ("ValueError", "card declined", "POST /checkout")
    assert "/srv/shop.py" in group["top_frame"]

    traced = {t["trace_id"]: t for t in queries.traces(org, app, started, until)["traces"]}
    assert checkout_trace.hex() in traced  # failed: always kept
    assert item_traces[0].hex() in traced  # the first of its name this minute
    trace = queries.trace(org, app, item_traces[0].hex())["trace"]
    by_kind = {s["kind"]: s for s in trace["spans"]}
    assert set(by_kind) == {"python", "database", "external", "function"}
    assert by_kind["database"]["attrs"]["sql"] == "SELECT * FROM items WHERE id = ? AND owner = ?"
    assert by_kind["external"]["attrs"] == {"url": "https://api.example.com/prices", "host": "api.example.com"}
    assert by_kind["database"]["parent"] == by_kind["python"]["id"]
    assert "secret" not in json.dumps(trace)


def test_segments_split_the_time(ingest_server, org, ingest_key):
    from apm.models import TransactionMinute

    req, _, _ = shop_request()
    assert post(ingest_server, ingest_key, req.SerializeToString()).status_code == 200
    drain(Consumer(name="otlp-test"))
    row = TransactionMinute.objects.for_org(org).get(transaction__name="GET /items/{id}")
    assert row.seg_database == pytest.approx(0.06, rel=1e-4)
    assert row.seg_external == pytest.approx(0.03, rel=1e-4)
    assert row.seg_python == pytest.approx(0.15 - 0.09, rel=1e-4)


def otlp_json(req):
    """The OTLP JSON of a request: protobuf JSON with hex ids and integer enums, as SDKs send it."""
    data = json_format.MessageToDict(req, use_integers_for_enums=True)
    for rs in data["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in s:
                        s[key] = __import__("base64").b64decode(s[key]).hex()
                s["someFieldOfALaterVersion"] = {"x": 1}
    return data


def test_json_with_hex_ids_is_read_and_answered_in_json(ingest_server, org, ingest_key):
    trace_id, sid, spans = web_request(route="/json", children=[(CLIENT, "q", 0.001, 0.004, attrs(db__system__name="mysql",
                                                                                                    db__query__text="SELECT 1"))])
    r = post(ingest_server, ingest_key, json.dumps(otlp_json(request("json-svc", spans))).encode(), headers=JSON)
    assert r.status_code == 200, r.content
    assert r.headers["content-type"] == "application/json" and json.loads(r.content) == {}
    drain(Consumer(name="otlp-test"))
    app = App.objects.for_org(org).get(name="json-svc")
    trace = queries.trace(org, app, trace_id.hex())["trace"]
    assert trace["spans"][0]["id"] == sid.hex()
    assert trace["spans"][1]["kind"] == "database" and trace["spans"][1]["attrs"]["db.system"] == "mysql"


def test_partial_success_names_the_rejected_spans(ingest_server, org, ingest_key):
    _, _, good = web_request(route="/ok")
    trace_id, sid = new_ids()
    short_ids = span(trace_id[:8], sid, name="short id")
    too_old = span(trace_id, sid, name="old", start=time.time() - 2 * 86400)
    r = post(ingest_server, ingest_key, request("partial", good + [short_ids, too_old]).SerializeToString())
    assert r.status_code == 200, r.content
    partial = export_response(r).partial_success
    assert partial.rejected_spans == 2
    assert "1 span: trace_id must be 16 bytes" in partial.error_message
    assert "1 span: end time more than 24 h in the past" in partial.error_message
    drain(Consumer(name="otlp-test"))
    app = App.objects.for_org(org).get(name="partial")
    [txn] = queries.transactions(org, app, time.time() - 120, time.time() + 60)["transactions"]
    assert (txn["name"], txn["count"]) == ("GET /ok", 1)


def test_a_retried_request_counts_once(ingest_server, org, ingest_key):
    body = request("retried", web_request(route="/again")[2]).SerializeToString()
    assert post(ingest_server, ingest_key, body).status_code == 200
    assert post(ingest_server, ingest_key, body).status_code == 200
    drain(Consumer(name="otlp-test"))
    app = App.objects.for_org(org).get(name="retried")
    [txn] = queries.transactions(org, app, time.time() - 120, time.time() + 60)["transactions"]
    assert txn["count"] == 1


def test_bad_protobuf_gets_a_protobuf_status(ingest_server, ingest_key):
    r = post(ingest_server, ingest_key, b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert r.status_code == 400 and r.headers["content-type"] == "application/x-protobuf"
    status = status_of(r)
    assert status["code"] == 3 and "not a valid protobuf ExportTraceServiceRequest" in status["message"]


@pytest.mark.parametrize("body, expected", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "traceId must be hexadecimal"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}', "not a valid ExportTraceServiceRequest"),
])
def test_bad_json_gets_a_json_status(ingest_server, ingest_key, body, expected):
    r = post(ingest_server, ingest_key, body, headers=JSON)
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    status = status_of(r)
    assert status["code"] == 3 and expected in status["message"], status


def test_wrong_content_type_is_415(ingest_server, ingest_key):
    r = post(ingest_server, ingest_key, b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "application/x-protobuf or application/json" in status_of(r)["message"]
    r = post(ingest_server, ingest_key, b"x", headers={**PROTOBUF, "content-encoding": "br"})
    assert r.status_code == 415 and "Content-Encoding" in status_of(r)["message"]


def test_oversize_after_decompression_is_413(ingest_server, ingest_key):
    r = post(ingest_server, ingest_key, b"\0" * (11 << 20), gzipped=True)
    assert r.status_code == 413 and "decompressed" in status_of(r)["message"]


def test_unknown_or_missing_key_is_401_before_the_body(ingest_server, org):
    r = post(ingest_server, keys.generate_key(), b"\0" * 100)
    assert r.status_code == 401 and "unknown or revoked ingest key" in status_of(r)["message"]
    r = post(ingest_server, None, b"")
    assert r.status_code == 401 and "x-pulse-ingest-key" in status_of(r)["message"]


def test_bearer_authorization_works_too(ingest_server, org, ingest_key):
    body = request("bearer", web_request()[2]).SerializeToString()
    r = httpx.post(ingest_server + "/v1/traces", content=body,
                   headers={**PROTOBUF, "authorization": f"Bearer {ingest_key}"})
    assert r.status_code == 200, r.content


def test_a_key_bound_to_an_app_refuses_other_services(ingest_server, org):
    app = App.objects.for_org(org).create(organization=org, name="billing")
    raw = keys.generate_key()
    IngestKey.objects.for_org(org).create(organization=org, label="bound", prefix=raw[:keys.SHOWN_PREFIX_LENGTH],
                                          key_hash=keys.hash_key(raw), app=app)
    r = post(ingest_server, raw, request("shop", web_request()[2]).SerializeToString())
    assert r.status_code == 403 and status_of(r)["code"] == 7
    assert "only send data for the app 'billing'" in status_of(r)["message"]
    assert not App.objects.for_org(org).filter(name="shop").exists()
    assert post(ingest_server, raw, request("billing", web_request()[2]).SerializeToString()).status_code == 200


def test_over_quota_is_429_with_retry_after(ingest_server, org, ingest_key, settings, fresh_quota):
    settings.INGEST_QUOTA_PER_MINUTE = 1
    assert post(ingest_server, ingest_key, request("q", web_request()[2]).SerializeToString()).status_code == 200
    r = post(ingest_server, ingest_key, request("q", web_request()[2]).SerializeToString())
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert status_of(r)["code"] == 8 and "quota" in status_of(r)["message"]


def test_a_full_backlog_is_503_with_retry_after(ingest_server, org, ingest_key, settings):
    settings.INGEST_BACKLOG_MAX = 0
    r = post(ingest_server, ingest_key, request("b", web_request()[2]).SerializeToString())
    assert r.status_code == 503 and int(r.headers["retry-after"]) == settings.INGEST_BACKLOG_RETRY_AFTER
    assert status_of(r)["code"] == 14


def test_each_service_of_a_request_is_its_own_app(ingest_server, org, ingest_key):
    req = request("front", web_request(route="/a")[2])
    other = request("back", web_request(route="/b")[2]).resource_spans[0]
    req.resource_spans.append(other)
    assert post(ingest_server, ingest_key, req.SerializeToString()).status_code == 200
    assert drain(Consumer(name="otlp-test")) == 2
    for name, txn in (("front", "GET /a"), ("back", "GET /b")):
        app = App.objects.for_org(org).get(name=name)
        [row] = queries.transactions(org, app, time.time() - 120, time.time() + 60)["transactions"]
        assert row["name"] == txn


def test_metrics_are_accepted_with_a_warning(ingest_server, ingest_key):
    r = post(ingest_server, ingest_key, ExportMetricsServiceRequest().SerializeToString(), path="/v1/metrics")
    assert r.status_code == 200
    assert b"Pulse keeps no metrics" in r.content


def test_logged_exceptions_become_errors(ingest_server, org, ingest_key):
    now = time.time()
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend(attrs(service__name="worker"))
    records = rl.scope_logs.add().log_records
    records.add(time_unix_nano=int(now * 1e9), trace_id=b"\x01" * 16, body=AnyValue(string_value="failed"),
                attributes=attrs(exception__type="KeyError", exception__message="'sku'",
                                 exception__stacktrace='Traceback (most recent call last):\n  File "/srv/job.py", '
                                                       'line 4, in run\nKeyError: \'sku\'\n'))
    records.add(time_unix_nano=int(now * 1e9), body=AnyValue(string_value="just a line"))
    r = post(ingest_server, ingest_key, req.SerializeToString(), path="/v1/logs")
    assert r.status_code == 200, r.content
    out = ExportLogsServiceResponse()
    out.ParseFromString(r.content)
    assert out.partial_success.rejected_log_records == 0
    assert out.partial_success.error_message == "log records without an exception are not stored: 1"
    drain(Consumer(name="otlp-test"))
    app = App.objects.for_org(org).get(name="worker")
    [group] = queries.error_groups(org, app, now - 120, now + 60)["groups"]
    assert (group["error_class"], group["top_frame"]) == ("KeyError", "/srv/job.py in run")


def test_spans_go_to_the_organisation_of_the_key(ingest_server, org, outsider_org):
    outsider_key = make_key(outsider_org)
    assert post(ingest_server, outsider_key, request("theirs", web_request()[2]).SerializeToString()).status_code == 200
    drain(Consumer(name="otlp-test"))
    assert App.objects.for_org(outsider_org).filter(name="theirs").exists()
    assert not App.objects.for_org(org).filter(name="theirs").exists()


@pytest.mark.django_db
def test_the_django_view_serves_the_same_receiver(client, org, private_stream):
    key = make_key(org)
    body = request("via-django", web_request()[2]).SerializeToString()
    r = client.post("/v1/traces", body, content_type="application/x-protobuf", HTTP_X_PULSE_INGEST_KEY=key)
    assert r.status_code == 200 and r["content-type"] == "application/x-protobuf"
    assert client.get("/v1/traces").status_code == 405


def test_the_messages_run_on_protobufs_upb_runtime():
    # The pure-Python runtime would parse the same messages, many times slower.
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() == "upb"
