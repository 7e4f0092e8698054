"""Errors of a batch: grouped by fingerprint (class, normalised message, top frame) into
error groups with per-minute counts and a bounded set of newest samples.

Past settings.ERROR_GROUPS_PER_APP_LIMIT groups, errors of new fingerprints fold into one
"(other errors)" group of the app: counted and sampled, never dropped. New groups are counted
under a lock of the app's groups, so two consumers cannot both take the last places.
"""

import datetime as dt
import hashlib
import re
from collections import defaultdict

import msgspec
from django.conf import settings

from apm.rollup.times import UTC, minute_dt
from tenants import limits

OTHER_ERRORS = "(other errors)"
OTHER_FINGERPRINT = "other"  # never a sha1 digest

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


def write_errors(cur, todo):
    """Error groups (counts, first and last seen), their per-minute counts and their newest
    samples, for the errors of the payloads ``todo`` [(contract.stream.Entry, QueuedPayload)]."""
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
    _fold_past_limit(cur, groups, minutes, samples)
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


def _fold_past_limit(cur, groups, minutes, samples):
    """Move the batch's new fingerprints that find no room under the app's limit into its
    "(other errors)" group (in place)."""
    keys = [k for k in groups if k[1] != OTHER_FINGERPRINT]
    cur.execute(
        "SELECT app_id, fingerprint FROM apm_errorgroup WHERE (app_id, fingerprint) IN "
        "(SELECT * FROM unnest(%s::uuid[], %s::text[]))",
        [[k[0] for k in keys], [k[1] for k in keys]],
    )
    known = {(str(a), f) for a, f in cur.fetchall()}
    new = defaultdict(list)  # app_id -> [fingerprint]
    for app_id, fp in keys:
        if (str(app_id), fp) not in known:
            new[app_id].append(fp)
    folded = {}  # (app_id, fingerprint) -> the app's "(other errors)" key
    for app_id in sorted(new, key=str):  # one order for every consumer: no deadlock between them
        limits.lock_app(cur, limits.ERROR_GROUPS, app_id)
        cur.execute(
            "SELECT count(*) FROM apm_errorgroup WHERE app_id = %s AND fingerprint <> %s", [app_id, OTHER_FINGERPRINT]
        )
        room = max(limits.ERROR_GROUPS.most - cur.fetchone()[0], 0)
        # The earliest seen keep their own groups (a batch is in no particular order).
        for fp in sorted(new[app_id], key=lambda f: groups[(app_id, f)][5])[room:]:
            folded[(app_id, fp)] = (app_id, OTHER_FINGERPRINT)
    if not folded:
        return
    for key, into in folded.items():
        g = groups.pop(key)
        other = groups.get(into)
        if other is None:
            groups[into] = [g[0], OTHER_ERRORS, f"Errors past the limit of {limits.ERROR_GROUPS.most} groups of this app",
                            "", "", g[5], g[6], g[7]]
        else:
            other[5], other[6], other[7] = min(other[5], g[5]), max(other[6], g[6]), other[7] + g[7]
        samples[into].extend(samples.pop(key, []))
    for mkey in [m for m in minutes if m[:2] in folded]:
        minutes[(*folded[mkey[:2]], mkey[2])] += minutes.pop(mkey)
