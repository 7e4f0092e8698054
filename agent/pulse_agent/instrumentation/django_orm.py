"""The Django ORM: a database span per statement (``CursorWrapper.execute``).

Driver-level hooks (sqlite3, psycopg, psycopg2) see ``txn.in_leaf`` and stay out of
the way, so each query is counted once. The wrappers keep Django's exact signatures
(no ``*args`` re-packing) because they run once per query.
"""

from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.log import internal_error
from pulse_agent.state import current
from pulse_agent.transaction import DATABASE, MAX_SPANS, perf_counter

LIBRARY = "django"
SUPPORTED = ("3.2", "6.1")


def _execute(original, patch):
    def execute(self, sql, params=None):
        txn = current()
        if txn is None or txn.in_leaf or patch.passthrough:
            return original(self, sql, params)
        try:
            saved = txn.acc
            txn.acc = 0.0
            txn.in_leaf = True
        except Exception:
            internal_error("django_orm.enter")
            return original(self, sql, params)
        t0 = perf_counter()
        try:
            return original(self, sql, params)
        finally:
            try:
                # Transaction.leave, inlined: this runs once per query
                t1 = perf_counter()
                d = t1 - t0
                excl = d - txn.acc
                txn.acc = saved + d
                txn.in_leaf = False
                if excl > 0.0:
                    txn.t_db += excl
                spans = txn.spans
                if len(spans) < MAX_SPANS:
                    spans.append((DATABASE, None, t0, t1, sql, self.db.vendor))
                else:
                    txn.spans_dropped += 1
            except Exception:
                internal_error("django_orm")

    return execute


def _executemany(original, patch):
    def executemany(self, sql, param_list):
        txn = current()
        if txn is None or txn.in_leaf or patch.passthrough:
            return original(self, sql, param_list)
        try:
            saved = txn.acc
            txn.acc = 0.0
            txn.in_leaf = True
        except Exception:
            internal_error("django_orm.enter")
            return original(self, sql, param_list)
        t0 = perf_counter()
        try:
            return original(self, sql, param_list)
        finally:
            try:
                # Transaction.leave, inlined: this runs once per query
                t1 = perf_counter()
                d = t1 - t0
                excl = d - txn.acc
                txn.acc = saved + d
                txn.in_leaf = False
                if excl > 0.0:
                    txn.t_db += excl
                spans = txn.spans
                if len(spans) < MAX_SPANS:
                    spans.append((DATABASE, None, t0, t1, sql, self.db.vendor))
                else:
                    txn.spans_dropped += 1
            except Exception:
                internal_error("django_orm")

    return executemany


def instrument():
    from django.db.backends import utils

    wrap_method(utils.CursorWrapper, "execute", _execute)
    wrap_method(utils.CursorWrapper, "executemany", _executemany)


def uninstrument():
    from django.db.backends import utils

    unwrap_method(utils.CursorWrapper, "execute")
    unwrap_method(utils.CursorWrapper, "executemany")
