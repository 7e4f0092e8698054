"""deploy/grafana/pulse-apm.json: an importable dashboard whose every query reads series the
scrape endpoint exposes (tests/prometheus/test_prometheus_server.py runs each through Prometheus)."""

import json
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.prometheus.conftest import DASHBOARD, dashboard_queries, scrape

SERIES = re.compile(r"\bpulse_[a-z_]+\b")


@pytest.mark.django_db
def test_every_panel_reads_series_the_endpoint_exposes(client, shop, read_token):
    exposed = {
        s.name for f in text_string_to_metric_families(scrape(client, read_token).content.decode()) for s in f.samples
    }
    queries = dashboard_queries()
    assert len(queries) >= 10
    for title, expr in queries:
        named = set(SERIES.findall(expr))
        assert named, f"{title}: {expr} names no Pulse series"
        assert named <= exposed, f"{title}: {sorted(named - exposed)} are not exposed"


def test_it_is_importable_with_a_prometheus_data_source():
    board = json.loads(DASHBOARD.read_text())
    assert [i["pluginId"] for i in board["__inputs"]] == ["prometheus"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], panel["title"]
