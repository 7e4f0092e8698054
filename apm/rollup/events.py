"""Sampled events and slow traces of a batch, written by binary COPY."""

import datetime as dt
import uuid
from collections.abc import Sequence

import msgspec

from apm import pgarray
from apm.models import EVENT_BATCH_SPAN
from apm.rollup.times import UTC
from contract import queued

EVENTBATCH_COLUMNS = (
    "organization_id, app_id, end_min, end_max, transaction_ids, end_times, durations, statuses, errors, "
    "trace_ids, has_trace"
)
# The arrays go as bytes already in Postgres' binary array format (apm/pgarray.py).
EVENTBATCH_TYPES = ["int8", "uuid", "timestamptz", "timestamptz"] + ["bytea"] * 7


def _chunks(events):
    """[(events, min end, max end)] of contract.queued.QueuedEvents: the events as one
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


def event_days(ends: Sequence[float]) -> set[dt.date]:
    """UTC days of the rows' end_max (the partition column) for events ending at ``ends``."""
    lo = min(ends)
    hi = max(ends)
    day = dt.datetime.fromtimestamp(hi, UTC).date()
    if hi - lo <= EVENT_BATCH_SPAN:
        return {day}
    first = dt.datetime.fromtimestamp(lo, UTC).date()
    return {first + dt.timedelta(days=n) for n in range((day - first).days + 1)}


def copy_events(cur, todo, txn_ids):
    """The sampled events of the payloads ``todo`` [(contract.stream.Entry, QueuedPayload)]; returns how many."""
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
            for ev, lo, hi in _chunks(p.events):
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


def copy_traces(cur, todo, txn_ids):
    """The slow traces of the payloads ``todo``, span trees included."""
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
