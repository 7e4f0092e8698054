"""One distributed trace across two services: a Flask app under the Pulse agent calls a
Node.js service (Express under the OpenTelemetry SDK, exporting OTLP/HTTP JSON, from
npm: tests/otel_node/). Both report to the real ingest server; the trace of each is
found by the other's trace id and linked through the agent's external span."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from apm import queries
from apm.consumer import Consumer
from tenants.models import App
from tests.ingest.conftest import drain

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "..", "otel_node")
AGENT_DIR = os.path.join(HERE, "..", "..", "agent")


@pytest.fixture(scope="module")
def node_service_installed():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("needs node and npm (Node.js) for the OpenTelemetry Node.js service")
    subprocess.run([os.path.join(HERE, "..", "..", "deploy", "local", "ensure_otel_node.sh")], check=True,
                   capture_output=True, timeout=600)


def start_node_service(endpoint, key):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PULSE_"))}
    env.update(
        OTEL_SERVICE_NAME="pricing",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_HEADERS=f"x-pulse-ingest-key={key}",
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_TRACES_SAMPLER="always_on",
    )
    proc = subprocess.Popen(["node", "service.js"], cwd=NODE_DIR, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    return proc, json.loads(line)["port"]


def stop_node_service(proc):
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err


def run_agent_app(endpoint, key, pricing_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PULSE_", "DJANGO_"))}
    env.update(
        PYTHONPATH=AGENT_DIR,
        PULSE_ENDPOINT=endpoint,
        PULSE_INGEST_KEY=key,
        PULSE_APP_NAME="storefront",
        PULSE_HARVEST_INTERVAL="0.2",
        PULSE_TRACE_SAMPLES_PER_MINUTE="60",
        PRICING_URL=pricing_url,
        PYTHONUNBUFFERED="1",
    )
    cmd = [sys.executable, "-m", "pulse_agent.cli", "run", "--", sys.executable,
           os.path.join(HERE, "apps", "flask_agent_caller.py")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "rejected" not in proc.stderr and "could not send" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_trace_across_an_agent_service_and_a_node_otel_service_is_one(ingest_server, org, ingest_key,
                                                                         node_service_installed, owner_client,
                                                                         outsider_client):
    started = time.time() - 60
    node, port = start_node_service(ingest_server, ingest_key)
    try:
        assert run_agent_app(ingest_server, ingest_key, f"http://127.0.0.1:{port}") == [200, 200, 200]
    finally:
        node_log = stop_node_service(node)
    assert "error" not in node_log.lower(), node_log
    assert drain(Consumer(name="otel-node")) >= 2

    until = time.time() + 60
    pricing = App.objects.for_org(org).get(name="pricing")
    storefront = App.objects.for_org(org).get(name="storefront")
    [price] = queries.transactions(org, pricing, started, until)["transactions"]
    assert (price["name"], price["count"], price["error_count"]) == ("GET /price/:sku", 3, 0)

    node_traces = queries.traces(org, pricing, started, until)["traces"]
    assert node_traces
    node_trace = queries.trace(org, pricing, node_traces[0]["trace_id"])["trace"]
    # The same trace id on the agent's side, and the Node.js entry span's parent is the
    # agent's external span: one waterfall.
    agent_trace = queries.trace(org, storefront, node_trace["trace_id"])
    assert agent_trace is not None, "the agent kept no trace with the Node.js service's trace id"
    externals = {s["id"]: s for s in agent_trace["trace"]["spans"] if s["kind"] == "external"}
    assert node_trace["parent_span_id"] in externals
    shared = queries.traces_sharing_id(org, node_trace["trace_id"], exclude_app=storefront)
    assert [t.app.name for t in shared] == ["pricing"]
    # The agent's trace page shows the Node.js service's part; not to another organisation.
    page = f"/o/{org.slug}/apps/{storefront.pk}/traces/{node_trace['trace_id']}/"
    response = owner_client.get(page)
    assert response.status_code == 200 and b"pricing" in response.content
    assert outsider_client.get(page).status_code == 404
