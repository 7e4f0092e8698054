"""An SLO's error budget over its rolling period, hour by hour, from the rollups.

Whole hours come from the hourly rollups; hours those do not hold yet (the pipeline
downsamples after the fact) are summed from the minute rollups of the last two days.
"""

from collections import defaultdict
from datetime import timedelta

from django.utils import timezone

from apm import queries

from alerts import slo as slo_math
from alerts.evaluation import bad_events


def _hour(t):
    return t.replace(minute=0, second=0, microsecond=0)


def hourly_counts(org, slo, now=None):
    """[(hour start, Counts)] for every hour of the period ending now, oldest first."""
    now = now or timezone.now()
    end = _hour(now) + timedelta(hours=1)
    start = end - timedelta(days=slo.period_days)
    by_hour = queries.app_buckets(org, [slo.app_id], start, end, step=3600).get(slo.app_id, {})
    recent = max(start, end - timedelta(days=2))
    minute_buckets = queries.app_buckets(org, [slo.app_id], recent, end).get(slo.app_id, {})
    filled = defaultdict(queries.Bucket)
    for minute, bucket in minute_buckets.items():
        hour = _hour(minute)
        if hour not in by_hour:
            filled[hour].merge(bucket)
    by_hour = {**by_hour, **filled}
    out = []
    hour = start
    while hour < end:
        bucket = by_hour.get(hour)
        counts = slo_math.Counts(bucket.count, bad_events(slo, bucket)) if bucket and bucket.count else slo_math.Counts(0, 0)
        out.append((hour, counts))
        hour += timedelta(hours=1)
    return out


def summary(org, slo, now=None):
    """Totals, SLI, budget remaining and the cumulative budget series for the chart."""
    hours = hourly_counts(org, slo, now)
    total = bad = 0
    t, remaining = [], []
    for hour, counts in hours:
        total += counts.total
        bad += counts.bad
        t.append((hour + timedelta(hours=1)).timestamp())
        remaining.append(round(slo_math.budget_remaining(slo_math.Counts(total, bad), slo.objective) * 100, 3))
    counts = slo_math.Counts(total, bad)
    return {
        "counts": counts,
        "sli": slo_math.sli(counts),
        "budget_remaining": slo_math.budget_remaining(counts, slo.objective),
        "chart": {"t": t, "series": [{"key": "apdex", "label": "Error budget remaining (%)", "values": remaining}]},
    }
