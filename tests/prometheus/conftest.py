"""Fixtures for the Prometheus exposition tests: data through the real ingest path (the query API's
``shop``), API tokens, the Grafana dashboard's queries."""

import json
import re
import time
from pathlib import Path

import pytest

from tenants import actions
from tenants.models import TokenScope
from tests.apm.test_query_api import minute, send, shop  # noqa: F401  (the same data, known exactly)
from tests.ingest.conftest import consumer, ingest_key, outsider_key, private_stream  # noqa: F401


def scrape(client, token, accept=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if accept:
        headers["HTTP_ACCEPT"] = accept
    return client.get("/api/v1/metrics", **headers)


@pytest.fixture
def read_token(org, owner):
    return actions.create_api_token(org, "prometheus", TokenScope.READ, owner).raw


@pytest.fixture
def outsider_token(outsider_org, outsider):
    return actions.create_api_token(outsider_org, "theirs", TokenScope.READ, outsider).raw


DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "pulse-apm.json"


def dashboard_queries():
    """[(panel title, PromQL)] of the Grafana dashboard, its variables included, with Grafana's
    placeholders filled in as Grafana would for "All" apps."""
    board = json.loads(DASHBOARD.read_text())
    found = [(p["title"], t["expr"]) for p in board["panels"] for t in p["targets"]]
    found += [(v["name"], re.sub(r"label_values\((.*), \w+\)", r"\1", v["query"]["query"])) for v in board["templating"]["list"]]
    return [(title, expr.replace("$__rate_interval", "1m").replace("$app", ".*")) for title, expr in found]


@pytest.fixture(autouse=True)
def not_at_midnight():
    """The shop's minute (two minutes ago) must fall in today's counters: at most three minutes'
    wait, in the first minutes of a UTC day."""
    into_day = time.time() % 86400
    if into_day < 180:
        time.sleep(180 - into_day)
