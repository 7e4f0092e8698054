"""The minute rollups of a batch: upserts that add counts, then one UPDATE for merged sketches.

Sketches cannot be merged in SQL: the upsert leaves a stored sketch alone and returns it
for rows that already existed (locking them until commit), and one UPDATE writes old + new.
"""

from apm import pgarray
from apm.rollup.accumulate import agg_totals
from apm.rollup.times import minute_dt
from apm.sketch_sums import Bins
from apm.sketches import decode, encode_stored_bins

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
    cols = zip(*map(agg_totals, aggs))
    packers = (pgarray.int8s, pgarray.int8s) + (pgarray.float8s,) * 3 + (pgarray.int8s,) * 3 + (pgarray.float8s,) * 4
    return [pack(col) for pack, col in zip(packers, cols)]


_STAT_UNNEST = (
    "%b::bigint[], %b::bigint[], %b::float8[], %b::float8[], %b::float8[], %b::bigint[], %b::bigint[], "
    "%b::bigint[], %b::float8[], %b::float8[], %b::float8[], %b::float8[]"
)


def write_minutes(cur, apps):
    """Add the batch's sums (``apps``: {(org, app): AppBatch}) into the transaction and app
    minute rows, in key order so concurrent workers lock rows in the same order."""
    txn_rows, app_rows = [], []
    for ab in apps.values():
        txn_rows += [(tid, minute, ab.org_id, ab.app_id, agg) for (tid, minute), agg in ab.txn_rows.items()]
        app_rows += [(ab.app_id, typ, minute, ab.org_id, agg) for (typ, minute), agg in ab.app_rows.items()]
    txn_rows.sort(key=lambda r: r[:2])
    app_rows.sort(key=lambda r: r[:3])
    if txn_rows:
        txn_ids, minutes, orgs, app_ids, aggs = zip(*txn_rows)
        _upsert(cur, "apm_transactionminute", "transaction_id", pgarray.int8s, "(transaction_id, time)",
                txn_ids, minutes, orgs, app_ids, aggs)
    if app_rows:
        app_ids, types, minutes, orgs, aggs = zip(*app_rows)
        _upsert(cur, "apm_appminute", "txn_type", pgarray.texts, "(app_id, txn_type, time)",
                types, minutes, orgs, app_ids, aggs)


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
