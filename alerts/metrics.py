"""Per-minute metric values for alerting, from the query layer's minute buckets
(apm.queries.per_minute): a condition's metric in its display unit, minute by minute."""

from datetime import datetime, timedelta

from apm.queries import Bucket

from alerts.models import Metric

_QUANTILES = {Metric.P50: 0.5, Metric.P95: 0.95, Metric.P99: 0.99}
# Metrics that are zero, not unknown, in a minute without transactions.
ZERO_WHEN_SILENT = {Metric.THROUGHPUT, Metric.ERROR_COUNT}


def value(bucket: Bucket, metric: str) -> float | None:
    """The metric in its display unit (ms, %, rpm), or None without transactions."""
    if metric == Metric.THROUGHPUT:
        return float(bucket.count)
    if metric == Metric.ERROR_COUNT:
        return float(bucket.errors)
    if bucket.count <= 0:
        return None
    if metric == Metric.APDEX:
        return bucket.apdex()
    if metric == Metric.AVG:
        return bucket.avg() * 1000
    if metric == Metric.ERROR_RATE:
        return bucket.error_rate() * 100
    if metric in _QUANTILES:
        q = bucket.quantile(_QUANTILES[metric])
        return None if q is None else q * 1000
    raise ValueError(f"{metric} is not a transaction metric")


def minutes(end: datetime, window: int) -> list[datetime]:
    """The minute starts of the window that ends (exclusively) at ``end``, oldest first."""
    return [end - timedelta(minutes=window - i) for i in range(window)]


def series(buckets: dict[datetime, Bucket], metric: str, minute_list: list[datetime]) -> list[float | None]:
    """Values of ``metric`` for each minute (None where unknown)."""
    values = []
    for minute in minute_list:
        bucket = buckets.get(minute)
        if bucket is None:
            values.append(0.0 if metric in ZERO_WHEN_SILENT else None)
        else:
            values.append(value(bucket, metric))
    return values
