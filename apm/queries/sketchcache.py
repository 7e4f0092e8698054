"""The sketch work of percentile queries, cached in Redis.

Decoding DDSketches in Python is the cost of percentile queries (tens to hundreds of
microseconds each, plus fetching the bytes). A rollup row's sketch only changes when its
count does, so the work is cached under keys made of (table, row id, count): a late
payload that adds to a row changes its count and so its key. Rows are read without
their sketches; the bytes are fetched only for what the cache misses. The merge of a
range's closed buckets is cached whole, keyed by a digest of the rows it merges, so a
refresh a minute later only merges the newest rows.
"""

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import NamedTuple, TypeVar

from django.core.cache import cache

from apm.queries.base import TABLES, OrgRef, org_id, rows as _rows, to_dt
from apm.queries.stats import NO_QUANTILES, Quantiles
from apm.sketches import DDSketch, decode, merge_into, quantiles
from tenants.models import Organization

# Redis also carries the ingest queue: cached sketches expire, the many minute ones sooner.
QUANTILE_CACHE_SECONDS = 6 * 3600  # three numbers per row
APP_QUANTILE_CACHE_SECONDS = 26 * 3600  # those of app rows, warmed every minute: a day's charts
SKETCH_CACHE_SECONDS = 3600  # decoded bins of minute rows
COARSE_CACHE_SECONDS = 6 * 3600  # decoded bins of hour and day rows, merges of closed buckets
CLOSED_AFTER = 300  # seconds after its end a bucket is taken as complete (only for reuse)

_LEVEL = {60: "m", 3600: "h", 86400: "d"}
SketchPart = tuple[int, dict[int, int]]  # (zero count, bins): a decoded sketch as cached
T = TypeVar("T")


class Row(NamedTuple):
    """A rollup row, without its sketch: which table, which row, its count and bucket start."""

    kind: str  # "t": per transaction, "a": per app
    step: int
    id: int
    count: int  # type: ignore[assignment]  # shadows tuple.count, which nothing here calls
    time: int


def _row_key(prefix: str, r: Row) -> str:
    return f"apm:{prefix}:{r.kind}{_LEVEL[r.step]}:{r.id}:{r.count}"


def _fetch_sketches(org: OrgRef, rows: Iterable[Row]) -> dict[tuple[str, int, int], bytes]:
    """{(kind, step, id): bytes} of the rows' sketches, one query per table."""
    tables: dict[tuple[str, int], list[Row]] = defaultdict(list)
    for r in rows:
        tables[(r.kind, r.step)].append(r)
    out = {}
    for (kind, step), group in tables.items():
        table = TABLES[step][0 if kind == "t" else 1]
        for row_id, blob in _rows(
            f"SELECT id, sketch FROM {table} WHERE organization_id = %s AND id = ANY(%s) AND time >= %s AND time <= %s",
            [
                org_id(org),
                [r.id for r in group],
                to_dt(min(r.time for r in group)),
                to_dt(max(r.time for r in group)),
            ],
        ):
            out[(kind, step, row_id)] = bytes(blob)
    return out


def _per_row(
    prefix: str,
    org: OrgRef,
    rows: Sequence[Row],
    compute: Callable[[DDSketch | None], T],
    lifetime: Callable[[Row], int],
) -> list[T]:
    """[compute(decoded sketch or None) for each row], cached per row for lifetime(row) seconds."""
    keys = [_row_key(prefix, r) for r in rows]
    found = cache.get_many(keys)
    missing = [r for r, k in zip(rows, keys) if k not in found]
    if missing:
        blobs = _fetch_sketches(org, missing)
        fresh: dict[int, dict[str, T]] = defaultdict(dict)  # lifetime -> {key: value}
        for r in missing:
            blob = blobs.get((r.kind, r.step, r.id))
            fresh[lifetime(r)][_row_key(prefix, r)] = compute(decode(blob) if blob else None)
        for seconds, values in fresh.items():
            cache.set_many(values, seconds)
            found.update(values)
    return [found[k] for k in keys]


def row_quantiles(org: OrgRef, rows: Sequence[Row]) -> list[Quantiles]:
    """[(p50, p95, p99) seconds] of each row."""
    return _per_row(
        "q",
        org,
        rows,
        lambda s: tuple(quantiles(s)) if s else NO_QUANTILES,
        lambda r: APP_QUANTILE_CACHE_SECONDS if r.kind == "a" else QUANTILE_CACHE_SECONDS,
    )


def decoded_sketches(org: OrgRef, rows: Sequence[Row]) -> list[SketchPart]:
    """[(zero count, bins dict)] of each row."""
    return _per_row(
        "sk",
        org,
        rows,
        lambda s: (s.zero_count, s.bins) if s else (0, {}),
        lambda r: SKETCH_CACHE_SECONDS if r.step == 60 else COARSE_CACHE_SECONDS,
    )


def merged(parts: Iterable[SketchPart]) -> DDSketch | None:
    """One DDSketch from (zero count, bins) parts; None when empty."""
    out = DDSketch()
    for zero, bins in parts:
        if bins or zero:
            other = DDSketch()
            other.bins, other.zero_count, other.count = bins, zero, zero + sum(bins.values())
            merge_into(out, other)
    return out if out.count else None


def _as_part(sketch: DDSketch | None) -> SketchPart:
    return (sketch.zero_count, sketch.bins) if sketch else (0, {})


def _digest(prefix: str, rows: Iterable[Row]) -> str:
    return f"apm:{prefix}:" + hashlib.sha1(repr(sorted((r.kind, r.step, r.id, r.count) for r in rows)).encode()).hexdigest()


def _is_closed(r: Row, now: float) -> bool:
    return r.time + r.step <= now - CLOSED_AFTER


def series_quantiles(org: OrgRef, rows: Sequence[Row], now: float | None = None) -> list[Quantiles]:
    """row_quantiles of a series' rows; those of its closed buckets cached as one entry."""
    now = now or time.time()
    closed = [r for r in rows if _is_closed(r, now)]
    key = _digest("sq", closed)
    found = cache.get(key)
    if found is None:
        found = dict(zip(closed, row_quantiles(org, closed)))
        cache.set(key, found, QUANTILE_CACHE_SECONDS)
    fresh = [r for r in rows if r not in found]
    found.update(zip(fresh, row_quantiles(org, fresh)))
    return [found[r] for r in rows]


class TooManySketches(Exception):
    """Answering would decode more sketches than the caller allows."""

    def __init__(self, needed: int):
        self.needed = needed
        super().__init__(f"{needed} sketches to decode")


def merged_quantiles(
    org: OrgRef, groups: Mapping[Hashable, Sequence[Row]], now: float | None = None, most_decoded: int | None = None
) -> dict[Hashable, Quantiles]:
    """{group: [Row]} -> {group: (p50, p95, p99) seconds} of the merge of each group's rows.

    The closed rows of each group are merged and cached per resolution: a range's minute
    edge gains a closed row every minute, its hour and day rows stay the same for an hour.
    Raises TooManySketches, before decoding any, when the rows not cached are more than
    ``most_decoded``.
    """
    now = now or time.time()
    closed: dict[tuple[Hashable, int], list[Row]] = defaultdict(list)  # (group, step) -> closed rows
    open_rows: dict[Hashable, list[Row]] = defaultdict(list)
    for g, rows in groups.items():
        for r in rows:
            (closed[(g, r.step)] if _is_closed(r, now) else open_rows[g]).append(r)
    keys = {part: _digest("mg", rows) for part, rows in closed.items()}
    found = cache.get_many(list(keys.values()))
    todo = [r for part, k in keys.items() if k not in found for r in closed[part]]
    if most_decoded is not None:
        needed = len(todo) + sum(len(rows) for rows in open_rows.values())
        if needed > most_decoded:
            raise TooManySketches(needed)
    if todo:
        decoded = _decoded_for_merge(org, todo)
        fresh = {k: _as_part(merged(decoded[r] for r in closed[part])) for part, k in keys.items() if k not in found}
        cache.set_many(fresh, COARSE_CACHE_SECONDS)
        found.update(fresh)
    flat = [r for rows in open_rows.values() for r in rows]
    decoded_open = dict(zip(flat, decoded_sketches(org, flat))) if flat else {}
    parts = defaultdict(list)
    for (g, _), k in keys.items():
        parts[g].append(found[k])
    out = {}
    for g in groups:
        sketch = merged(parts[g] + [decoded_open[r] for r in open_rows[g]])
        out[g] = tuple(quantiles(sketch)) if sketch else NO_QUANTILES
    return out


def _decoded_for_merge(org: OrgRef, rows: Sequence[Row]) -> dict[Row, SketchPart]:
    """{row: (zero count, bins)}: minute rows through the per-row cache (a range's minute edge is
    merged again each minute), hour and day rows decoded directly (their merge is cached whole
    and changes about hourly; caching each would cost more Redis time and memory than it saves)."""
    fine = [r for r in rows if r.step == 60]
    out = dict(zip(fine, decoded_sketches(org, fine))) if fine else {}
    coarse = [r for r in rows if r.step != 60]
    if coarse:
        blobs = _fetch_sketches(org, coarse)
        for r in coarse:
            blob = blobs.get((r.kind, r.step, r.id))
            out[r] = _as_part(decode(blob) if blob else None)
    return out


def merged_quantiles_of(org: OrgRef, rows: Sequence[Row]) -> Quantiles:
    """(p50, p95, p99) seconds of the merge of ``rows``."""
    return merged_quantiles(org, {"all": rows})["all"]


def warm_app_quantiles(since: float, until: float) -> int:
    """Compute (and cache) the quantiles of every app's minute rows in [since, until), for
    every organisation: run each minute on the minutes that just closed, so that app charts
    over the last day never decode a sketch on a page view. Returns the rows warmed."""
    rows = _rows(
        "SELECT organization_id, id, count, extract(epoch FROM time)::bigint FROM apm_appminute "
        "WHERE time >= %s AND time < %s",
        [to_dt(since), to_dt(until)],
    )
    per_org = defaultdict(list)
    for oid, row_id, count, t in rows:
        per_org[oid].append(Row("a", 60, row_id, count, t))
    for oid, org_rows in per_org.items():
        # Cross-tenant fan-out on purpose: each organisation's rows are fetched by its id.
        row_quantiles(Organization(id=oid), org_rows)
    return len(rows)
