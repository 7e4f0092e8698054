"""The query layer: what the UI, the JSON API, alerts and live views ask of the telemetry.

Plain functions taking the organisation explicitly; every query filters on it (and
on the app, which the caller fetched through the organisation). Shapes and units are
those of docs/query-api.md: times in unix seconds, durations in milliseconds.
``since``/``until`` may be aware datetimes or unix seconds.
"""

import datetime as dt
from collections import defaultdict
import time

from django.conf import settings
from django.db import connection

from apm.rollup import EVENT_BATCH_SPAN
from apm.sketches import decode, merge_into, quantiles
from apm.sketches import DDSketch

UTC = dt.timezone.utc
MAX_POINTS = 1500
SEGMENTS = ("python", "database", "external", "template")

# resolution seconds -> (per-transaction table, per-app table)
TABLES = {
    60: ("apm_transactionminute", "apm_appminute"),
    3600: ("apm_transactionhour", "apm_apphour"),
    86400: ("apm_transactionday", "apm_appday"),
}


# --- small helpers -----------------------------------------------------------------


def to_unix(value):
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


def to_dt(seconds):
    return dt.datetime.fromtimestamp(seconds, UTC)


def _org_id(org):
    return getattr(org, "pk", org)


def _app_id(app):
    return str(getattr(app, "pk", app))


def series_resolution(span):
    """Seconds per point for a span so that there are at most ~1,500 points."""
    if span <= 25 * 3600:
        return 60
    if span <= 62 * 86400:
        return 3600
    return 86400


def range_segments(since, until, now=None):
    """[(resolution, start, end)] covering [since, until) with as few rows as exactness allows.

    Whole days in the middle of long ranges come from day rows, whole hours from hour
    rows, the ragged edges from minute rows, so a 30-day ranking reads ~100 rows per
    transaction instead of 43,200. Edges older than the finer rows' retention are
    widened to the coarser bucket.
    """
    now = now or time.time()
    start, end = int(since // 60) * 60, int(-(-until // 60)) * 60
    if start < now - settings.RETENTION_MINUTE_DAYS * 86400 + 3600:
        start = start // 3600 * 3600
        if end < now - settings.RETENTION_MINUTE_DAYS * 86400 + 3600:
            end = -(-end // 3600) * 3600
    elif end - start <= 6 * 3600:
        return [(60, start, end)]
    if start < now - settings.RETENTION_HOUR_DAYS * 86400 + 86400:
        start = start // 86400 * 86400
    segments = []
    h0, h1 = -(-start // 3600) * 3600, end // 3600 * 3600
    if h0 >= h1:
        return [(60, start, end)]
    if start < h0:
        segments.append((60, start, h0))
    d0, d1 = -(-h0 // 86400) * 86400, h1 // 86400 * 86400
    if end - start > 3 * 86400 and d0 < d1:
        if h0 < d0:
            segments.append((3600, h0, d0))
        segments.append((86400, d0, d1))
        if d1 < h1:
            segments.append((3600, d1, h1))
    else:
        segments.append((3600, h0, h1))
    if h1 < end:
        segments.append((60, h1, end))
    return segments


def _align(since, until, step):
    start = int(since // step) * step
    end = int(-(-until // step)) * step
    if end <= start:
        end = start + step
    return start, end


def _ms(seconds):
    return None if seconds is None else seconds * 1000.0


class Acc:
    """Sums of rollup rows, turned into a ``stats`` dict."""

    __slots__ = ("count", "errors", "sum", "min", "max", "s", "t", "f", "seg", "sketch")

    def __init__(self):
        self.count = self.errors = self.s = self.t = self.f = 0
        self.sum = 0.0
        self.min = None
        self.max = None
        self.seg = [0.0, 0.0, 0.0, 0.0]
        self.sketch = None

    def add_row(self, count, errors, total, mn, mx, s, t, f, py, db, ext, tpl, sketch=None):
        self.count += count
        self.errors += errors
        self.sum += total
        if mn is not None and (self.min is None or mn < self.min):
            self.min = mn
        if mx is not None and (self.max is None or mx > self.max):
            self.max = mx
        self.s += s
        self.t += t
        self.f += f
        seg = self.seg
        seg[0] += py
        seg[1] += db
        seg[2] += ext
        seg[3] += tpl
        if sketch:
            decoded = decode(bytes(sketch))
            if self.sketch is None:
                self.sketch = decoded
            else:
                merge_into(self.sketch, decoded)

    def stats(self, minutes):
        n = self.count
        p50, p95, p99 = quantiles(self.sketch) if self.sketch is not None else (None, None, None)
        return {
            "count": n,
            "rpm": n / minutes if minutes else 0.0,
            "avg_ms": _ms(self.sum / n) if n else None,
            "min_ms": _ms(self.min) if n else None,
            "max_ms": _ms(self.max) if n else None,
            "p50_ms": _ms(p50) if n else None,
            "p95_ms": _ms(p95) if n else None,
            "p99_ms": _ms(p99) if n else None,
            "error_count": self.errors,
            "error_rate": self.errors / n if n else None,
            "apdex": (self.s + self.t / 2.0) / (self.s + self.t + self.f) if n and (self.s + self.t + self.f) else None,
            "apdex_s": self.s,
            "apdex_t": self.t,
            "apdex_f": self.f,
            "segments_ms": {k: (_ms(v / n) if n else None) for k, v in zip(SEGMENTS, self.seg)},
        }


_ROW_COLUMNS = (
    "count, errors, sum, min, max, apdex_s, apdex_t, apdex_f, seg_python, seg_database, seg_external, seg_template"
)


def _rows(sql, params):
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _rollup_rows(org, app, start, end, step, transaction=None, txn_type="web", with_sketch=True):
    """(time unix, 12 stat columns..., sketch) rows of one app or transaction in [start, end)."""
    txn_table, app_table = TABLES[step]
    sketch = ", sketch" if with_sketch else ", NULL"
    if transaction is not None:
        return _rows(
            f"SELECT extract(epoch FROM time)::bigint, {_ROW_COLUMNS}{sketch} FROM {txn_table} "
            "WHERE organization_id = %s AND app_id = %s AND transaction_id = %s AND time >= %s AND time < %s "
            "ORDER BY time",
            [_org_id(org), _app_id(app), int(transaction), to_dt(start), to_dt(end)],
        )
    return _rows(
        f"SELECT extract(epoch FROM time)::bigint, {_ROW_COLUMNS}{sketch} FROM {app_table} "
        "WHERE organization_id = %s AND app_id = %s AND txn_type = %s AND time >= %s AND time < %s ORDER BY time",
        [_org_id(org), _app_id(app), txn_type, to_dt(start), to_dt(end)],
    )


# --- app and transaction metrics -------------------------------------------------------


def window_stats(org, app, since, until, transaction=None, txn_type="web"):
    """The ``stats`` object over [since, until), from the finest rows still retained."""
    since, until = to_unix(since), to_unix(until)
    acc = Acc()
    for step, start, end in range_segments(since, until):
        for row in _rollup_rows(org, app, start, end, step, transaction, txn_type):
            acc.add_row(*row[1:])
    return acc.stats(max((until - since) / 60.0, 1.0))


def timeseries(org, app, since, until, transaction=None, txn_type="web"):
    """The ``timeseries`` response: dense points at an automatic resolution, and totals."""
    since, until = to_unix(since), to_unix(until)
    step = series_resolution(until - since)
    start, end = _align(since, until, step)
    buckets = {}
    total = Acc()
    for row in _rollup_rows(org, app, start, end, step, transaction, txn_type):
        acc = buckets.get(row[0])
        if acc is None:
            acc = buckets[row[0]] = Acc()
        acc.add_row(*row[1:])
        total.add_row(*row[1:13])
    for acc in buckets.values():
        if acc.sketch is not None:
            total.sketch = merge_into(total.sketch or DDSketch(), acc.sketch)
    points = []
    empty = Acc().stats(step / 60.0)
    for t in range(start, end, step):
        acc = buckets.get(t)
        points.append({"t": t, **(acc.stats(step / 60.0) if acc else empty)})
    txn = None
    if transaction is not None:
        txn = transaction_info(org, app, transaction)
    return {
        "app": _app_info(app),
        "transaction": txn,
        "from": start,
        "to": end,
        "resolution": step,
        "points": points,
        "totals": total.stats((end - start) / 60.0),
    }


def _app_info(app):
    if hasattr(app, "pk"):
        return {"id": str(app.pk), "name": app.name, "apdex_t": app.apdex_t}
    return {"id": str(app)}


def transaction_info(org, app, txn_id):
    rows = _rows(
        "SELECT id, name, type FROM apm_transaction WHERE organization_id = %s AND app_id = %s AND id = %s",
        [_org_id(org), _app_id(app), int(txn_id)],
    )
    if not rows:
        return None
    i, name, typ = rows[0]
    return {"id": i, "name": name, "type": typ}


SORTS = {
    "time": lambda r: r["total_time_s"],
    "avg": lambda r: r["avg_ms"] or 0.0,
    "p95": lambda r: r["p95_ms"] or 0.0,
    "rpm": lambda r: r["rpm"],
    "errors": lambda r: r["error_count"],
}


_SUMS = (
    "sum(r.count)::bigint, sum(r.errors)::bigint, sum(r.sum), min(r.min), max(r.max), sum(r.apdex_s)::bigint, "
    "sum(r.apdex_t)::bigint, sum(r.apdex_f)::bigint, sum(r.seg_python), sum(r.seg_database), "
    "sum(r.seg_external), sum(r.seg_template)"
)


def transactions(org, app, since, until, txn_type="web", sort="time", limit=50, q=None):
    """Transactions of one type ranked by ``sort``, with their stats over the range.

    Sums come from SQL; sketches (for the percentiles) are read and merged only for the
    transactions shown, unless the ranking itself is by p95.
    """
    since, until = to_unix(since), to_unix(until)
    segments = range_segments(since, until)
    start, end = segments[0][1], segments[-1][2]
    accs, names = {}, {}
    for step, seg_start, seg_end in segments:
        for row in _rows(
            f"SELECT r.transaction_id, t.name, t.type, {_SUMS} FROM {TABLES[step][0]} r "
            "JOIN apm_transaction t ON t.id = r.transaction_id WHERE r.organization_id = %s AND r.app_id = %s "
            "AND t.type = %s AND r.time >= %s AND r.time < %s GROUP BY r.transaction_id, t.name, t.type",
            [_org_id(org), _app_id(app), txn_type, to_dt(seg_start), to_dt(seg_end)],
        ):
            acc = accs.get(row[0])
            if acc is None:
                acc = accs[row[0]] = Acc()
                names[row[0]] = (row[1], row[2])
            acc.add_row(*row[3:15])
    total_time = sum(a.sum for a in accs.values())
    if q:
        needle = q.lower()
        accs = {tid: a for tid, a in accs.items() if needle in names[tid][0].lower()}
    minutes = max((until - since) / 60.0, 1.0)
    key = SORTS.get(sort, SORTS["time"])

    def rows_for(ids):
        out = []
        for tid in ids:
            acc = accs[tid]
            out.append(
                {
                    "id": tid,
                    "name": names[tid][0],
                    "type": names[tid][1],
                    "total_time_s": acc.sum,
                    "time_share": acc.sum / total_time if total_time else 0.0,
                    **acc.stats(minutes),
                }
            )
        out.sort(key=lambda r: (key(r), r["count"]), reverse=True)
        return out

    if sort == "p95":
        chosen = list(accs)
    else:
        chosen = [r["id"] for r in rows_for(list(accs))[:limit]]  # percentiles not needed to rank
    _merge_sketches(org, app, segments, accs, chosen)
    return {"from": start, "to": end, "sort": sort, "transactions": rows_for(chosen)[:limit]}


def _merge_sketches(org, app, segments, accs, ids):
    if not ids:
        return
    for step, seg_start, seg_end in segments:
        for tid, blob in _rows(
            f"SELECT transaction_id, sketch FROM {TABLES[step][0]} WHERE organization_id = %s AND app_id = %s "
            "AND transaction_id = ANY(%s) AND time >= %s AND time < %s",
            [_org_id(org), _app_id(app), list(ids), to_dt(seg_start), to_dt(seg_end)],
        ):
            if blob:
                acc = accs[tid]
                decoded = decode(bytes(blob))
                acc.sketch = decoded if acc.sketch is None else merge_into(acc.sketch, decoded)


def transaction_detail(org, app, txn_id, since, until):
    txn = transaction_info(org, app, txn_id)
    if txn is None:
        return None
    since, until = to_unix(since), to_unix(until)
    stats = window_stats(org, app, since, until, transaction=txn["id"], txn_type=txn["type"])
    return {"transaction": txn, "from": int(since), "to": int(until), "totals": stats}


# --- apps page ----------------------------------------------------------------------


def status_of(stats):
    if not stats["count"]:
        return "grey"
    apdex, rate = stats["apdex"], stats["error_rate"] or 0.0
    if (apdex is not None and apdex < 0.7) or rate > 0.05:
        return "red"
    if (apdex is not None and apdex < 0.85) or rate > 0.01:
        return "amber"
    return "green"


def app_summaries(org, minutes=5, now=None):
    """One entry per app of the organisation: status, summary stats, last-hour rpm sparkline."""
    from tenants.models import App

    now = now or time.time()
    end = int(now // 60) * 60 + 60
    spark_start = end - 3600
    window_start = end - 60 * minutes
    apps = list(App.objects.for_org(org).order_by("name"))
    rows = _rows(
        f"SELECT app_id, extract(epoch FROM time)::bigint, {_ROW_COLUMNS}, sketch FROM apm_appminute "
        "WHERE organization_id = %s AND txn_type = 'web' AND time >= %s AND time < %s",
        [_org_id(org), to_dt(spark_start), to_dt(end)],
    )
    # Per app and type, the newest minute row: a backward scan of the unique index each.
    oldest = to_dt(now - settings.RETENTION_MINUTE_DAYS * 86400)
    last = dict(
        _rows(
            "SELECT a.id, extract(epoch FROM GREATEST("
            "(SELECT max(time) FROM apm_appminute m WHERE m.app_id = a.id AND m.txn_type = 'web' AND m.time >= %s), "
            "(SELECT max(time) FROM apm_appminute m WHERE m.app_id = a.id AND m.txn_type = 'background' "
            "AND m.time >= %s))) FROM tenants_app a WHERE a.organization_id = %s",
            [oldest, oldest, _org_id(org)],
        )
    )
    per_app = {}
    for row in rows:
        per_app.setdefault(str(row[0]), []).append(row)
    out = []
    for app in apps:
        acc = Acc()
        spark = [0.0] * 60
        for row in per_app.get(str(app.pk), []):
            t = row[1]
            spark[(t - spark_start) // 60] += row[2]
            if t >= window_start:
                acc.add_row(*row[2:])
        stats = acc.stats(float(minutes))
        seen = last.get(app.pk)
        out.append(
            {
                "id": str(app.pk),
                "name": app.name,
                "apdex_t": app.apdex_t,
                "status": status_of(stats),
                "last_seen": float(seen) if seen is not None else None,
                "summary": stats,
                "sparkline": {"start": spark_start, "step": 60, "rpm": spark},
            }
        )
    return out


# --- errors ------------------------------------------------------------------------


def _group_dict(row, count=None):
    gid, cls, message, top, txn, first, last, total = row[:8]
    return {
        "id": str(gid),
        "error_class": cls,
        "message": message,
        "top_frame": top,
        "transaction": txn or None,
        "count": count if count is not None else total,
        "total_count": total,
        "first_seen": first.timestamp(),
        "last_seen": last.timestamp(),
    }


_GROUP_COLUMNS = "g.id, g.error_class, g.message, g.top_frame, g.transaction_name, g.first_seen, g.last_seen, g.count"


def error_groups(org, app, since, until, limit=50):
    since, until = to_unix(since), to_unix(until)
    start, end = _align(since, until, 60)
    rows = _rows(
        f"SELECT {_GROUP_COLUMNS}, sum(m.count) AS n FROM apm_errorminute m JOIN apm_errorgroup g ON g.id = m.group_id "
        "WHERE m.organization_id = %s AND m.app_id = %s AND m.time >= %s AND m.time < %s "
        "GROUP BY g.id ORDER BY n DESC, g.last_seen DESC LIMIT %s",
        [_org_id(org), _app_id(app), to_dt(start), to_dt(end), int(limit)],
    )
    return {"from": start, "to": end, "groups": [_group_dict(r, int(r[8])) for r in rows]}


def error_group(org, app, group_id, since, until):
    """Group detail with its dense count series and newest samples; None when not this app's."""
    since, until = to_unix(since), to_unix(until)
    rows = _rows(
        f"SELECT {_GROUP_COLUMNS} FROM apm_errorgroup g WHERE g.organization_id = %s AND g.app_id = %s AND g.id = %s",
        [_org_id(org), _app_id(app), str(group_id)],
    )
    if not rows:
        return None
    step = series_resolution(until - since)
    start, end = _align(since, until, step)
    counts = dict(
        _rows(
            "SELECT (extract(epoch FROM time)::bigint / %s) * %s AS b, sum(count) FROM apm_errorminute "
            "WHERE organization_id = %s AND group_id = %s AND time >= %s AND time < %s GROUP BY b",
            [step, step, _org_id(org), str(group_id), to_dt(start), to_dt(end)],
        )
    )
    series = [{"t": t, "count": int(counts.get(t, 0))} for t in range(start, end, step)]
    group = _group_dict(rows[0], sum(p["count"] for p in series))
    samples = [
        {
            "time": t.timestamp(),
            "error_class": cls,
            "message": message,
            "transaction": txn or None,
            "trace_id": trace_id,
            "stack": stack,
        }
        for t, cls, message, txn, trace_id, stack in _rows(
            "SELECT time, error_class, message, transaction_name, trace_id, stack FROM apm_errorsample "
            "WHERE organization_id = %s AND group_id = %s ORDER BY time DESC, id DESC LIMIT %s",
            [_org_id(org), str(group_id), settings.ERROR_SAMPLES_PER_GROUP],
        )
    ]
    for s in samples:
        if isinstance(s["stack"], str):
            import json

            s["stack"] = json.loads(s["stack"])
    return {"group": group, "from": start, "to": end, "resolution": step, "series": series, "samples": samples}


# --- traces and events -----------------------------------------------------------------


def traces(org, app, since, until, transaction=None, limit=50):
    since, until = to_unix(since), to_unix(until)
    params = [_org_id(org), _app_id(app), to_dt(since), to_dt(until)]
    extra = ""
    if transaction is not None:
        extra = " AND r.transaction_id = %s"
        params.append(int(transaction))
    params.append(int(limit))
    rows = _rows(
        "SELECT r.trace_id, r.transaction_id, t.name, t.type, extract(epoch FROM r.start), r.duration, r.status, "
        "r.error, r.span_count FROM apm_trace r JOIN apm_transaction t ON t.id = r.transaction_id "
        "WHERE r.organization_id = %s AND r.app_id = %s AND r.start >= %s AND r.start < %s"
        + extra
        + " ORDER BY r.duration DESC LIMIT %s",
        params,
    )
    return {"traces": [_trace_dict(r) for r in rows]}


def _trace_dict(r):
    trace_id, tid, name, typ, start, duration, status, error, span_count = r[:9]
    return {
        "trace_id": trace_id,
        "transaction_id": tid,
        "name": name,
        "type": typ,
        "start": float(start),
        "duration_ms": duration * 1000.0,
        "status": status,
        "error": error,
        "span_count": span_count,
    }


def trace(org, app, trace_id):
    """One trace with its spans (the slowest if the id was sent twice); None when not this app's."""
    rows = _rows(
        "SELECT r.trace_id, r.transaction_id, t.name, t.type, extract(epoch FROM r.start), r.duration, r.status, "
        "r.error, r.span_count, r.parent_span_id, r.spans FROM apm_trace r "
        "JOIN apm_transaction t ON t.id = r.transaction_id "
        "WHERE r.organization_id = %s AND r.app_id = %s AND r.trace_id = %s ORDER BY r.duration DESC LIMIT 1",
        [_org_id(org), _app_id(app), str(trace_id)],
    )
    if not rows:
        return None
    r = rows[0]
    spans = r[10]
    if isinstance(spans, str):
        import json

        spans = json.loads(spans)
    out = _trace_dict(r)
    out["parent_span_id"] = r[9]
    out["spans"] = [
        {
            "id": s.get("id"),
            "parent": s.get("parent"),
            "kind": s.get("kind"),
            "name": s.get("name"),
            "offset_ms": s.get("offset", 0.0) * 1000.0,
            "duration_ms": s.get("duration", 0.0) * 1000.0,
            "attrs": s.get("attrs") or {},
        }
        for s in spans
    ]
    return {"trace": out}


def events(org, app, since, until, transaction=None, txn_type=None, limit=2000):
    since, until = to_unix(since), to_unix(until)
    # The newest ``limit`` (+1, to tell truncation): if a window's tail [lo, until) already
    # holds more than ``limit``, they are the newest of the whole window. Growing the tail
    # from 1 s keeps a busy app from unnesting every event of the window, at a few cheap
    # index lookups for a quiet one.
    newest = _rows(
        "SELECT extract(epoch FROM max(end_max)) FROM apm_eventbatch WHERE organization_id = %s AND app_id = %s "
        "AND end_max >= %s AND end_max < %s",
        [_org_id(org), _app_id(app), to_dt(since - 0.001), to_dt(until + EVENT_BATCH_SPAN + 0.001)],
    )[0][0]
    top = min(until, float(newest)) if newest is not None else since
    span = 1.0
    while True:
        lo = max(since, top - span)
        rows = _events_between(org, app, lo, until, transaction, txn_type, int(limit) + 1)
        if len(rows) > limit or lo <= since:
            break
        span *= 8
    truncated = len(rows) > limit
    return {
        "from": since,
        "to": until,
        "truncated": truncated,
        "events": [
            {
                "t": float(t),
                "transaction_id": tid,
                "name": name,
                "type": typ,
                "duration_ms": d * 1000.0,
                "status": status,
                "error": error,
                "trace_id": trace_id,
                "has_trace": has_trace,
            }
            for t, tid, name, typ, d, status, error, trace_id, has_trace in rows[:limit]
        ],
    }


def _events_between(org, app, since, until, transaction, txn_type, n):
    """The newest ``n`` events of [since, until), newest first."""
    params = [_org_id(org), _app_id(app), to_dt(since), to_dt(until)]
    extra = ""
    if transaction is not None:
        extra += " AND e.transaction_id = %s"
        params.append(int(transaction))
    if txn_type is not None:
        # By id, so transaction names are joined only to the ``n`` rows kept.
        extra += " AND e.transaction_id = ANY(ARRAY(SELECT id FROM apm_transaction WHERE app_id = %s AND type = %s))"
        params += [_app_id(app), txn_type]
    params.append(n)
    # Events are stored as arrays, one row per payload (apm.models.EventBatch): rows that
    # may hold events of the window are found by their end_max (index, partitions: a
    # row's events end at most EVENT_BATCH_SPAN before it) and end_min, then unnested.
    # The 1 ms slack covers rounding of the bounds to microseconds.
    return _rows(
        "SELECT extract(epoch FROM to_timestamp(e.end_time)), e.transaction_id, t.name, t.type, e.duration, "
        "e.status, e.error, e.trace_id, e.has_trace FROM (SELECT e.* FROM apm_eventbatch b CROSS JOIN LATERAL "
        "unnest(b.end_times, b.transaction_ids, b.durations, b.statuses, b.errors, b.trace_ids, b.has_trace) "
        "AS e(end_time, transaction_id, duration, status, error, trace_id, has_trace) "
        "WHERE b.organization_id = %s AND b.app_id = %s AND b.end_max >= %s AND b.end_max < %s AND b.end_min < %s "
        "AND to_timestamp(e.end_time) >= %s AND to_timestamp(e.end_time) < %s"
        + extra
        + " ORDER BY e.end_time DESC LIMIT %s) e JOIN apm_transaction t ON t.id = e.transaction_id "
        "ORDER BY e.end_time DESC",
        [
            params[0],
            params[1],
            to_dt(since - 0.001),
            to_dt(until + EVENT_BATCH_SPAN + 0.001),
            to_dt(until + 0.001),
            *params[2:],
        ],
    )


# --- instances ---------------------------------------------------------------------


def instances(org, app, since, until):
    """Processes that reported in the range, latest first, each with a CPU/memory series.

    Series points are minutes, or wider buckets (average CPU, peak memory) when the range
    holds more than MAX_POINTS minutes; Postgres does the bucketing, so a long range costs
    one aggregate instead of tens of thousands of rows in Python.
    """
    since, until = to_unix(since), to_unix(until)
    start = int(since // 60) * 60
    step = max(60, -(-(int(until) - start) // (MAX_POINTS * 60)) * 60)
    where = "WHERE organization_id = %s AND app_id = %s AND time >= %s AND time < %s"
    params = [_org_id(org), _app_id(app), to_dt(start), to_dt(until)]
    latest = _rows(
        "SELECT DISTINCT ON (host, pid) host, pid, extract(epoch FROM time)::bigint, cpu_percent, memory_bytes, "
        "threads, extract(epoch FROM started_at), agent_version, runtime_version, framework "
        f"FROM apm_instanceminute {where} ORDER BY host, pid, time DESC",
        params,
    )
    buckets = _rows(
        "SELECT host, pid, (extract(epoch FROM time)::bigint - %s) / %s * %s + %s AS t, avg(cpu_percent), "
        f"max(memory_bytes) FROM apm_instanceminute {where} GROUP BY host, pid, t ORDER BY host, pid, t",
        [start, step, step, start, *params],
    )
    series = defaultdict(list)
    for host, pid, t, cpu, mem in buckets:
        series[(host, pid)].append({"t": int(t), "cpu_percent": float(cpu), "memory_bytes": int(mem)})
    out = [
        {
            "host": host,
            "pid": pid,
            "series": series[(host, pid)],
            "last_seen": t,
            "cpu_percent": cpu,
            "memory_bytes": mem,
            "threads": threads,
            "started_at": float(started) if started is not None else None,
            "agent_version": agent_v,
            "runtime_version": runtime_v,
            "framework": framework or None,
        }
        for host, pid, t, cpu, mem, threads, started, agent_v, runtime_v, framework in latest
    ]
    out.sort(key=lambda p: (-p["last_seen"], p["host"], p["pid"]))
    return {"instances": out}


def instance_stats(org, app, since, until):
    """For instance alerts: the busiest process's average CPU and memory over the range."""
    since, until = to_unix(since), to_unix(until)
    rows = _rows(
        "SELECT avg(cpu_percent), avg(memory_bytes) FROM apm_instanceminute WHERE organization_id = %s "
        "AND app_id = %s AND time >= %s AND time < %s GROUP BY host, pid",
        [_org_id(org), _app_id(app), to_dt(int(since // 60) * 60), to_dt(until)],
    )
    if not rows:
        return {"cpu_percent": None, "memory_bytes": None, "instances": 0}
    return {
        "cpu_percent": max(float(r[0]) for r in rows),
        "memory_bytes": max(float(r[1]) for r in rows),
        "instances": len(rows),
    }
