"""A Flask app under the OpenTelemetry Python SDK (no Pulse agent): it serves a few
requests on a real HTTP server, exports its spans with the stock OTLP/HTTP exporter
configured by the standard environment variables (OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_SERVICE_NAME), and
prints the statuses it got as JSON. Run by tests/otlp/test_python_sdk.py."""

import json
import sqlite3
import threading
import urllib.error
import urllib.request

from flask import Flask
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from werkzeug.serving import make_server

provider = TracerProvider(resource=Resource.create())  # service.name from OTEL_SERVICE_NAME
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
SQLite3Instrumentor().instrument()

app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)
db = sqlite3.connect(":memory:", check_same_thread=False)
db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
db.execute("INSERT INTO items VALUES (7, 'lamp')")
lock = threading.Lock()


@app.route("/items/<int:item_id>")
def item(item_id):
    with lock:
        cursor = db.cursor()  # the instrumentation traces cursors' execute
        row = cursor.execute("SELECT name FROM items WHERE id = %d AND name != 'hidden'" % item_id).fetchone()
    return {"name": row[0] if row else None}


@app.route("/boom")
def boom():
    raise RuntimeError("kaboom in flask")


def main():
    server = make_server("127.0.0.1", 0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_port
    statuses = {}
    for path in ["/items/7"] * 4 + ["/boom"]:
        try:
            with urllib.request.urlopen(base + path) as r:
                statuses[path] = r.status
        except urllib.error.HTTPError as exc:
            statuses[path] = exc.code
    server.shutdown()
    provider.shutdown()  # exports what is left
    print(json.dumps(statuses))


if __name__ == "__main__":
    main()
