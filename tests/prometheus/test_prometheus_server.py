"""Debian's Prometheus server scrapes the live test server's endpoint with the bearer token;
the values read back through Prometheus's own HTTP API are the query layer's."""

import shutil
import socket
import subprocess
import time

import httpx
import pytest

from apm import queries
from apm.models import Transaction
from apm.queries import scrape as scrape_queries
from tenants import actions
from tenants.models import TokenScope
from tests.prometheus.conftest import dashboard_queries

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="needs Prometheus (apt-get install prometheus; make prometheus installs it)"
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pulse
    metrics_path: /api/v1/metrics
    authorization:
      credentials_file: {token_file}
    static_configs:
      - targets: ["{target}"]
  - job_name: revoked
    metrics_path: /api/v1/metrics
    authorization:
      credentials: {revoked}
    static_configs:
      - targets: ["{target}"]
"""


@pytest.fixture
def prometheus(tmp_path):
    """Start Prometheus with ``start(target, token, revoked)``; its base URL is returned."""
    procs = []

    def start(target, token, revoked):
        (tmp_path / "token").write_text(token)
        config = tmp_path / "prometheus.yml"
        config.write_text(CONFIG.format(token_file=tmp_path / "token", target=target, revoked=revoked))
        port = _free_port()
        log = open(tmp_path / "prometheus.log", "wb")
        procs.append(subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        ))
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _query(base, expr, until=None):
    """The instant vector of ``expr`` as {frozenset(labels without job/instance): value},
    polled until it is not empty."""
    deadline = time.monotonic() + 60
    while True:
        try:
            body = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5).json()
        except httpx.TransportError:
            body = {"status": "starting"}
        if body["status"] == "success" and body["data"]["result"]:
            return {
                frozenset((k, v) for k, v in r["metric"].items() if k not in ("job", "instance", "__name__")):
                float(r["value"][1])
                for r in body["data"]["result"]
            }
        assert time.monotonic() < deadline, f"Prometheus has no {expr}: {body}"
        time.sleep(0.5)


@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_the_figures_the_query_layer_computes(live_server, org, owner, shop, prometheus, minute):
    token = actions.create_api_token(org, "prometheus", TokenScope.READ, owner).raw
    revoked = actions.create_api_token(org, "old", TokenScope.READ, owner)
    actions.revoke_api_token(org, revoked.token.pk)
    base = prometheus(live_server.url.removeprefix("http://"), token, revoked.raw)

    assert _query(base, 'up{job="pulse"}') == {frozenset(): 1.0}
    assert _query(base, 'up{job="revoked"}') == {frozenset(): 0.0}  # 401: the scrape fails

    now = time.time()
    start, end = scrape_queries.recent_window(now)
    requests = _query(base, 'pulse_transaction_requests_total{job="pulse"}')
    errors = _query(base, 'pulse_transaction_errors_total{job="pulse"}')
    p95 = _query(base, 'pulse_transaction_duration_seconds{job="pulse",quantile="0.95"}')
    apdex = _query(base, 'pulse_app_apdex{job="pulse"}')
    for txn in Transaction.objects.for_org(org).filter(app=shop):
        labels = frozenset({("app", "shop"), ("transaction", txn.name), ("type", "web")})
        today = queries.window_stats(org, shop, scrape_queries.day_start(now), now + 60, transaction=txn.pk)
        recent = queries.window_stats(org, shop, start, end, transaction=txn.pk)
        assert requests[labels] == today["count"]
        assert errors[labels] == today["error_count"]
        assert p95[labels | {("quantile", "0.95")}] == pytest.approx(recent["p95_ms"] / 1000)
    assert apdex[frozenset({("app", "shop"), ("type", "web")})] == pytest.approx(
        queries.window_stats(org, shop, start, end)["apdex"]
    )
    cpu = _query(base, 'pulse_instance_cpu_percent{job="pulse"}')
    assert cpu[frozenset({("app", "shop"), ("host", "web-2"), ("pid", "7")})] == 50.0

    for title, expr in dashboard_queries():  # every dashboard query is valid PromQL with data
        assert _query(base, expr), title
