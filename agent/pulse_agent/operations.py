"""Databases and external services: the ``database`` and ``external`` spans of every
finished transaction, aggregated per (transaction, kind, service, operation, table,
minute) on the harvest thread (protocol: ``operations[]``).

The request path does nothing more for this than hand the transaction's span list
along with its record (``state.hand_off``); naming a statement (obfuscation, then
``sql_summary``) happens here, once per distinct statement text thanks to a bounded
cache, since ORMs send the same parameterised text again and again.
"""

from pulse_agent.sketch import DDSketch
from pulse_agent.sql import obfuscate_sql, sql_summary
from pulse_agent.transaction import DATABASE, EXTERNAL

OTHER = "(other)"
# Distinct statement texts whose (operation, table) is remembered across harvests.
MAX_CACHED_STATEMENTS = 4096
# Protocol bound on ``operations[]`` per payload.
MAX_ROWS = 2000


class OperationStat:
    __slots__ = ("count", "errors", "sum", "sketch")

    def __init__(self):
        self.count = 0
        self.errors = 0
        self.sum = 0.0
        self.sketch = DDSketch()


def statement_key(sql, system):
    """(operation, table) of a statement, from its obfuscated text: ``SELECT shop_item``
    gives ("SELECT", "shop_item"); a text with no keyword gives ("query", "")."""
    summary = sql_summary(obfuscate_sql(sql, system))
    op, _, table = summary.partition(" ")
    return op[:64], table


def _named_key(name, service):
    """(operation, table) of a database span named by its hook (e.g. ``redis GET``)."""
    if not name:
        return "query", ""
    first, _, rest = name.partition(" ")
    op = rest if first == service and rest else name
    return op[:64], ""


class Operations:
    """One harvest's operations (harvest thread only)."""

    __slots__ = ("stats", "keys", "max_keys", "statements", "dropped")

    def __init__(self, max_keys, statements):
        self.stats = {}  # (minute, transaction, kind, service, operation, table) -> OperationStat
        self.keys = {}  # (kind, service, operation, table) as seen -> as reported
        self.max_keys = max_keys
        self.statements = statements  # (sql, system) -> (operation, table); shared across harvests
        self.dropped = 0  # spans not counted: the payload's bound on rows was reached

    def add(self, txn_name, spans, offset):
        """Count the database and external spans of one transaction named ``txn_name``."""
        stats = self.stats
        for kind, name, t0, t1, attrs, extra in spans:
            if kind == DATABASE:
                error = False
                if attrs is not None and not isinstance(attrs, dict):
                    service = str(extra or "database")
                    op, table = self._statement(attrs, service)
                else:
                    service = str((attrs or {}).get("db.system") or "database")
                    op, table = _named_key(name, service)
            elif kind == EXTERNAL:
                a = attrs or {}
                service = str(a.get("host") or "unknown")
                op, table = str(a.get("method") or "GET")[:64], ""
                status = a.get("status")
                error = status is None or not str(status).isdigit() or int(status) >= 500
            else:
                continue
            key = self._reported((kind, service[:255] or kind, op or "query", table[:255]))
            d = t1 - t0
            if d < 0.0:
                d = 0.0
            row = (int((t1 + offset) // 60.0) * 60, txn_name) + key
            s = stats.get(row)
            if s is None:
                if len(stats) >= MAX_ROWS:
                    self.dropped += 1
                    continue
                s = stats[row] = OperationStat()
            s.count += 1
            s.sum += d
            if error:
                s.errors += 1
            s.sketch.add(d)

    def _statement(self, sql, system):
        text = sql if type(sql) is str else str(sql)
        cache = self.statements
        found = cache.get((text, system))
        if found is None:
            if len(cache) >= MAX_CACHED_STATEMENTS:
                cache.clear()
            found = cache[(text, system)] = statement_key(sql, system)
        return found

    def _reported(self, key):
        out = self.keys.get(key)
        if out is None:
            out = key if len(self.keys) < self.max_keys else (key[0], OTHER, OTHER, "")
            self.keys[key] = out
        return out

    def payload(self):
        """The protocol's ``operations[]`` entries."""
        return [
            {
                "transaction": txn,
                "kind": kind,
                "service": service,
                "operation": op,
                "table": table,
                "minute": minute,
                "count": s.count,
                "errors": s.errors,
                "sum": s.sum,
                "sketch": s.sketch.to_base64(),
            }
            for (minute, txn, kind, service, op, table), s in self.stats.items()
        ]
