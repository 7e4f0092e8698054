"""Runtime metrics of the process for the ``instance`` part of a payload: garbage
collection, event-loop lag and open database connections.

Everything here is read on the harvest thread. The only code that runs elsewhere is the
``gc.callbacks`` timer (inside collections, which the interpreter runs anyway) and the
loop probe (a callback on the app's event loop a few times a second), so an ordinary
request pays nothing.
"""

import gc
import sys
import threading
import time
import weakref

from pulse_agent.log import internal_error

LOOP_PROBE_EVERY = 0.25  # seconds between two probes of the event loop
MAX_POOLS = 32  # the protocol's bounds on ``db_pools`` and a pool's name
MAX_NAME = 255


class GcTimer:
    """Seconds spent in collections, summed by a ``gc.callbacks`` entry; collections per
    generation come from ``gc.get_stats()``, which the interpreter keeps anyway."""

    def __init__(self):
        self.total = 0.0
        self._began = None
        self._callback = self._on_gc  # one bound method, so remove() finds it
        gc.callbacks.append(self._callback)
        self.mark()

    def _on_gc(self, phase, info):
        if phase == "start":
            self._began = time.perf_counter()
        elif self._began is not None:
            self.total += time.perf_counter() - self._began
            self._began = None

    def mark(self):
        self._mark = (self.total, _collections())

    def take(self):
        """(seconds in collections, collections per generation) since the previous take."""
        total, counts = self.total, _collections()
        before_total, before_counts = self._mark
        self._mark = (total, counts)
        return max(0.0, total - before_total), [max(0, a - b) for a, b in zip(counts, before_counts)]

    def close(self):
        try:
            gc.callbacks.remove(self._callback)
        except ValueError:
            pass


def _collections():
    return [g.get("collections", 0) for g in gc.get_stats()]


class LoopLag:
    """How late the event loop runs a callback scheduled at a fixed time: the longest
    delay seen since the previous take. A probe reschedules itself on the loop."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop = None  # weak reference to the watched loop
        self._worst = None

    def watch(self, loop):
        """Start probing ``loop`` (the app's, called from within it); once per loop."""
        with self._lock:
            if self._loop is not None and self._loop() is loop:
                return
            self._loop = weakref.ref(loop)
            self._worst = 0.0
        self._schedule(loop)

    def _schedule(self, loop):
        due = loop.time() + LOOP_PROBE_EVERY
        loop.call_at(due, self._probe, loop, due)

    def _probe(self, loop, due):
        try:
            late = max(0.0, loop.time() - due)
            with self._lock:
                if self._loop is None or self._loop() is not loop:
                    return  # another loop is watched now; this one stops probing
                if self._worst is None or late > self._worst:
                    self._worst = late
            if not loop.is_closed():
                self._schedule(loop)
        except Exception:
            internal_error("runtime.loop_probe")

    def take(self):
        """The longest lateness in seconds since the previous take, or None with no loop."""
        with self._lock:
            loop = self._loop() if self._loop is not None else None
            if loop is None or loop.is_closed():
                self._loop = None
                return None
            worst, self._worst = self._worst, 0.0
            return worst

    def forget(self):
        with self._lock:
            self._loop = None
            self._worst = None


loop_lag = LoopLag()


def watch_running_loop():
    """Probe the running event loop (the ASGI app's); True once it is watched."""
    try:
        import asyncio

        loop_lag.watch(asyncio.get_running_loop())
        return True
    except Exception:
        internal_error("runtime.watch_loop")
        return False


class DjangoConnections:
    """Open connections per Django database alias. Django keeps one connection per thread
    and alias, out of sight of other threads, so instrumentation/django_connections.py
    hands each new one's wrapper to ``add``; aliases on Django's psycopg pool report the
    pool's own statistics instead."""

    def __init__(self):
        self._wrappers = weakref.WeakSet()

    def add(self, sender=None, connection=None, **_kw):
        try:
            self._wrappers.add(connection)
        except Exception:
            internal_error("runtime.connection_created")

    def pools(self):
        out = {}
        for wrapper in list(self._wrappers):
            alias = getattr(wrapper, "alias", None)
            if alias is not None:
                out[alias] = out.get(alias, 0) + (getattr(wrapper, "connection", None) is not None)
        pools = [{"name": _pool_name(alias), "open": n} for alias, n in sorted(out.items())]
        return _psycopg_pools(pools)

    def forget(self):
        self._wrappers = weakref.WeakSet()


django_connections = DjangoConnections()


def _psycopg_pools(pools):
    """Replace the pooled aliases' counts by their pool's own statistics."""
    backend = sys.modules.get("django.db.backends.postgresql.base")
    found = getattr(getattr(backend, "DatabaseWrapper", None), "_connection_pools", None)
    if not isinstance(found, dict) or not found:
        return pools
    by_name = {p["name"]: p for p in pools}
    for alias, pool in list(found.items()):
        stats = pool.get_stats()
        size = stats.get("pool_size", 0)
        name = _pool_name(alias)
        by_name[name] = {
            "name": name,
            "open": size,
            "in_use": max(0, size - stats.get("pool_available", 0)),
            "max": getattr(pool, "max_size", None),
        }
    return [by_name[k] for k in sorted(by_name)]


def _pool_name(alias):
    return ("django:%s" % alias)[:MAX_NAME]


class RuntimeSampler:
    """The runtime fields of one ``instance`` sample."""

    def __init__(self):
        self.gc = GcTimer()

    def after_fork(self):
        self.gc.mark()
        django_connections.forget()
        loop_lag.forget()  # the parent's loop does not run in the child

    def sample(self, period):
        """The fields over the last ``period`` seconds (GC time within it, as the protocol asks)."""
        gc_time, collections = self.gc.take()
        out = {
            "threads": threading.active_count(),
            "gc_time": round(min(gc_time, period), 6),
            "gc_collections": collections,
            "loop_lag": loop_lag.take(),
        }
        try:
            pools = django_connections.pools()
        except Exception:
            internal_error("runtime.db_pools")
            pools = []
        if pools:
            out["db_pools"] = pools[:MAX_POOLS]
        return out

    def close(self):
        self.gc.close()
