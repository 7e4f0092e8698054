"""Names of an app that rollups reference by id, created on first sight, committed on their
own (outside the batch transaction) and cached per process:

- transaction names (type, name) -> apm_transaction ids; past
  settings.TRANSACTIONS_PER_APP_LIMIT names, new ones fold into one "(other)" row per type;
- database and external operations (kind, service, operation, target) -> apm_operation ids;
  past settings.OPERATIONS_PER_APP_LIMIT, new ones fold into one "(other)" row per kind.

Both bound cardinality the same way: creators count under a lock of the app's names, so two
consumers creating at once cannot both take the last places.
"""

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, transaction

from tenants import limits

OTHER = "(other)"


@dataclass(frozen=True)
class NameTable:
    table: str
    columns: tuple[str, ...]  # the key, after app_id; all text
    limit: limits.Limit
    other_of: Callable[[tuple[str, ...]], tuple[str, ...]]  # the row a key folds into past the limit
    counted_column: str  # rows whose value here is OTHER are not counted against the limit


TRANSACTIONS = NameTable(
    "apm_transaction", ("type", "name"), limits.TRANSACTION_NAMES, lambda k: (k[0], OTHER), "name"
)
OPERATIONS = NameTable(
    "apm_operation", ("kind", "service", "operation", "target"), limits.OPERATIONS,
    lambda k: (k[0], OTHER, OTHER, ""), "operation",
)

_cache: dict[tuple[str, str, tuple[str, ...]], int] = {}  # (table, app_id, key) -> id
_lock = threading.Lock()


def transaction_ids(org_id: int, app_id: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids for (type, name) pairs of one app, creating rows (and "(other)" past the limit)."""
    return ids(TRANSACTIONS, org_id, app_id, keys)  # type: ignore[return-value]


def operation_ids(
    org_id: int, app_id: str, keys: Iterable[tuple[str, str, str, str]]
) -> dict[tuple[str, str, str, str], int]:
    """Ids for (kind, service, operation, target) of one app, creating rows (and "(other)")."""
    return ids(OPERATIONS, org_id, app_id, keys)  # type: ignore[return-value]


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def ids(names: NameTable, org_id: int, app_id: str, keys: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    out = {}
    missing = []
    for key in keys:
        found_id = _cache.get((names.table, app_id, key))
        if found_id is None:
            missing.append(key)
        else:
            out[key] = found_id
    if not missing:
        return out
    with transaction.atomic(), connection.cursor() as cur:
        found = _existing(cur, names, app_id, missing)
        new = [k for k in missing if k not in found]
        if new:
            limits.lock_app(cur, names.limit, app_id)
            # Another consumer may have created some of them while this one waited.
            found = _existing(cur, names, app_id, missing)
            new = [k for k in missing if k not in found]
            cur.execute(
                f"SELECT count(*) FROM {names.table} WHERE app_id = %s AND {names.counted_column} <> %s",
                [app_id, OTHER],
            )
            room = names.limit.most - cur.fetchone()[0]
            allowed = new[: max(room, 0)]
            # Past the limit, keys fold into their "(other)" row, bounding cardinality.
            overflow = new[len(allowed) :]
            to_create = allowed + sorted({names.other_of(k) for k in overflow})
            cols = ", ".join(names.columns)
            arrays = ", ".join(["%s::text[]"] * len(names.columns))
            cur.execute(
                f"INSERT INTO {names.table} (organization_id, app_id, {cols}, created_at) "
                f"SELECT %s, %s, {cols}, now() FROM unnest({arrays}) AS u({cols}) "
                f"ORDER BY {cols} ON CONFLICT (app_id, {cols}) DO NOTHING",
                [org_id, app_id, *map(list, zip(*to_create))],
            )
            found.update(_existing(cur, names, app_id, to_create))
            for k in overflow:
                found[k] = found[names.other_of(k)]
    with _lock:
        if len(_cache) > 200_000:
            _cache.clear()
        for key, found_id in found.items():
            _cache[(names.table, app_id, key)] = found_id
            out[key] = found_id
    return out


def _existing(cur, names, app_id, keys):
    cols = ", ".join(names.columns)
    arrays = ", ".join(["%s::text[]"] * len(names.columns))
    cur.execute(
        f"SELECT {cols}, id FROM {names.table} WHERE app_id = %s AND ({cols}) IN (SELECT * FROM unnest({arrays}))",
        [app_id, *map(list, zip(*keys))],
    )
    return {tuple(row[:-1]): row[-1] for row in cur.fetchall()}
