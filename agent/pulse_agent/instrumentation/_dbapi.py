"""Shared DB-API hook bodies: a database span per execute, once per statement."""

import sys

from pulse_agent.log import internal_error
from pulse_agent.state import current
from pulse_agent.transaction import DATABASE, perf_counter


class _Recording:
    """The patch of a hook that is never unwrapped (our own cursor classes): always on."""

    passthrough = False


RECORDING = _Recording()


def traced(original, system, patch=RECORDING):
    # ``patch`` is never None: this runs once per query, and under Django on
    # PostgreSQL once more per ORM query (ended by ``in_leaf``).
    def execute(self, sql, *args, **kwargs):
        txn = current()
        if txn is None or txn.in_leaf or patch.passthrough:
            return original(self, sql, *args, **kwargs)
        try:
            saved = txn.enter()
            txn.in_leaf = True
        except Exception:
            internal_error("_dbapi.enter")
            return original(self, sql, *args, **kwargs)
        t0 = perf_counter()
        try:
            return original(self, sql, *args, **kwargs)
        finally:
            try:
                txn.in_leaf = False
                txn.leave(DATABASE, None, t0, saved, sql, system)
            except Exception:
                internal_error("_dbapi")

    return execute


def traced_async(original, system, patch=RECORDING):
    async def execute(self, sql, *args, **kwargs):
        txn = current()
        if txn is None or patch.passthrough:
            return await original(self, sql, *args, **kwargs)
        try:
            saved = txn.enter()
        except Exception:
            internal_error("_dbapi.enter")
            return await original(self, sql, *args, **kwargs)
        t0 = perf_counter()
        try:
            return await original(self, sql, *args, **kwargs)
        finally:
            try:
                txn.leave(DATABASE, None, t0, saved, sql, system)
            except Exception:
                internal_error("_dbapi")

    return execute


def called_from_django(depth=2):
    """True when the caller is Django's DB backend (the ORM hook already times it)."""
    try:
        f = sys._getframe(depth)
        for _ in range(4):
            if f is None:
                return False
            if (f.f_globals.get("__name__") or "").startswith("django.db.backends"):
                return True
            f = f.f_back
    except Exception:
        pass
    return False
