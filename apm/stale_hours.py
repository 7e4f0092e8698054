"""Hours whose hour and day rollups are behind their minutes, until a downsample catches up.

``mark`` runs inside the ingest batch's transaction (apm/rollup/batch.py), for the hours
of the minute rows and instance samples the batch applied: a batch that commits has
marked its hours, one that rolls back has not, one dropped by the ledger marks nothing.
Each mark carries a version, new each time a batch touches the hour.

The downsample (apm/downsample.py) reads an organisation's marks before its minutes,
rebuilds those hours and their days, and removes each mark, in the same transaction,
only if its version is still the one it read: a batch that committed meanwhile keeps
its mark for the next run, and a downsample that fails removes nothing.
"""

import datetime as dt

from apm import pgarray

UTC = dt.timezone.utc


def mark(cur, org_hours):
    """Mark (organisation id, hour start in unix seconds) pairs, on the batch's psycopg cursor.

    In key order, so concurrent batches lock the marks in the same order."""
    pairs = sorted(org_hours)
    if not pairs:
        return
    cur.execute(
        "INSERT INTO apm_stalehour (organization_id, hour) SELECT * FROM unnest(%b, %b) "
        "ON CONFLICT (organization_id, hour) DO UPDATE SET version = EXCLUDED.version",
        [pgarray.int8s([o for o, _ in pairs]), pgarray.timestamptzs([h for _, h in pairs])],
    )


def marked(cur, org_id):
    """{hour start in unix seconds: version} of one organisation's marks."""
    cur.execute(
        "SELECT extract(epoch FROM hour)::bigint, version FROM apm_stalehour WHERE organization_id = %s", [org_id]
    )
    return dict(cur.fetchall())


def clear(cur, org_id, marks):
    """Remove the marks ``marked`` returned, unless a batch has touched their hour since."""
    if not marks:
        return
    hours = sorted(marks)
    cur.execute(
        "DELETE FROM apm_stalehour s USING unnest(%s::timestamptz[], %s::bigint[]) AS u(hour, version) "
        "WHERE s.organization_id = %s AND s.hour = u.hour AND s.version = u.version",
        [[dt.datetime.fromtimestamp(h, UTC) for h in hours], [marks[h] for h in hours], org_id],
    )


def organisations(cur):
    """Ids of the organisations with marked hours."""
    cur.execute("SELECT DISTINCT organization_id FROM apm_stalehour")
    return [r[0] for r in cur.fetchall()]
