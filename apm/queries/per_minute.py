"""Rollup rows bucket by bucket, per scope: what alert evaluation, condition previews and SLO
budgets read (minute by minute, or hour by hour for budgets).

One query per table and organisation fetches every bucket asked for; sketches are kept
encoded and merged only when a percentile or a latency count is asked for.
"""

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime

from apm.models import AppHour, AppMinute, InstanceMinute, TransactionMinute
from apm.queries.base import OrgRef
from apm.queries.stats import Acc
from apm.sketches import DDSketch, merge_encoded

_FIELDS = (
    "count", "errors", "sum", "min", "max", "apdex_s", "apdex_t", "apdex_f",
    "seg_python", "seg_database", "seg_external", "seg_template", "sketch",
)
_APP_TABLES = {60: AppMinute, 3600: AppHour}
_CHUNK = 2000


class Bucket(Acc):
    """The sums of one scope (app or transaction) in one bucket, with its sketches."""

    __slots__ = ("sketches", "_sketch")

    def __init__(self) -> None:
        super().__init__()
        self.sketches: list[bytes] = []
        self._sketch: DDSketch | None = None

    def add(self, row: Iterable) -> None:
        """Add the values of one row, in the order of ``_FIELDS``."""
        *columns, sketch = row
        self.add_row(*columns)
        if sketch:
            self.sketches.append(bytes(sketch))
        self._sketch = None

    def merge(self, other: "Bucket") -> None:
        """Add another bucket of the same scope (an hour from its minutes)."""
        self.add_row(
            other.count, other.errors, other.sum, other.min, other.max, other.s, other.t, other.f, *other.seg
        )
        self.sketches.extend(other.sketches)
        self._sketch = None

    def sketch(self) -> DDSketch:
        """The bucket's sketches merged (once)."""
        if self._sketch is None:
            self._sketch = merge_encoded(self.sketches)
        return self._sketch

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile of the durations in seconds; None without any."""
        return self.sketch().quantile(q)

    def count_at_most(self, seconds: float) -> int:
        """How many durations are at most ``seconds`` (within the sketch's 1 %)."""
        sketch = self.sketch()
        total = sketch.zero_count
        for index, count in sketch.bins.items():
            if DDSketch.index_value(index) <= seconds:
                total += count
        return total


Buckets = dict[datetime, Bucket]


def app_buckets(
    org: OrgRef,
    app_ids: Collection,
    start: datetime,
    end: datetime,
    txn_type: str | None = "web",
    step: int = 60,
) -> dict[object, Buckets]:
    """{app_id: {bucket start: Bucket}}, buckets of ``step`` seconds (60 or 3600) in [start, end).

    Web transactions by default, like the app's charts (docs/query-api.md); ``txn_type=None``
    merges every type (no-data conditions: any transaction shows the app is alive).
    """
    out: dict[object, Buckets] = defaultdict(lambda: defaultdict(Bucket))
    rows = _APP_TABLES[step].objects.for_org(org).filter(app_id__in=app_ids, time__gte=start, time__lt=end)
    if txn_type:
        rows = rows.filter(txn_type=txn_type)
    for app_id, minute, *row in rows.values_list("app_id", "time", *_FIELDS).iterator(chunk_size=_CHUNK):
        out[app_id][minute].add(row)
    return out


def transaction_buckets(
    org: OrgRef, scopes: Collection[tuple[object, str]], start: datetime, end: datetime
) -> dict[tuple[object, str], Buckets]:
    """{(app_id, name): {minute: Bucket}} for the given (app_id, transaction name) pairs."""
    out: dict[tuple[object, str], Buckets] = defaultdict(lambda: defaultdict(Bucket))
    if not scopes:
        return out
    app_ids = {app_id for app_id, _ in scopes}
    names = {name for _, name in scopes}
    rows = TransactionMinute.objects.for_org(org).filter(
        app_id__in=app_ids, transaction__name__in=names, time__gte=start, time__lt=end
    )
    fields = ("app_id", "transaction__name", "time", *_FIELDS)
    for app_id, name, minute, *row in rows.values_list(*fields).iterator(chunk_size=_CHUNK):
        if (app_id, name) in scopes:
            out[(app_id, name)][minute].add(row)
    return out


def instance_minutes(
    org: OrgRef, app_ids: Collection, start: datetime, end: datetime
) -> dict[object, dict[str, dict[datetime, tuple[float, float]]]]:
    """{app_id: {host: {minute: (cpu percent, memory MB)}}}, summed over the host's processes."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    rows = InstanceMinute.objects.for_org(org).filter(app_id__in=app_ids, time__gte=start, time__lt=end)
    for app_id, host, minute, cpu, memory in rows.values_list("app_id", "host", "time", "cpu_percent", "memory_bytes"):
        cpu0, mem0 = out[app_id][host].get(minute, (0.0, 0.0))
        out[app_id][host][minute] = (cpu0 + cpu, mem0 + memory / 1e6)
    return out
