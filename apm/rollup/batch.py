"""One batch of stream entries applied in one Postgres transaction, exactly once in effect.

``apply_batch`` writes the processed-batch ledger first (``INSERT ... ON CONFLICT DO
NOTHING RETURNING`` keeps only payloads never applied before), then events, traces,
errors and instances, and last the minute rollups, the hot rows, to hold their locks for
the shortest time, then marks the hours it applied data to for downsampling
(apm/stale_hours.py), in the same transaction. After the commit it hands what the batch
added to the live publisher.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable

import psycopg
from django.db import connection, transaction

from apm import live, partitions, pgarray, stale_hours
from apm.rollup.accumulate import collect
from apm.rollup.errors import write_errors
from apm.rollup.events import copy_events, copy_traces, event_days
from apm.rollup.instances import write_instances
from apm.rollup.minutes import write_minutes
from apm.rollup.names import transaction_ids
from apm.rollup.times import UTC, minute_dt
from contract.stream import Entry, decode_entry


def apply_batch(entries: Iterable[Entry], after_commit: Callable[[], None] | None = None) -> int:
    """Apply stream entries (contract.stream.Entry) in one transaction; returns how many were new.

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
    names: defaultdict[tuple[int, str], set[tuple[str, str]]] = defaultdict(set)  # (org, app) -> {(type, name)}
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
            days |= event_days(p.events.ends)
        for t in p.traces:
            days.add(dt.datetime.fromtimestamp(t.start, UTC).date())
    partitions.ensure_days(days)
    txn_ids = {k: transaction_ids(k[0], k[1], sorted(v)) if v else {} for k, v in names.items()}

    with transaction.atomic():
        with _server_binding_cursor() as cur:
            fresh = _ledger(cur, decoded)
            todo = [(q, p) for q, p, sent_day in decoded if (q.org_id, p.batch_id, sent_day) in fresh]
            apps = collect(todo, txn_ids)
            copy_events(cur, todo, txn_ids)
            copy_traces(cur, todo, txn_ids)
            write_errors(cur, todo)
            write_instances(cur, todo)
            write_minutes(cur, apps)
            stale_hours.mark(cur, _hours_applied(apps, todo))
    if after_commit is not None:
        after_commit()
    live.publish_applied(apps.values(), txn_ids)
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


def _hours_applied(apps, todo):
    """(organisation, hour) pairs of the minute rows and instance samples the batch wrote."""
    hours = {(ab.org_id, minute // 3600 * 3600) for ab in apps.values() for _typ, minute in ab.app_rows}
    hours.update((q.org_id, int(p.instance.time // 3600) * 3600) for q, p in todo if p.instance is not None)
    return hours


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
