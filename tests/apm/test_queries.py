"""apm.queries: series, rankings and summaries read from the coarsest rows, with their sketch
work cached, equal what every minute row says (a plain reference computed here from the ORM)."""

import random
from collections import defaultdict
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apm import queries
from apm.models import AppMinute, TransactionMinute
from apm.queries import base, sketchcache
from apm.queries.stats import Acc
from apm.queries.series import rollups
from apm.sketches import DDSketch, decode, merge_into, quantiles
from contract.builders import payload
from tests.frontend.seed import _metric, apply, seed_app


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


def reference(minute_rows, minutes):
    """The stats of a set of minute rows, summed and merged one by one."""
    acc, sketch = Acc(), DDSketch()
    for r in minute_rows:
        acc.add_row(r.count, r.errors, r.sum, r.min, r.max, r.apdex_s, r.apdex_t, r.apdex_f, r.seg_python,
                    r.seg_database, r.seg_external, r.seg_template)
        merge_into(sketch, decode(bytes(r.sketch)))
    return acc.stats(minutes, quantiles(sketch) if sketch.count else (None, None, None))


def app_minutes(org, app, start, end, txn_type="web"):
    return AppMinute.objects.for_org(org).filter(
        app=app, txn_type=txn_type, time__gte=base.to_dt(start), time__lt=base.to_dt(end)
    )


def txn_minutes(org, app, start, end):
    by_name = defaultdict(list)
    for r in TransactionMinute.objects.for_org(org).filter(
        app=app, transaction__type="web", time__gte=base.to_dt(start), time__lt=base.to_dt(end)
    ).select_related("transaction"):
        by_name[r.transaction.name].append(r)
    return by_name


def test_tiers_cover_the_range_with_the_coarsest_rows():
    day = 86400
    start, end = 3 * day + 7 * 3600 + 300, 9 * day + 5 * 3600 + 1200
    tiers = base.tiers(start, end, 60)
    assert tiers[0][1] == start and tiers[-1][2] == end
    assert all(a[2] == b[1] for a, b in zip(tiers, tiers[1:]))  # contiguous, no overlap
    assert (86400, 4 * day, 9 * day) in tiers
    assert [t[0] for t in tiers] == [60, 3600, 86400, 3600, 60]
    assert base.tiers(start, start + 1800, 60) == [(60, start, start + 1800)]
    assert [t[0] for t in base.tiers(start, end, 60, coarsest=3600)] == [60, 3600, 60]


def test_the_range_plan_widens_edges_past_minute_retention(settings):
    settings.RETENTION_MINUTE_DAYS = 8
    now = 100 * 86400 + 12 * 3600 + 1234
    plan = base.range_plan(now - 14 * 86400, now, now=now)
    assert plan[0][1] % 3600 == 0 and plan[0][0] != 60  # no minute rows that old: from the hour
    assert plan[-1] == (60, now // 3600 * 3600, -(-now // 60) * 60)  # the current hour to the minute
    recent = base.range_plan(now - 7200 - 90, now, now=now)  # from 10:19:04: minutes up to 11:00
    assert recent[0] == (60, (now - 7200 - 90) // 60 * 60, 100 * 86400 + 11 * 3600)


def test_the_range_plan_reads_an_hour_not_yet_downsampled_from_its_minutes():
    now = 100 * 86400 + 9 * 3600 + 59 * 60 + 12  # 09:59:12: the minute edge rounds up to 10:00
    assert base.range_plan(now - 3600, now, now=now) == [(60, (now - 3600) // 60 * 60, 100 * 86400 + 10 * 3600)]
    just_closed = 100 * 86400 + 10 * 3600 + 30  # 10:00:30: 09:00-10:00 may not be downsampled yet
    assert base.range_plan(just_closed - 3 * 3600, just_closed, now=just_closed) == [
        (3600, 100 * 86400 + 7 * 3600, 100 * 86400 + 9 * 3600),
        (60, 100 * 86400 + 9 * 3600, -(-just_closed // 60) * 60),
    ]
    later = just_closed + 600  # by 10:10 it is
    assert (3600, 100 * 86400 + 8 * 3600, 100 * 86400 + 10 * 3600) in base.range_plan(later - 3 * 3600, later, now=later)


@pytest.mark.parametrize("minutes", [30, 6 * 60, 30 * 60])
def test_timeseries_equals_a_merge_of_every_minute(org, app, minutes):
    facts = seed_app(org, app, minutes=150)
    until = facts["last_minute"] + 60
    since = until - minutes * 60
    out = queries.timeseries(org, app, since, until)
    step = out["resolution"]
    assert step == (60 if minutes <= 25 * 60 else 3600)
    assert out["from"] == since // step * step and out["to"] == -(-until // step) * step
    per_bucket = defaultdict(list)
    for r in app_minutes(org, app, out["from"], out["to"]):
        per_bucket[int(r.time.timestamp()) // step * step].append(r)
    assert [p["t"] for p in out["points"]] == list(range(out["from"], out["to"], step))
    for point in out["points"]:
        assert_stats_equal({k: v for k, v in point.items() if k != "t"}, reference(per_bucket[point["t"]], step / 60))
    # Totals merged from hour rows plus minute edges equal the merge of every minute.
    everything = [r for rows in per_bucket.values() for r in rows]
    assert_stats_equal(out["totals"], reference(everything, (out["to"] - out["from"]) / 60))
    again = queries.timeseries(org, app, since, until)  # now from the cache
    assert again == out


def test_cached_percentiles_follow_a_row_that_grows(org, app):
    facts = seed_app(org, app, minutes=10)
    minute = facts["last_minute"]
    since, until = minute - 600, minute + 60
    before = queries.timeseries(org, app, since, until)["points"][-1]
    # A late payload adds slow calls to that minute: its count changes, so does its key.
    slow = _metric(random.Random(3), "shop.views.checkout", "web", minute, 50, 9.0, 0, {"python": 1.0}, 0.5)
    apply(org, app, [payload(app.name, metrics=[slow])])
    after = queries.timeseries(org, app, since, until)["points"][-1]
    assert after["count"] == before["count"] + 50
    assert after["p99_ms"] > before["p99_ms"] * 3


def test_window_stats_are_exact_to_the_minute_over_hour_rows(org, app):
    facts = seed_app(org, app, minutes=150)
    since, until = facts["last_minute"] - 140 * 60 + 17, facts["last_minute"] + 60
    stats = queries.window_stats(org, app, since, until)
    expected = reference(app_minutes(org, app, since // 60 * 60, until), (until - since) / 60)
    assert_stats_equal(stats, expected)


def test_transactions_are_exact_to_the_minute_by_default(org, app):
    facts = seed_app(org, app, minutes=150)
    until = facts["last_minute"] + 60
    since = until - 130 * 60 - 30  # whole hours inside, ragged edges
    out = queries.transactions(org, app, since, until, sort="p95")
    assert out["from"] == since // 60 * 60
    expected = {name: reference(rows, (until - since) / 60) for name, rows in txn_minutes(org, app, out["from"], until).items()}
    assert sorted(r["name"] for r in out["transactions"]) == sorted(expected)
    for row in out["transactions"]:
        assert_stats_equal({k: v for k, v in row.items() if k in expected[row["name"]]}, expected[row["name"]])
    p95s = [r["p95_ms"] for r in out["transactions"]]
    assert p95s == sorted(p95s, reverse=True)


def test_the_pages_ranking_reads_long_ranges_from_whole_hours(org, app):
    facts = seed_app(org, app, minutes=150)
    until = facts["last_minute"] + 60
    since = until - 6 * 3600
    out = queries.transactions(org, app, since, until, whole_hours=True)
    assert out["from"] == since // 3600 * 3600 and out["to"] == -(-until // 3600) * 3600
    expected = txn_minutes(org, app, out["from"], out["to"])
    for row in out["transactions"]:
        want = reference(expected[row["name"]], (out["to"] - out["from"]) / 60)
        assert (row["count"], row["error_count"], row["rpm"]) == (want["count"], want["error_count"], want["rpm"])
        assert row["p95_ms"] == pytest.approx(want["p95_ms"])
    top = queries.transactions(org, app, since, until, limit=2, percentiles=False, whole_hours=True)["transactions"]
    assert [r["name"] for r in top] == [r["name"] for r in out["transactions"][:2]]
    assert top[0]["p95_ms"] is None  # not asked for


def test_transactions_filter_by_name_and_rank_by_error_rate(org, app):
    facts = seed_app(org, app, minutes=30)
    until = facts["last_minute"] + 60
    everything = {r["name"]: r for r in queries.transactions(org, app, until - 1800, until)["transactions"]}
    assert len(everything) == 3
    (only,) = queries.transactions(org, app, until - 1800, until, q="/ITEMS/")["transactions"]
    assert only["name"] == "GET /items/{id}"
    assert only["time_share"] == pytest.approx(everything["GET /items/{id}"]["time_share"])  # of the whole app
    by_rate = queries.transactions(org, app, until - 1800, until, sort="error_rate")["transactions"]
    assert [r["error_rate"] or 0 for r in by_rate] == sorted((r["error_rate"] or 0 for r in by_rate), reverse=True)


def test_app_summaries_sum_the_last_minutes(org, app):
    from tenants.models import App

    App.objects.for_org(org).create(organization=org, name="Quiet")
    facts = seed_app(org, app, minutes=20)
    now = facts["last_minute"] + 90
    quiet, shop = queries.app_summaries(org, now=now)
    assert (quiet["name"], quiet["status"], quiet["last_seen"], quiet["summary"]["count"]) == ("Quiet", "grey", None, 0)
    end = int(now // 60) * 60 + 60  # the summary's window ends with the current minute
    assert_stats_equal(shop["summary"], reference(app_minutes(org, app, end - 300, end), 5.0))
    assert shop["last_seen"] == facts["last_minute"]
    assert shop["sparkline"]["start"] == end - 3600 and len(shop["sparkline"]["rpm"]) == 60
    assert sum(shop["sparkline"]["rpm"]) == sum(r.count for r in app_minutes(org, app, end - 3600, end))
    assert shop["status"] == queries.status_of(shop["summary"])


def test_cpu_per_tps_from_hours_agrees_with_minutes(org, app):
    facts = seed_app(org, app, minutes=150)
    until = base.to_dt(facts["last_minute"] + 60)
    by_minute = queries.cpu_per_tps(org, app, until - timedelta(hours=24), until)
    by_hour = queries.cpu_per_tps(org, app, until - timedelta(hours=30), until)
    # Two processes at ~30% and ~45% CPU share 162 calls a minute (2.7 TPS): ~28% per TPS.
    assert by_minute["cpu_per_tps"] == pytest.approx(75 / 2.7, rel=0.05)
    assert by_hour["cpu_per_tps"] == pytest.approx(by_minute["cpu_per_tps"], rel=0.02)
    assert by_minute["max_instances"] == by_hour["max_instances"] == 2


def test_cached_merges_of_closed_buckets_follow_late_data(org, app):
    facts = seed_app(org, app, minutes=30)
    old_minute = facts["last_minute"] - 20 * 60  # long closed: its merge is cached whole
    since, until = facts["last_minute"] - 29 * 60, facts["last_minute"] + 60
    before = queries.transactions(org, app, since, until, sort="p95")["transactions"]
    slow = _metric(random.Random(5), "GET /items/{id}", "web", old_minute, 400, 20.0, 0, {"python": 1.0}, 0.5)
    apply(org, app, [payload(app.name, metrics=[slow])])
    after = {r["name"]: r for r in queries.transactions(org, app, since, until, sort="p95")["transactions"]}
    old = {r["name"]: r for r in before}
    assert after["GET /items/{id}"]["count"] == old["GET /items/{id}"]["count"] + 400
    assert after["GET /items/{id}"]["p99_ms"] > 10 * old["GET /items/{id}"]["p99_ms"]
    assert after["shop.views.checkout"]["p95_ms"] == old["shop.views.checkout"]["p95_ms"]


def test_the_warm_up_task_caches_app_quantiles_of_closed_minutes(org, app, settings):
    from frontend.tasks import warm_chart_cache
    from pulse.celery import app as celery_app

    facts = seed_app(org, app, minutes=20)
    since, until = facts["last_minute"] - 19 * 60, facts["last_minute"] + 60
    assert queries.warm_app_quantiles(since, until) == 40  # 20 minutes, a web and a background row each
    found = rollups(org, app, 60, since, until)
    keyed = [sketchcache.Row("a", 60, r[0], r[2], r[1]) for r in found]
    assert len(cache.get_many([sketchcache._row_key("q", r) for r in keyed])) == len(found) == 20
    # The charts then find every quantile cached: no sketch is fetched for them.
    with CaptureQueriesContext(connection) as ctx:
        sketchcache.series_quantiles(org, keyed)
    assert not [q for q in ctx.captured_queries if "sketch" in q["sql"]]
    assert warm_chart_cache() >= 0  # the scheduled task runs (on whatever has just closed)
    assert celery_app.conf.beat_schedule["frontend-warm-chart-cache"]["task"] == warm_chart_cache.name


def test_a_moved_minute_edge_reuses_the_cached_merge_of_the_hours(org, app):
    facts = seed_app(org, app, minutes=150)
    until = facts["last_minute"] + 60
    since = until // 3600 * 3600 - 2 * 3600 + 17 * 60 + 30  # a minute edge, then whole hours
    queries.transactions(org, app, since, until)
    with CaptureQueriesContext(connection) as ctx:
        moved = queries.transactions(org, app, since + 60, until)
    assert not [q for q in ctx.captured_queries if "sketch" in q["sql"]]  # hours merged, minutes decoded: cached
    expected = txn_minutes(org, app, moved["from"], until)
    for row in moved["transactions"]:
        assert row["p95_ms"] == pytest.approx(reference(expected[row["name"]], 1)["p95_ms"])
