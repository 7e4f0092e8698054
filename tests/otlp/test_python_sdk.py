"""A real OpenTelemetry client: a Flask app under the OpenTelemetry Python SDK in its own
process exports with the stock OTLP/HTTP exporter to the real ingest server; a real
consumer applies the batches and the query layer shows the service."""

import json
import os
import subprocess
import sys
import time

import pytest

from apm import queries
from apm.consumer import Consumer
from tenants.models import App
from tests.ingest.conftest import drain

APP = os.path.join(os.path.dirname(__file__), "apps", "flask_otel.py")


def run_otel_app(endpoint, key, service, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PULSE_", "DJANGO_"))}
    environ.update(
        OTEL_SERVICE_NAME=service,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_HEADERS=f"x-pulse-ingest-key={key}",
        OTEL_BSP_SCHEDULE_DELAY="200",
        PYTHONUNBUFFERED="1",
        **env,
    )
    proc = subprocess.run([sys.executable, APP], env=environ, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Failed to export" not in proc.stderr and "partial success" not in proc.stderr.lower(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_a_flask_app_under_the_otel_sdk_shows_up_in_pulse(ingest_server, org, ingest_key, compression,
                                                          owner_client):
    started = time.time() - 60
    statuses = run_otel_app(ingest_server, ingest_key, "catalog", OTEL_EXPORTER_OTLP_COMPRESSION=compression)
    assert statuses == {"/items/7": 200, "/boom": 500}
    assert drain(Consumer(name="otel-python")) >= 1

    app = App.objects.for_org(org).get(name="catalog")
    until = time.time() + 60
    by_name = {t["name"]: t for t in queries.transactions(org, app, started, until)["transactions"]}
    assert by_name["GET /items/<int:item_id>"]["count"] == 4
    assert by_name["GET /boom"]["error_count"] == 1
    [group] = queries.error_groups(org, app, started, until)["groups"]
    assert group["error_class"] == "RuntimeError" and group["message"] == "kaboom in flask"
    assert group["transaction"] == "GET /boom" and "flask_otel.py" in group["top_frame"]
    traced = [t for t in queries.traces(org, app, started, until)["traces"] if t["name"] == "GET /items/<int:item_id>"]
    trace = queries.trace(org, app, traced[0]["trace_id"])["trace"]
    [db_span] = [s for s in trace["spans"] if s["kind"] == "database"]
    assert db_span["attrs"]["db.system"] == "sqlite"
    assert db_span["attrs"]["sql"] == "SELECT name FROM items WHERE id = ? AND name != ?"
    page = owner_client.get(f"/o/{org.slug}/apps/{app.pk}/transactions/")
    assert page.status_code == 200 and b"GET /items/&lt;int:item_id&gt;" in page.content
