"""Applying queued payloads to Postgres: exactly once in effect, many payloads per transaction.

``apply_batch(payloads)`` writes, in ONE transaction: the processed-batch ledger
(``INSERT ... ON CONFLICT DO NOTHING RETURNING`` keeps only payloads never applied
before), sampled events (COPY, one row of arrays per payload), slow traces, error
groups with per-minute counts and bounded samples, instance samples, and last the
minute rollups per transaction and per app (upserts that add counts). The caller acks
the stream entries only after the commit, so a crash before it re-delivers them and the
ledger drops what already counted.

Sketches cannot be merged in SQL: the batch's sketches are merged in Python per
row; the upsert leaves the stored sketch alone and returns it for rows that already
existed (locking them until commit), and one UPDATE writes old + new back. Rows are
written in key order so concurrent workers lock them in the same order. The hot
rollup rows are written last, to hold their locks for the shortest time.
"""

import datetime as dt
import hashlib
import operator
import re
import threading
import uuid
from collections import defaultdict

import msgspec
import psycopg
from django.conf import settings
from django.db import connection, transaction

from apm import partitions, pgarray
from apm.sketch_sums import Bins
from apm.sketches import decode, encode_stored_bins
from contract import queued
from contract.redis_client import client
from contract.stream import decode_entry

UTC = dt.timezone.utc
OTHER = "(other)"

# --- time helpers ----------------------------------------------------------------

_minute_cache = {}


def minute_dt(seconds):
    """Aware datetime of a whole unix second count, cached (a batch repeats few minutes)."""
    d = _minute_cache.get(seconds)
    if d is None:
        if len(_minute_cache) > 10_000:
            _minute_cache.clear()
        d = _minute_cache[seconds] = dt.datetime.fromtimestamp(seconds, UTC)
    return d


_second_text = {}


def ts_text(t):
    """COPY text of a unix time: cached per whole second, microseconds appended."""
    s = int(t)
    prefix = _second_text.get(s)
    if prefix is None:
        if len(_second_text) > 100_000:
            _second_text.clear()
        prefix = _second_text[s] = dt.datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{prefix}.{int((t - s) * 1e6):06d}+00"


# --- transactions (name -> id), committed on their own and cached ------------------

_txn_cache = {}  # (app_id, type, name) -> id
_txn_lock = threading.Lock()


def transaction_ids(org_id, app_id, keys):
    """Ids for (type, name) pairs of one app, creating rows (and "(other)" past the limit)."""
    out = {}
    missing = []
    for key in keys:
        tid = _txn_cache.get((app_id, *key))
        if tid is None:
            missing.append(key)
        else:
            out[key] = tid
    if not missing:
        return out
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "SELECT type, name, id FROM apm_transaction WHERE app_id = %s AND (type, name) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[]))",
            [app_id, [k[0] for k in missing], [k[1] for k in missing]],
        )
        found = {(t, n): i for t, n, i in cur.fetchall()}
        new = [k for k in missing if k not in found]
        if new:
            cur.execute("SELECT count(*) FROM apm_transaction WHERE app_id = %s", [app_id])
            room = settings.TRANSACTIONS_PER_APP_LIMIT - cur.fetchone()[0]
            allowed = new[: max(room, 0)]
            # Past the limit, names fold into one "(other)" row per type, bounding cardinality.
            overflow = new[len(allowed) :]
            to_create = allowed + sorted({(t, OTHER) for t, _ in overflow})
            cur.execute(
                "INSERT INTO apm_transaction (organization_id, app_id, type, name, created_at) "
                "SELECT %s, %s, t, n, now() FROM unnest(%s::text[], %s::text[]) AS u(t, n) "
                "ORDER BY t, n ON CONFLICT (app_id, type, name) DO NOTHING",
                [org_id, app_id, [k[0] for k in to_create], [k[1] for k in to_create]],
            )
            cur.execute(
                "SELECT type, name, id FROM apm_transaction WHERE app_id = %s AND (type, name) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                [app_id, [k[0] for k in to_create], [k[1] for k in to_create]],
            )
            found.update({(t, n): i for t, n, i in cur.fetchall()})
            for t, n in overflow:
                found[(t, n)] = found[(t, OTHER)]
    with _txn_lock:
        if len(_txn_cache) > 200_000:
            _txn_cache.clear()
        for key, tid in found.items():
            _txn_cache[(app_id, *key)] = tid
            out[key] = tid
    return out


# --- error fingerprints ------------------------------------------------------------

_NORMALISE = [
    (re.compile(r"0x[0-9a-fA-F]+"), "<hex>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
]


def normalise_message(message):
    """Replace what varies between occurrences (numbers, ids, quoted values) so they group."""
    text = message[:512]
    for pattern, repl in _NORMALISE:
        text = pattern.sub(repl, text)
    return text


def top_frame(stack):
    if not stack:
        return ""
    f = stack[-1]
    return f"{f.file} in {f.function}"[:1024]


def fingerprint(error_class, normalised, frame):
    return hashlib.sha1(f"{error_class}\0{normalised}\0{frame}".encode("utf-8", "replace")).hexdigest()


# --- accumulation ------------------------------------------------------------------


# A queued metric's stats, read in one C call (in _STAT_COLUMNS order, as Agg's totals).
_METRIC_STATS = operator.attrgetter(
    "count", "errors", "sum", "min", "max", "apdex_s", "apdex_t", "apdex_f", "python", "database", "external",
    "template",
)
_TOTALS = ("count", "errors", "sum", "min", "max", "s", "t", "f", "py", "db", "ext", "tpl")
_FOLDS = (sum, sum, sum, min, max, sum, sum, sum, sum, sum, sum, sum)
_AGG_TOTALS = operator.attrgetter(*_TOTALS)


class Agg:
    """Sums of one rollup row within a batch: ``add_metric``/``add``, then ``finish``.

    Bins go to the batch's apm.sketch_sums.Bins under the row's number; ``bins`` gets
    their per-row sums, (indexes, counts) arrays, once the whole batch is in."""

    __slots__ = ("row", "stats", "zero_count", "bins", *_TOTALS)

    def __init__(self, row):
        self.row = row
        self.stats = []  # one tuple of _METRIC_STATS per metric; folded by finish()
        self.zero_count = 0
        self.bins = None

    def add_metric(self, m, bins):
        """Add one ingest.queued.QueuedMetric (its sketch split or as bins)."""
        self.stats.append(_METRIC_STATS(m))
        self.zero_count += m.zero_count
        if m.first_count:
            bins.add_split(self.row, m.first_index, m.first_count, m.steps, m.counts)
        else:
            bins.add_dict(self.row, m.bins)

    def add(self, o, bins):
        """Add another row, already finished (its totals folded, its bins summed)."""
        self.stats.append(_AGG_TOTALS(o))  # finish() folds totals as it folds stats: sums of sums, min of minima, ...
        self.zero_count += o.zero_count
        bins.add_arrays(self.row, *o.bins)

    def finish(self):
        """Fold the stats of everything added into the totals (count, sum, min, ...):
        column by column at C speed rather than a dozen attribute updates per metric."""
        for name, fold, column in zip(_TOTALS, _FOLDS, zip(*self.stats)):
            setattr(self, name, fold(column))
        return self

    def stored_sketch(self):
        return encode_stored_bins(self.zero_count, *self.bins)

    def as_live(self):
        return {
            "count": self.count,
            "errors": self.errors,
            "sum": self.sum,
            "min": self.min,
            "max": self.max,
            "apdex_s": self.s,
            "apdex_t": self.t,
            "apdex_f": self.f,
        }


class AppBatch:
    """What one batch adds for one app."""

    def __init__(self, org_id, app_id):
        self.org_id = org_id
        self.app_id = app_id
        self.txn_rows = {}  # (txn_id, minute) -> Agg
        self.app_rows = {}  # (type, minute) -> Agg
        self.txn_names = {}  # txn_id -> (type, name)
        self.event_columns = []  # the batch's ingest.queued.QueuedEvents

    def events_live(self, ids, limit=500):
        """Up to ``limit`` of the batch's events in the live feed's shape (apm.live);
        ``ids``: (type, name) -> transaction id."""
        out = []
        for ev in self.event_columns:
            for i in range(min(len(ev), limit - len(out))):
                key = (ev.types[i], ev.names[i])
                out.append(
                    {
                        "t": ev.ends[i],
                        "transaction_id": ids[key],
                        "name": key[1],
                        "type": key[0],
                        "duration_ms": ev.durations[i] * 1000.0,
                        "status": ev.statuses[i],
                        "error": ev.errors[i],
                        "trace_id": ev.trace_ids[i],
                        "has_trace": ev.has_trace[i],
                    }
                )
        return out


# --- the batch -----------------------------------------------------------------------

_STAT_COLUMNS = (
    "count, errors, sum, min, max, apdex_s, apdex_t, apdex_f, seg_python, seg_database, seg_external, seg_template"
)
_STAT_UPDATE = """
    count = r.count + EXCLUDED.count, errors = r.errors + EXCLUDED.errors, sum = r.sum + EXCLUDED.sum,
    min = LEAST(r.min, EXCLUDED.min), max = GREATEST(r.max, EXCLUDED.max),
    apdex_s = r.apdex_s + EXCLUDED.apdex_s, apdex_t = r.apdex_t + EXCLUDED.apdex_t,
    apdex_f = r.apdex_f + EXCLUDED.apdex_f, seg_python = r.seg_python + EXCLUDED.seg_python,
    seg_database = r.seg_database + EXCLUDED.seg_database, seg_external = r.seg_external + EXCLUDED.seg_external,
    seg_template = r.seg_template + EXCLUDED.seg_template
"""


def _stat_arrays(aggs):
    """The 12 stat columns of ``aggs`` as packed arrays (in _STAT_COLUMNS order)."""
    cols = zip(*map(_AGG_TOTALS, aggs))
    packers = (pgarray.int8s, pgarray.int8s) + (pgarray.float8s,) * 3 + (pgarray.int8s,) * 3 + (pgarray.float8s,) * 4
    return [pack(col) for pack, col in zip(packers, cols)]


_STAT_UNNEST = (
    "%b::bigint[], %b::bigint[], %b::float8[], %b::float8[], %b::float8[], %b::bigint[], %b::bigint[], "
    "%b::bigint[], %b::float8[], %b::float8[], %b::float8[], %b::float8[]"
)


def apply_batch(entries, after_commit=None):
    """Apply stream entries (``Queued``) in one transaction; returns how many were new.

    ``after_commit`` (optional) runs after the commit and before anything is published.
    """
    decoded = []
    seen = set()
    for q in entries:
        p = decode_entry(q)
        sent_day = dt.datetime.fromtimestamp(p.sent_at, UTC).date()
        key = (q.org_id, p.batch_id, sent_day)
        if key in seen:
            continue  # the same payload twice in one read
        seen.add(key)
        decoded.append((q, p, sent_day))
    if not decoded:
        return 0

    # Partitions and transaction names first, outside the batch transaction: both are
    # idempotent, and a rollback must not leave cached ids that do not exist.
    days = set()
    names = defaultdict(set)  # (org, app) -> {(type, name)}
    for q, p, sent_day in decoded:
        days.add(sent_day)
        k = (q.org_id, q.app_id)
        names[k]  # every app gets an entry, even a payload with only an instance sample
        days.update(minute_dt(minute).date() for minute in {m.minute for m in p.metrics})
        names[k].update([(m.type, m.name) for m in p.metrics])
        names[k].update(zip(p.events.types, p.events.names))
        for t in p.traces:
            names[k].add((t.type, t.name))
        if p.events:
            days |= _event_days(p.events.ends)
        for t in p.traces:
            days.add(dt.datetime.fromtimestamp(t.start, UTC).date())
    partitions.ensure_days(days)
    txn_ids = {k: transaction_ids(k[0], k[1], sorted(v)) if v else {} for k, v in names.items()}

    with transaction.atomic():
        with _server_binding_cursor() as cur:
            fresh = _ledger(cur, decoded)
            todo = [(q, p) for q, p, sent_day in decoded if (q.org_id, p.batch_id, sent_day) in fresh]
            apps = _collect(todo, txn_ids)
            _copy_events(cur, todo, txn_ids)
            _insert_traces(cur, todo, txn_ids)
            _apply_errors(cur, todo)
            _apply_instances(cur, todo)
            _apply_rollups(cur, apps)
    if after_commit is not None:
        after_commit()
    _mark_dirty(apps)
    _publish(apps, txn_ids)
    return len(todo)


def _server_binding_cursor():
    """A psycopg cursor on Django's connection (inside Django's transaction) that sends
    parameters separately from the SQL. Django's cursors bind on the client: they quote
    every array element into the SQL text, regex-escaping each string, which was about a
    tenth of a batch's CPU. Here arrays go in binary (``%b``; apm/pgarray.py packs them).
    Prepared statements follow Django's setting (off by default, for connection poolers).
    Django's query logging and execute wrappers do not see these statements."""
    connection.ensure_connection()
    conn = connection.connection
    if conn is not _registered[0]:
        pgarray.register(conn)
        _registered[0] = conn
    return psycopg.Cursor(conn)


_registered = [None]  # the last connection pgarray.register was given


def _mark_dirty(apps):
    """Record the (organisation, hour) pairs this batch changed, for downsampling (apm/tasks.py)."""
    members = set()
    for ab in apps.values():
        for _typ, minute in ab.app_rows:
            members.add(f"{ab.org_id}:{minute // 3600 * 3600}")
    if members:
        from apm.tasks import dirty_key

        client().sadd(dirty_key(), *members)


def _ledger(cur, decoded):
    cur.execute(
        "INSERT INTO apm_processedbatch (organization_id, batch_id, sent_day, processed_at) "
        "SELECT o, b, d, now() FROM unnest(%b, %b, %b) AS u(o, b, d) "
        "ON CONFLICT (organization_id, batch_id, sent_day) DO NOTHING RETURNING organization_id, batch_id, sent_day",
        [
            pgarray.int8s([q.org_id for q, _, _ in decoded]),
            pgarray.texts([p.batch_id for _, p, _ in decoded]),
            pgarray.dates([d for _, _, d in decoded]),
        ],
    )
    return {tuple(r) for r in cur.fetchall()}


def _collect(todo, txn_ids):
    apps = {}
    txn_aggs, txn_bins = [], Bins()  # Agg.row numbers index txn_aggs
    for q, p in todo:
        k = (q.org_id, q.app_id)
        ab = apps.get(k)
        if ab is None:
            ab = apps[k] = AppBatch(q.org_id, q.app_id)
        ids = txn_ids[k]
        rows = ab.txn_rows
        for m in p.metrics:
            tid = ids[(m.type, m.name)]
            agg = rows.get((tid, m.minute))
            if agg is None:
                agg = rows[(tid, m.minute)] = Agg(len(txn_aggs))
                txn_aggs.append(agg)
                ab.txn_names[tid] = (m.type, m.name)
            agg.add_metric(m, txn_bins)
        if p.events:
            ab.event_columns.append(p.events)  # turned into dicts only if someone watches live
    for agg, bins in zip(txn_aggs, txn_bins.sums(len(txn_aggs))):
        agg.bins = bins
    app_aggs, app_bins = [], Bins()
    for ab in apps.values():
        for (tid, minute), agg in ab.txn_rows.items():
            agg.finish()
            key = (ab.txn_names[tid][0], minute)
            app_agg = ab.app_rows.get(key)
            if app_agg is None:
                app_agg = ab.app_rows[key] = Agg(len(app_aggs))
                app_aggs.append(app_agg)
            app_agg.add(agg, app_bins)
    for agg, bins in zip(app_aggs, app_bins.sums(len(app_aggs))):
        agg.bins = bins
        agg.finish()
    return apps


# One row per (payload, app) with the events as parallel arrays (apm.models.EventBatch).
EVENTBATCH_COLUMNS = (
    "organization_id, app_id, end_min, end_max, transaction_ids, end_times, durations, statuses, errors, "
    "trace_ids, has_trace"
)
# The arrays go as bytes already in Postgres' binary array format (apm/pgarray.py).
EVENTBATCH_TYPES = ["int8", "uuid", "timestamptz", "timestamptz"] + ["bytea"] * 7
# Most a row's end_max - end_min may be: readers look for a window's events in rows whose
# end_max lies in [since, until + span), so it is kept short (a harvest covers about a
# minute); the rare payload with events further apart is split into several rows.
EVENT_BATCH_SPAN = 600


def _event_chunks(events):
    """[(events, min end, max end)] of ingest.queued.QueuedEvents: the events as one
    chunk, unless their ends spread wider than EVENT_BATCH_SPAN, then split by end time."""
    ends = events.ends
    lo, hi = min(ends), max(ends)
    if hi - lo <= EVENT_BATCH_SPAN:
        return [(events, lo, hi)]
    order = sorted(range(len(ends)), key=ends.__getitem__)
    groups = [[order[0]]]
    for i in order[1:]:
        if ends[i] - ends[groups[-1][0]] > EVENT_BATCH_SPAN:
            groups.append([])
        groups[-1].append(i)
    chunks = []
    for g in groups:
        pick = [[col[i] for i in g] for col in msgspec.structs.astuple(events)]
        chunks.append((queued.QueuedEvents(*pick), ends[g[0]], ends[g[-1]]))
    return chunks


def _event_days(ends):
    """UTC days of the rows' end_max (the partition column) for events ending at ``ends``."""
    lo = min(ends)
    hi = max(ends)
    day = dt.datetime.fromtimestamp(hi, UTC).date()
    if hi - lo <= EVENT_BATCH_SPAN:
        return {day}
    first = dt.datetime.fromtimestamp(lo, UTC).date()
    return {first + dt.timedelta(days=n) for n in range((day - first).days + 1)}


def _copy_events(cur, todo, txn_ids):
    # The hottest write (200 events a payload), as one row of arrays per payload: binary
    # COPY, so Postgres parses no text. The columns come straight from the decoded
    # structs, packed by apm/pgarray.py; no per-event datetime or tuple.
    if not any(p.events for _, p in todo):
        return 0
    fromtimestamp = dt.datetime.fromtimestamp
    rows = 0
    with cur.copy(f"COPY apm_eventbatch ({EVENTBATCH_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(EVENTBATCH_TYPES)
        write_row = copy.write_row
        for q, p in todo:
            if not p.events:
                continue
            id_of = txn_ids[(q.org_id, q.app_id)].__getitem__
            org_id, app_id = q.org_id, uuid.UUID(q.app_id)
            for ev, lo, hi in _event_chunks(p.events):
                write_row(
                    (
                        org_id,
                        app_id,
                        fromtimestamp(lo, UTC),
                        fromtimestamp(hi, UTC),
                        pgarray.int8s(list(map(id_of, zip(ev.types, ev.names)))),
                        pgarray.float8s(ev.ends),
                        pgarray.float8s(ev.durations),
                        pgarray.int2s(ev.statuses),
                        pgarray.bools(ev.errors),
                        pgarray.varchars(ev.trace_ids, 32),
                        pgarray.bools(ev.has_trace),
                    )
                )
                rows += len(ev)
    return rows


TRACE_COLUMNS = (
    "organization_id, app_id, transaction_id, trace_id, parent_span_id, start, duration, status, error, "
    "span_count, spans"
)
TRACE_TYPES = ["int8", "uuid", "int8", "varchar", "varchar", "timestamptz", "float8", "int2", "bool", "int4", "bytea"]


def _insert_traces(cur, todo, txn_ids):
    # Binary COPY: the span trees (JSON bytes, checked by ingest) go as they are.
    rows = []
    for q, p in todo:
        if not p.traces:
            continue
        ids = txn_ids[(q.org_id, q.app_id)]
        app_id = uuid.UUID(q.app_id)
        for t in p.traces:
            rows.append(
                (
                    q.org_id, app_id, ids[(t.type, t.name)], t.trace_id, t.parent_span_id or "",
                    dt.datetime.fromtimestamp(t.start, UTC), t.duration, t.status, t.error, t.span_count, t.spans,
                )
            )
    if rows:
        with cur.copy(f"COPY apm_trace ({TRACE_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(TRACE_TYPES)
            for row in rows:
                copy.write_row(row)


def _apply_errors(cur, todo):
    groups = {}  # (app_id, fingerprint) -> [org, class, normalised, top, txn, first, last, count]
    minutes = defaultdict(int)  # (app_id, fingerprint, minute) -> count
    samples = defaultdict(list)  # (app_id, fingerprint) -> [(time, error, org)]
    cap = settings.ERROR_SAMPLES_PER_GROUP
    # A busy group sees many errors a batch; storing its newest few (and trimming as
    # many old ones) keeps the newest-``cap`` set fresh without rewriting it every
    # batch, which cost Postgres more than the rest of the batch together.
    take = min(cap, settings.ERROR_SAMPLES_PER_BATCH)
    for q, p in todo:
        for e in p.errors:
            norm = normalise_message(e.message)
            top = top_frame(e.stack)
            key = (q.app_id, fingerprint(e.error_class, norm, top))
            g = groups.get(key)
            if g is None:
                groups[key] = [q.org_id, e.error_class, norm, top, e.transaction or "", e.time, e.time, 1]
            else:
                g[5] = min(g[5], e.time)
                g[6] = max(g[6], e.time)
                g[7] += 1
            minutes[(*key, int(e.time // 60) * 60)] += 1
            s = samples[key]
            s.append((e.time, e, q.org_id))
            if len(s) > 2 * take:
                s.sort(key=lambda x: x[0])
                del s[:-take]
    if not groups:
        return
    keys = sorted(groups)
    g = [groups[k] for k in keys]
    cur.execute(
        "INSERT INTO apm_errorgroup AS r (id, organization_id, app_id, fingerprint, error_class, message, top_frame, "
        "transaction_name, first_seen, last_seen, count) SELECT gen_random_uuid(), * FROM unnest(%b::bigint[], "
        "%b::uuid[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[], "
        "%b::timestamptz[], %b::bigint[]) ON CONFLICT (app_id, fingerprint) DO UPDATE SET "
        "count = r.count + EXCLUDED.count, first_seen = LEAST(r.first_seen, EXCLUDED.first_seen), "
        "last_seen = GREATEST(r.last_seen, EXCLUDED.last_seen) RETURNING app_id, fingerprint, id",
        [
            [x[0] for x in g],
            [k[0] for k in keys],
            [k[1] for k in keys],
            [x[1] for x in g],
            [x[2] for x in g],
            [x[3] for x in g],
            [x[4][:255] for x in g],
            [dt.datetime.fromtimestamp(x[5], UTC) for x in g],
            [dt.datetime.fromtimestamp(x[6], UTC) for x in g],
            [x[7] for x in g],
        ],
    )
    ids = {(str(a), f): i for a, f, i in cur.fetchall()}
    mkeys = sorted(minutes)
    cur.execute(
        "INSERT INTO apm_errorminute AS r (organization_id, app_id, group_id, time, count) "
        "SELECT * FROM unnest(%b::bigint[], %b::uuid[], %b::uuid[], %b::timestamptz[], %b::bigint[]) "
        "ON CONFLICT (group_id, time) DO UPDATE SET count = r.count + EXCLUDED.count",
        [
            [groups[k[:2]][0] for k in mkeys],
            [k[0] for k in mkeys],
            [ids[(str(k[0]), k[1])] for k in mkeys],
            [minute_dt(k[2]) for k in mkeys],
            [minutes[k] for k in mkeys],
        ],
    )
    rows = []
    for key, s in samples.items():
        s.sort(key=lambda x: x[0])
        gid = ids[(str(key[0]), key[1])]
        for t, e, org_id in s[-take:]:
            stack = msgspec.json.encode(e.stack).decode()
            rows.append(
                (org_id, key[0], gid, dt.datetime.fromtimestamp(t, UTC), e.error_class, e.message,
                 (e.transaction or "")[:255], e.trace_id or "", stack)
            )
    cols = [list(c) for c in zip(*rows)]
    cur.execute(
        "INSERT INTO apm_errorsample (organization_id, app_id, group_id, time, error_class, message, "
        "transaction_name, trace_id, stack) SELECT * FROM unnest(%b::bigint[], %b::uuid[], %b::uuid[], "
        "%b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::text[], %b::jsonb[])",
        cols,
    )
    # Keep the newest ``cap`` samples per touched group: the (cap + 1)-th newest, found
    # through the (group, time) index, and everything older go.
    cur.execute(
        "DELETE FROM apm_errorsample s USING unnest(%b::uuid[]) AS g(id), LATERAL (SELECT time, id "
        "FROM apm_errorsample WHERE group_id = g.id ORDER BY time DESC, id DESC OFFSET %s LIMIT 1) AS cut "
        "WHERE s.group_id = g.id AND (s.time, s.id) <= (cut.time, cut.id)",
        [sorted(set(ids.values())), cap],
    )


def _apply_instances(cur, todo):
    latest = {}
    for q, p in todo:
        i = p.instance
        if i is None:
            continue
        key = (q.app_id, i.host[:255], i.pid, int(i.time // 60) * 60)
        if key not in latest or latest[key][1].time <= i.time:
            latest[key] = (q.org_id, i)
    if not latest:
        return
    keys = sorted(latest)
    rows = [latest[k] for k in keys]
    cur.execute(
        "INSERT INTO apm_instanceminute AS r (organization_id, app_id, host, pid, time, cpu_percent, memory_bytes, "
        "threads, started_at, agent_version, runtime_version, framework, dropped) SELECT * FROM unnest("
        "%b::bigint[], %b::uuid[], %b::text[], %b::int[], %b::timestamptz[], %b::float8[], %b::bigint[], "
        "%b::int[], %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::jsonb[]) "
        "ON CONFLICT (app_id, host, pid, time) DO UPDATE SET cpu_percent = EXCLUDED.cpu_percent, "
        "memory_bytes = EXCLUDED.memory_bytes, threads = EXCLUDED.threads, started_at = EXCLUDED.started_at, "
        "agent_version = EXCLUDED.agent_version, runtime_version = EXCLUDED.runtime_version, "
        "framework = EXCLUDED.framework, dropped = EXCLUDED.dropped",
        [
            [o for o, _ in rows],
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [minute_dt(k[3]) for k in keys],
            [i.cpu_percent for _, i in rows],
            [i.memory_bytes for _, i in rows],
            [i.threads for _, i in rows],
            [dt.datetime.fromtimestamp(i.started_at, UTC) for _, i in rows],
            [i.agent_version[:64] for _, i in rows],
            [i.runtime_version[:64] for _, i in rows],
            [(i.framework or "")[:128] for _, i in rows],
            [msgspec.json.encode(i.dropped).decode() for _, i in rows],
        ],
    )


def _apply_rollups(cur, apps):
    txn_rows = []  # (txn_id, minute, org, app, agg)
    app_rows = []  # (app_id, type, minute, org, agg)
    for ab in apps.values():
        for (tid, minute), agg in ab.txn_rows.items():
            txn_rows.append((tid, minute, ab.org_id, ab.app_id, agg))
        for (typ, minute), agg in ab.app_rows.items():
            app_rows.append((ab.app_id, typ, minute, ab.org_id, agg))
    txn_rows.sort(key=lambda r: (r[0], r[1]))
    app_rows.sort(key=lambda r: (r[0], r[1], r[2]))
    if txn_rows:
        _upsert(
            cur,
            "apm_transactionminute",
            "transaction_id",
            pgarray.int8s,
            "(transaction_id, time)",
            [r[0] for r in txn_rows],
            [r[1] for r in txn_rows],
            [r[2] for r in txn_rows],
            [r[3] for r in txn_rows],
            [r[4] for r in txn_rows],
        )
    if app_rows:
        _upsert(
            cur,
            "apm_appminute",
            "txn_type",
            pgarray.texts,
            "(app_id, txn_type, time)",
            [r[1] for r in app_rows],
            [r[2] for r in app_rows],
            [r[3] for r in app_rows],
            [r[0] for r in app_rows],
            [r[4] for r in app_rows],
        )


def _upsert(cur, table, key_col, pack_keys, conflict, keys, minutes, orgs, app_ids, aggs):
    """Add ``aggs`` into the rows of (app, key, minute); sketches merged in Python."""
    cur.execute(
        f"INSERT INTO {table} AS r (organization_id, app_id, {key_col}, time, {_STAT_COLUMNS}, sketch) "
        f"SELECT * FROM unnest(%b, %b, %b, %b, {_STAT_UNNEST}, %b) "
        f"ON CONFLICT {conflict} DO UPDATE SET {_STAT_UPDATE} "
        "RETURNING id, count, sketch, app_id, " + key_col + ", time",
        [
            pgarray.int8s(orgs),
            pgarray.uuids(app_ids),
            pack_keys(keys),
            pgarray.timestamptzs(minutes),
            *_stat_arrays(aggs),
            pgarray.byteas([a.stored_sketch() for a in aggs]),
        ],
    )
    index = {}
    for n, (app_id, k, minute) in enumerate(zip(app_ids, keys, minutes)):
        index[(str(app_id), k, minute_dt(minute))] = n
    upd_ids, upd_minutes, zeros, merged = [], [], [], Bins()
    for row_id, count, old, app_id, k, t in cur.fetchall():
        n = index[(str(app_id), k, t)]
        # (xmax = 0 cannot tell an insert on a partitioned table.) Every row is created
        # with count >= 1, so the count still equal to ours means the row is new and
        # holds our sketch; otherwise it holds the old sketch, locked until commit.
        agg = aggs[n]
        if count == agg.count:
            continue
        row = len(upd_ids)
        upd_ids.append(row_id)
        upd_minutes.append(minutes[n])
        merged.add_arrays(row, *agg.bins)
        zero = agg.zero_count
        if old:
            old = decode(old)
            merged.add_dict(row, old.bins)
            zero += old.zero_count
        zeros.append(zero)
    upd_sketch = [encode_stored_bins(z, *b) for z, b in zip(zeros, merged.sums(len(upd_ids)))]
    if upd_ids:
        cur.execute(
            f"UPDATE {table} AS r SET sketch = v.s FROM unnest(%b, %b, %b) AS v(i, t, s) "
            "WHERE r.id = v.i AND r.time = v.t",
            [pgarray.int8s(upd_ids), pgarray.timestamptzs(upd_minutes), pgarray.byteas(upd_sketch)],
        )


def _publish(apps, txn_ids):
    from apm import live

    for ab in apps.values():
        if not live.is_watched(ab.app_id):
            continue  # nobody on its live pages: spare building the message
        aggregates = []
        for (tid, minute), agg in ab.txn_rows.items():
            typ, name = ab.txn_names[tid]
            aggregates.append({"minute": minute, "txn_type": typ, "transaction_id": tid, "name": name, **agg.as_live()})
        for (typ, minute), agg in ab.app_rows.items():
            aggregates.append({"minute": minute, "txn_type": typ, "transaction_id": None, "name": None, **agg.as_live()})
        try:
            events = ab.events_live(txn_ids[(ab.org_id, ab.app_id)])
            live.publish_batch(ab.org_id, ab.app_id, aggregates, events)
        except Exception:  # live views are best effort; the data is committed
            import logging

            logging.getLogger(__name__).exception("live publish failed")
