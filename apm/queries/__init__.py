"""The query layer: what the JSON API (apm/api_views.py), the pages (frontend/views), alerts
and live views ask of the telemetry. One implementation of each query, by responsibility:

- ``base``: time conversions, rollup tables, the plan of rows covering a range;
- ``stats``: row statistics (``Acc``: averages, rates, Apdex from a rollup row's sums);
- ``sketchcache``: percentile work (sketch decoding and merging) cached in Redis;
- ``series``: metric series and totals of an app or a transaction;
- ``rankings``: transactions ranked over a range;
- ``summaries``: the apps page; ``health``: an app's status from its recent figures;
- ``per_minute``: rollup buckets per scope for alert evaluation, previews and SLO budgets;
- ``deployments``: markers for the charts, and each deployment's hour before and after;
- ``errors``, ``slow_traces``, ``event_samples``, ``processes`` (instances), ``capacity``: the rest;
- ``scrape``: what a Prometheus scrape reads (used as a module by apm/prometheus.py).

Plain functions taking the organisation explicitly; every query filters on it (and on
the app, which the caller fetched through the organisation). Shapes and units are those
of docs/query-api.md: times in unix seconds, durations in milliseconds (the capacity and
instance page helpers return seconds). ``since``/``until`` may be aware datetimes or unix
seconds. Callers import this package and use the names below.
"""

from apm.queries.base import (
    MAX_POINTS,
    app_info,
    series_resolution,
    to_dt,
    to_unix,
    transaction_info,
    transaction_names,
)
from apm.queries.capacity import cpu_per_tps, peak_and_concurrency, throughput_heatmap
from apm.queries.deployments import deployment_impacts, deployments_between
from apm.queries.errors import affected_transactions, error_counts, error_group, error_groups
from apm.queries.event_samples import events
from apm.queries.per_minute import Bucket, app_buckets, instance_minutes, transaction_buckets
from apm.queries.processes import instances, instances_overview
from apm.queries.rankings import SORTS, transactions
from apm.queries.series import minute_points, timeseries, transaction_detail, window_stats
from apm.queries.sketchcache import CLOSED_AFTER, warm_app_quantiles
from apm.queries.slow_traces import trace, traces, traces_sharing_id
from apm.queries.health import status_of
from apm.queries.summaries import app_summaries, has_data

__all__ = [
    "Bucket",
    "CLOSED_AFTER",
    "MAX_POINTS",
    "SORTS",
    "affected_transactions",
    "app_buckets",
    "app_info",
    "app_summaries",
    "cpu_per_tps",
    "deployment_impacts",
    "deployments_between",
    "error_counts",
    "error_group",
    "error_groups",
    "events",
    "has_data",
    "instance_minutes",
    "instances",
    "instances_overview",
    "minute_points",
    "peak_and_concurrency",
    "series_resolution",
    "status_of",
    "throughput_heatmap",
    "timeseries",
    "to_dt",
    "to_unix",
    "trace",
    "traces",
    "traces_sharing_id",
    "transaction_detail",
    "transaction_buckets",
    "transaction_info",
    "transaction_names",
    "transactions",
    "warm_app_quantiles",
    "window_stats",
]
