"""Transaction names (type, name) of an app -> apm_transaction ids: created on first sight,
committed on their own (outside the batch transaction) and cached per process.

Past settings.TRANSACTIONS_PER_APP_LIMIT names, new ones fold into one "(other)" row per
type, bounding cardinality. Creators count under a lock of the app's names, so two consumers
creating at once cannot both take the last places.
"""

import threading
from collections.abc import Iterable

from django.db import connection, transaction

from tenants import limits

OTHER = "(other)"

_txn_cache: dict[tuple[str, str, str], int] = {}  # (app_id, type, name) -> id
_txn_lock = threading.Lock()


def transaction_ids(org_id: int, app_id: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
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
        found = _existing(cur, app_id, missing)
        new = [k for k in missing if k not in found]
        if new:
            limits.lock_app(cur, limits.TRANSACTION_NAMES, app_id)
            # Another consumer may have created some of them while this one waited.
            found = _existing(cur, app_id, missing)
            new = [k for k in missing if k not in found]
            cur.execute("SELECT count(*) FROM apm_transaction WHERE app_id = %s AND name <> %s", [app_id, OTHER])
            room = limits.TRANSACTION_NAMES.most - cur.fetchone()[0]
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
            found.update(_existing(cur, app_id, to_create))
            for t, n in overflow:
                found[(t, n)] = found[(t, OTHER)]
    with _txn_lock:
        if len(_txn_cache) > 200_000:
            _txn_cache.clear()
        for key, tid in found.items():
            _txn_cache[(app_id, *key)] = tid
            out[key] = tid
    return out


def _existing(cur, app_id, keys):
    cur.execute(
        "SELECT type, name, id FROM apm_transaction WHERE app_id = %s AND (type, name) IN "
        "(SELECT * FROM unnest(%s::text[], %s::text[]))",
        [app_id, [k[0] for k in keys], [k[1] for k in keys]],
    )
    return {(t, n): i for t, n, i in cur.fetchall()}
