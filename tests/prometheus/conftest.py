"""Fixtures for the Prometheus exposition tests: data through the real ingest path, API tokens."""

import json
import re
import time
from pathlib import Path

import pytest

from tenants import actions
from tenants.models import App, TokenScope
from tests.ingest import payloads as P
from tests.ingest.conftest import consumer, drain, ingest_key, outsider_key, private_stream  # noqa: F401


def send(client, key, p):
    r = client.post("/api/v1/ingest", P.body(p), content_type="application/json", **P.headers(key))
    assert r.status_code == 202, r.content
    return r


def scrape(client, token, accept=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if accept:
        headers["HTTP_ACCEPT"] = accept
    return client.get("/api/v1/metrics", **headers)


@pytest.fixture
def minute():
    """A closed minute inside the five the percentiles are taken over (and, but for the first
    minutes of a UTC day, inside today)."""
    return int(time.time()) // 60 * 60 - 120


@pytest.fixture
def read_token(org, owner):
    return actions.create_api_token(org, "prometheus", TokenScope.READ, owner).raw


@pytest.fixture
def outsider_token(outsider_org, outsider):
    return actions.create_api_token(outsider_org, "theirs", TokenScope.READ, outsider).raw


@pytest.fixture
def shop(client, org, ingest_key, consumer, minute):
    """Two payloads from two processes; exact values known."""
    send(client, ingest_key, P.payload("shop", metrics=[
        P.metric("checkout", [0.1, 0.2, 0.3, 2.5], minute, errors=1),
        P.metric("home", [0.05, 0.07], minute),
    ], inst=P.instance(minute + 30)))
    send(client, ingest_key, P.payload("shop", metrics=[
        P.metric("checkout", [0.4, 0.6], minute, errors=0),
        P.metric("home", [0.01], minute + 60),
    ], inst=P.instance(minute + 90, host="web-2", pid=7, cpu=50.0)))
    drain(consumer)
    return App.objects.for_org(org).get(name="shop")


DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "pulse-apm.json"


def dashboard_queries():
    """[(panel title, PromQL)] of the Grafana dashboard, its variables included, with Grafana's
    placeholders filled in as Grafana would for "All" apps."""
    board = json.loads(DASHBOARD.read_text())
    found = [(p["title"], t["expr"]) for p in board["panels"] for t in p["targets"]]
    found += [(v["name"], re.sub(r"label_values\((.*), \w+\)", r"\1", v["query"]["query"])) for v in board["templating"]["list"]]
    return [(title, expr.replace("$__rate_interval", "1m").replace("$app", ".*")) for title, expr in found]
