"""Ranking transactions by p95 (apm/queries/rankings.py) merges every transaction's sketches: it
is done while at most P95_RANKING_MAX_SKETCHES of them are not cached (a short range, or one
ranked lately); past that the ranking is by time consumed, and the answer says why."""

import json
import time

import pytest

from tests.apm.test_query_api import api, send
from tests.ingest import payloads as P
from tests.ingest.conftest import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_transactions(client, org, ingest_key, consumer):
    """Three closed minutes: "busy" takes the most time, "slow" has the higher p95."""
    first = int(time.time()) // 60 * 60 - 1200
    for k in range(3):
        minute = first + 60 * k
        send(client, ingest_key, P.payload("shop", metrics=[
            P.metric("busy", [0.1] * 50, minute),
            P.metric("slow", [2.0, 2.0], minute),
        ]))
    drain(consumer)
    return first


def _rank(client, org, app_id, since):
    response = api(client, org, f"apps/{app_id}/transactions", sort="p95", **{"from": since, "to": since + 180})
    assert response.status_code == 200
    return json.loads(response.content)


def _app_id(client, org):
    return json.loads(api(client, org, "apps").content)["apps"][0]["id"]


def test_within_the_budget_it_ranks_by_p95(org, owner_client, two_transactions, settings):
    settings.P95_RANKING_MAX_SKETCHES = 100
    out = _rank(owner_client, org, _app_id(owner_client, org), two_transactions)
    assert (out["sort"], out["notice"]) == ("p95", None)
    assert [t["name"] for t in out["transactions"]] == ["slow", "busy"]


def test_past_the_budget_it_ranks_by_time_and_says_why(org, owner_client, two_transactions, settings):
    settings.P95_RANKING_MAX_SKETCHES = 5  # the range has six rows, none cached
    out = _rank(owner_client, org, _app_id(owner_client, org), two_transactions)
    assert out["sort"] == "time"
    assert "6 percentile sketches" in out["notice"] and "P95_RANKING_MAX_SKETCHES" in out["notice"]
    assert [t["name"] for t in out["transactions"]] == ["busy", "slow"]
    assert all(t["p95_ms"] is not None for t in out["transactions"])  # still shown for the rows returned


def test_once_cached_the_same_range_ranks_by_p95_within_a_small_budget(org, owner_client, two_transactions, settings):
    app_id = _app_id(owner_client, org)
    settings.P95_RANKING_MAX_SKETCHES = 100
    _rank(owner_client, org, app_id, two_transactions)  # merges and caches the closed minutes
    settings.P95_RANKING_MAX_SKETCHES = 0
    assert _rank(owner_client, org, app_id, two_transactions)["sort"] == "p95"


def test_the_page_shows_the_notice_and_the_ranking_it_used(org, owner_client, two_transactions, settings):
    settings.P95_RANKING_MAX_SKETCHES = 1
    app_id = _app_id(owner_client, org)
    since = two_transactions
    response = owner_client.get(f"/o/{org.slug}/apps/{app_id}/transactions/", {"sort": "p95", "from": since,
                                                                                "to": since + 180})
    page = response.content.decode()
    assert response.status_code == 200
    assert "data-ranking-notice" in page and "ranked by time consumed instead" in page
