"""Per-minute metric values for alerting, read from the pipeline's minute rollups.

One query per rollup table and organisation fetches every minute the evaluation
needs; values are computed per (scope, minute) on demand, and sketches are decoded
only for percentile metrics.
"""

from collections import defaultdict
from datetime import timedelta

from apm.sketches import DDSketch, merge_encoded

from alerts.models import Metric

_QUANTILES = {Metric.P50: 0.5, Metric.P95: 0.95, Metric.P99: 0.99}
# Metrics that are zero, not unknown, in a minute without transactions.
ZERO_WHEN_SILENT = {Metric.THROUGHPUT, Metric.ERROR_COUNT}


class Bucket:
    """Aggregates of one scope (app or transaction) in one minute, merged over rows."""

    __slots__ = ("count", "errors", "sum", "apdex_s", "apdex_t", "sketches", "_sketch")

    def __init__(self):
        self.count = self.errors = self.apdex_s = self.apdex_t = 0
        self.sum = 0.0
        self.sketches = []
        self._sketch = None

    def add(self, row):
        count, errors, total, apdex_s, apdex_t, sketch = row
        self.count += count
        self.errors += errors
        self.sum += total
        self.apdex_s += apdex_s
        self.apdex_t += apdex_t
        if sketch:
            self.sketches.append(bytes(sketch))

    def sketch(self):
        if self._sketch is None:
            self._sketch = merge_encoded(self.sketches)
        return self._sketch

    def value(self, metric):
        """The metric in its display unit (ms, %, rpm), or None without transactions."""
        if metric == Metric.THROUGHPUT:
            return float(self.count)
        if metric == Metric.ERROR_COUNT:
            return float(self.errors)
        if self.count <= 0:
            return None
        if metric == Metric.APDEX:
            return (self.apdex_s + self.apdex_t / 2) / self.count
        if metric == Metric.AVG:
            return self.sum / self.count * 1000
        if metric == Metric.ERROR_RATE:
            return self.errors / self.count * 100
        if metric in _QUANTILES:
            q = self.sketch().quantile(_QUANTILES[metric])
            return None if q is None else q * 1000
        raise ValueError(f"{metric} is not a transaction metric")


_FIELDS = ("count", "errors", "sum", "apdex_s", "apdex_t", "sketch")


def app_buckets(org, app_ids, start, end, txn_type="web"):
    """{app_id: {minute: Bucket}}, minutes in [start, end).

    Web transactions by default, like the app's charts (docs/query-api.md); ``txn_type=None``
    merges every type (no-data conditions: any transaction shows the app is alive).
    """
    from apm.models import AppMinute

    out = defaultdict(lambda: defaultdict(Bucket))
    rows = AppMinute.objects.for_org(org).filter(app_id__in=app_ids, time__gte=start, time__lt=end)
    if txn_type:
        rows = rows.filter(txn_type=txn_type)
    for app_id, minute, *row in rows.values_list("app_id", "time", *_FIELDS).iterator(chunk_size=2000):
        out[app_id][minute].add(row)
    return out


def transaction_buckets(org, scopes, start, end):
    """{(app_id, name): {minute: Bucket}} for the given (app_id, transaction name) pairs."""
    from apm.models import TransactionMinute

    out = defaultdict(lambda: defaultdict(Bucket))
    if not scopes:
        return out
    app_ids = {app_id for app_id, _ in scopes}
    names = {name for _, name in scopes}
    rows = TransactionMinute.objects.for_org(org).filter(
        app_id__in=app_ids, transaction__name__in=names, time__gte=start, time__lt=end
    )
    for app_id, name, minute, *row in rows.values_list("app_id", "transaction__name", "time", *_FIELDS).iterator(
        chunk_size=2000
    ):
        if (app_id, name) in scopes:
            out[(app_id, name)][minute].add(row)
    return out


def instance_values(org, app_ids, start, end):
    """{app_id: {host: {minute: (cpu percent, memory MB)}}}, summed over the host's processes."""
    from apm.models import InstanceMinute

    out = defaultdict(lambda: defaultdict(dict))
    rows = InstanceMinute.objects.for_org(org).filter(app_id__in=app_ids, time__gte=start, time__lt=end)
    for app_id, host, minute, cpu, memory in rows.values_list("app_id", "host", "time", "cpu_percent", "memory_bytes"):
        cpu0, mem0 = out[app_id][host].get(minute, (0.0, 0.0))
        out[app_id][host][minute] = (cpu0 + cpu, mem0 + memory / 1e6)
    return out


def minutes(end, window):
    """The minute starts of the window that ends (exclusively) at ``end``, oldest first."""
    return [end - timedelta(minutes=window - i) for i in range(window)]


def series(buckets, metric, minute_list):
    """Values of ``metric`` for each minute (None where unknown)."""
    values = []
    for minute in minute_list:
        bucket = buckets.get(minute)
        if bucket is None:
            values.append(0.0 if metric in ZERO_WHEN_SILENT else None)
        else:
            values.append(bucket.value(metric))
    return values


def count_at_most(sketch, threshold_seconds):
    """How many values of ``sketch`` are at most ``threshold_seconds`` (within the sketch's 1 %)."""
    total = sketch.zero_count
    for index, count in sketch.bins.items():
        if DDSketch.index_value(index) <= threshold_seconds:
            total += count
    return total
