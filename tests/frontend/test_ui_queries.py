"""apm/ui_queries: the pages' cached metric queries agree with the query layer."""

import time

import pytest
from django.core.cache import cache

from apm import queries, ui_queries
from tests.frontend.seed import apply, payload, seed_app, _metric  # noqa: F401


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()


def assert_stats_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], float) or isinstance(b[key], float):
            assert a[key] == pytest.approx(b[key], rel=1e-9), key
        elif isinstance(a[key], dict):
            assert_stats_equal(a[key], b[key])
        else:
            assert a[key] == b[key], key


def test_tiers_cover_the_range_with_the_coarsest_rows():
    day = 86400
    start, end = 3 * day + 7 * 3600 + 300, 9 * day + 5 * 3600 + 1200
    tiers = ui_queries._tiers(start, end, 60)
    assert tiers[0][1] == start and tiers[-1][2] == end
    assert all(a[2] == b[1] for a, b in zip(tiers, tiers[1:]))  # contiguous, no overlap
    assert (86400, 4 * day, 9 * day) in tiers
    assert [t[0] for t in tiers] == [60, 3600, 86400, 3600, 60]
    assert ui_queries._tiers(start, start + 1800, 60) == [(60, start, start + 1800)]


@pytest.mark.parametrize("minutes", [30, 6 * 60, 30 * 60])
def test_series_equals_the_query_layer(org, app, minutes):
    facts = seed_app(org, app, minutes=150)
    until = facts["last_minute"] + 60
    since = until - minutes * 60
    mine = ui_queries.series(org, app, since, until)
    theirs = queries.timeseries(org, app, since, until)
    assert mine["resolution"] == theirs["resolution"]
    assert len(mine["points"]) == len(theirs["points"])
    for a, b in zip(mine["points"], theirs["points"]):
        assert_stats_equal(a, b)
    # Totals merged from hour rows plus minute edges equal the merge of every minute.
    assert_stats_equal(mine["totals"], theirs["totals"])
    again = ui_queries.series(org, app, since, until)  # now from the cache
    assert again["points"] == mine["points"] and again["totals"] == mine["totals"]


def test_cached_percentiles_follow_a_row_that_grows(org, app):
    facts = seed_app(org, app, minutes=10)
    minute = facts["last_minute"]
    since, until = minute - 600, minute + 60
    before = ui_queries.series(org, app, since, until, transaction=None)["points"][-1]
    # A late payload adds slow calls to that minute: its count changes, so does its key.
    import random

    slow = _metric(random.Random(3), "shop.views.checkout", "web", minute, 50, 9.0, 0, {"python": 1.0}, 0.5)
    apply(org, app, [payload(app.name, metrics=[slow])])
    after = ui_queries.series(org, app, since, until)["points"][-1]
    assert after["count"] == before["count"] + 50
    assert after["p99_ms"] > before["p99_ms"] * 3


def test_the_transaction_table_equals_the_query_layer_on_short_ranges(org, app):
    facts = seed_app(org, app, minutes=90)
    until = facts["last_minute"] + 60
    mine = ui_queries.transaction_table(org, app, until - 3600, until, sort="p95")
    theirs = queries.transactions(org, app, until - 3600, until, sort="p95")
    assert [r["name"] for r in mine["transactions"]] == [r["name"] for r in theirs["transactions"]]
    for a, b in zip(mine["transactions"], theirs["transactions"]):
        assert_stats_equal(a, b)


def test_the_transaction_table_reads_long_ranges_from_whole_hours(org, app):
    facts = seed_app(org, app, minutes=150)
    until = facts["last_minute"] + 60
    since = until - 6 * 3600
    mine = ui_queries.transaction_table(org, app, since, until)
    theirs = queries.transactions(org, app, since // 3600 * 3600, until)
    assert mine["from"] == since // 3600 * 3600
    by_name = {r["name"]: r for r in theirs["transactions"]}
    for row in mine["transactions"]:
        other = by_name[row["name"]]
        assert (row["count"], row["error_count"]) == (other["count"], other["error_count"])
        assert row["p95_ms"] == pytest.approx(other["p95_ms"])
    top = ui_queries.transaction_table(org, app, since, until, limit=2, percentiles=False)["transactions"]
    assert [r["name"] for r in top] == [r["name"] for r in mine["transactions"][:2]]
    assert top[0]["p95_ms"] is None  # not asked for


def test_app_summaries_equal_the_query_layer(org, app):
    from tenants.models import App

    App.objects.for_org(org).create(organization=org, name="Quiet")
    facts = seed_app(org, app, minutes=20)
    now = facts["last_minute"] + 90
    mine = ui_queries.app_summaries(org, now=now)
    theirs = queries.app_summaries(org, now=now)
    assert [a["name"] for a in mine] == ["Quiet", "Shop (prod)"]
    for a, b in zip(mine, theirs):
        assert (a["id"], a["status"], a["last_seen"], a["sparkline"]) == (b["id"], b["status"], b["last_seen"], b["sparkline"])
        assert_stats_equal(a["summary"], b["summary"])


def test_cpu_per_tps_from_hours_agrees_with_minutes(org, app):
    facts = seed_app(org, app, minutes=150)
    until = queries.to_dt(facts["last_minute"] + 60)
    from datetime import timedelta

    by_minute = ui_queries.cpu_per_tps(org, app, until - timedelta(hours=24), until)
    by_hour = ui_queries.cpu_per_tps(org, app, until - timedelta(hours=30), until)
    # Two processes at ~30% and ~45% CPU share 162 calls a minute (2.7 TPS): ~28% per TPS.
    assert by_minute["cpu_per_tps"] == pytest.approx(75 / 2.7, rel=0.05)
    assert by_hour["cpu_per_tps"] == pytest.approx(by_minute["cpu_per_tps"], rel=0.02)
    assert by_minute["max_instances"] == by_hour["max_instances"] == 2


def test_cached_merges_of_closed_buckets_follow_late_data(org, app):
    import random

    facts = seed_app(org, app, minutes=30)
    old_minute = facts["last_minute"] - 20 * 60  # long closed: its merge is cached whole
    since, until = facts["last_minute"] - 29 * 60, facts["last_minute"] + 60
    before = ui_queries.transaction_table(org, app, since, until, sort="p95")["transactions"]
    slow = _metric(random.Random(5), "GET /items/{id}", "web", old_minute, 400, 20.0, 0, {"python": 1.0}, 0.5)
    apply(org, app, [payload(app.name, metrics=[slow])])
    after = {r["name"]: r for r in ui_queries.transaction_table(org, app, since, until, sort="p95")["transactions"]}
    old = {r["name"]: r for r in before}
    assert after["GET /items/{id}"]["count"] == old["GET /items/{id}"]["count"] + 400
    assert after["GET /items/{id}"]["p99_ms"] > 10 * old["GET /items/{id}"]["p99_ms"]
    assert after["shop.views.checkout"]["p95_ms"] == old["shop.views.checkout"]["p95_ms"]


def test_instances_read_from_cached_buckets_equal_a_fresh_read(org, app):
    from datetime import timedelta

    facts = seed_app(org, app, minutes=150)
    until = queries.to_dt(facts["last_minute"] + 60)
    since = until - timedelta(hours=30)
    fresh = ui_queries.instances_overview(org, app, since, until, 3600)
    cached = ui_queries.instances_overview(org, app, since, until, 3600)  # closed hours from the cache
    assert cache.get_many([f"apm:inst:{app.id}:3600:{(facts['last_minute'] - 3 * 3600) // 3600 * 3600}"])
    strip = lambda rows: [{k: v for k, v in r.items() if k != "sample"} for r in rows]  # noqa: E731
    assert strip(cached[0]) == strip(fresh[0]) and cached[1] == fresh[1]
    assert sorted((r["host"], r["pid"]) for r in fresh[0]) == [("web-1", 101), ("web-2", 202)]


def test_the_warm_up_task_caches_app_quantiles_of_closed_minutes(org, app, settings):
    from frontend.tasks import warm_chart_cache

    facts = seed_app(org, app, minutes=20)
    since, until = facts["last_minute"] - 19 * 60, facts["last_minute"] + 60
    assert ui_queries.warm_app_quantiles(since, until) == 40  # 20 minutes, a web and a background row each
    rows = ui_queries._rollups(org, app, 60, since, until)
    keys = [ui_queries._row_key("q", ui_queries.Row("a", 60, r[0], r[2], r[1])) for r in rows]
    assert len(cache.get_many(keys)) == len(rows) == 20
    # The charts then find every quantile cached: no sketch is fetched for them.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        ui_queries.series_quantiles(org, [ui_queries.Row("a", 60, r[0], r[2], r[1]) for r in rows])
    assert not [q for q in ctx.captured_queries if "sketch" in q["sql"]]
    assert warm_chart_cache() >= 0  # the scheduled task runs (on whatever has just closed)
    assert "frontend-warm-chart-cache" in settings.CELERY_BEAT_SCHEDULE
