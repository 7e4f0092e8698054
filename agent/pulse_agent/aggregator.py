"""Aggregation of finished transactions into one harvest's worth of data.

Request threads only append one flat tuple per finished transaction to a bounded list
(``state.hand_off``: no lock, no per-name work). The harvest thread drains that
list when it reaches ``FOLD_AT`` and at every harvest, and folds the batch into
per-name, per-minute metrics with mostly C-level operations (sort, sum, bisect,
``DDSketch.add_sorted``), decides traces
among the few transactions flagged as candidates, and samples events with a
reservoir. Everything costly for the payload (sketch encoding, SQL obfuscation, span
trees, JSON) happens in ``Harvest.payload_parts``, also on the harvest thread.
"""

import math
import random
import threading
import time
from bisect import bisect_right
from itertools import groupby
from operator import itemgetter

from pulse_agent import state
from pulse_agent.log import internal_error
from pulse_agent.operations import Operations
from pulse_agent.sql import obfuscate_sql, sql_summary
from pulse_agent.sketch import DDSketch
from pulse_agent.transaction import DATABASE, EXTERNAL, TEMPLATE, new_span_id, new_trace_id

OTHER_NAME = "Other"
# Layout of the tuple ``state.hand_off`` appends for each finished transaction.
RECORD = ("name", "type", "t0", "duration", "status", "error", "database", "external",
          "template", "trace_id", "txn", "spans")
# The harvest thread folds the buffer at every harvest and, in between, as soon as
# it holds FOLD_AT transactions (the request thread that appends that one wakes it):
# a busy process folds in efficient batches with little memory held, an idle one
# wakes once per harvest interval.
FOLD_AT = 1000
# At most this many unfolded transactions (a few MB); beyond, they are dropped and
# counted. Only reachable when the harvest thread can't run for a long while.
MAX_BUFFERED = 20000

_random = random.random
_randrange = random.randrange
_log = math.log


def _select(cols, idx):
    """The rows ``idx`` of each column."""
    if len(idx) == 1:
        i = idx[0]
        return tuple((c[i],) for c in cols)
    get = itemgetter(*idx)
    return tuple(map(get, cols))


def _event_record(rec):
    """A tuple as kept in the events reservoir: without the transaction object and its
    spans (so they are not held), with its trace id, set by now if it was kept as a trace."""
    txn = rec[10]
    return rec[:9] + (rec[9] if txn is None else txn.trace_id, None)


class Metric:
    __slots__ = (
        "type", "count", "errors", "sum", "min", "max",
        "satisfied", "tolerating", "frustrated",
        "python", "database", "external", "template", "sketch",
    )

    def __init__(self, type_):
        self.type = type_
        self.count = 0
        self.errors = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = 0.0
        self.satisfied = 0
        self.tolerating = 0
        self.frustrated = 0
        self.python = 0.0
        self.database = 0.0
        self.external = 0.0
        self.template = 0.0
        self.sketch = DDSketch()


class Harvest:
    """Everything recorded between two harvests (harvest thread only)."""

    __slots__ = (
        "apdex_t", "metrics", "names", "events", "events_seen", "next_event", "w",
        "slow", "samples", "errors", "dropped_traces", "settings", "sample_minutes",
        "sampled_names", "max_events", "errors_reserved", "offset", "claims", "operations",
    )

    def __init__(self, settings, apdex_t, sample_minutes, claims, statements):
        self.settings = settings
        self.apdex_t = apdex_t
        self.metrics = {}  # minute -> {name: Metric}
        self.names = {}  # name as seen -> name reported (OTHER_NAME past the limit)
        self.events = []  # reservoir of event tuples
        self.events_seen = 0
        self.next_event = 0  # stream index of the next transaction the reservoir takes
        self.w = 1.0
        self.slow = []  # transactions over 4 x apdex_t (slowest kept)
        self.samples = []  # a few ordinary transactions per minute
        self.errors = []
        self.dropped_traces = 0
        self.sample_minutes = sample_minutes  # {minute: names sampled}, shared across harvests
        self.sampled_names = set()  # names not to sample again in this harvest
        self.claims = claims  # names with a sample candidate in the buffer (see state.hand_off)
        self.max_events = settings.max_events
        self.errors_reserved = 0  # error events handed out (request threads), see error_room
        self.offset = time.time() - time.perf_counter()  # perf_counter -> wall clock
        self.operations = Operations(settings.max_operations, statements)

    # -- folding (harvest thread) ---------------------------------------------------

    def fold(self, batch, offset):
        """Fold finished-transaction tuples; ``offset`` turns perf_counter into wall time."""
        self.offset = offset
        cols = tuple(zip(*batch))  # one pass: a column per field
        # traces and error events, in arrival order: only the flagged transactions
        for txn in filter(None, cols[10]):
            self._candidate(txn, offset)
        self._fold_operations(cols[0], cols[11], offset)
        # metrics per (minute, name); a batch almost always falls within one minute
        # and, in most apps, holds few names
        t0s = cols[2]
        lo = int((min(t0s) + offset) // 60.0) * 60  # bounds of every end (t0 + duration)
        hi = int((max(t0s) + max(cols[3]) + offset) // 60.0) * 60
        names = cols[0]
        if lo == hi:
            if len(set(names)) == 1:
                self._fold_group(lo, names[0], cols)
            else:
                order = sorted(range(len(names)), key=names.__getitem__)
                for name, idx in groupby(order, names.__getitem__):
                    self._fold_group(lo, name, _select(cols, list(idx)))
        else:
            groups = {}
            for i, (name, t0, d) in enumerate(zip(names, t0s, cols[3])):
                key = (int((t0 + d + offset) // 60.0) * 60, name)
                g = groups.get(key)
                if g is None:
                    groups[key] = [i]
                else:
                    g.append(i)
            for (minute, name), idx in groups.items():
                self._fold_group(minute, name, _select(cols, idx))
        self._sample_events(batch)

    def _fold_group(self, minute, name, cols):
        by_name = self.metrics.get(minute)
        if by_name is None:
            by_name = self.metrics[minute] = {}
        name = self._reported_name(name)
        m = by_name.get(name)
        if m is None:
            m = by_name[name] = Metric(cols[1][0])
        _, _, _, durs, statuses, errs, dbs, exts, tmpls = cols[:9]
        n = len(durs)
        ordered = sorted(durs)
        m.count += n
        m.sum += sum(durs)
        if ordered[0] < m.min:
            m.min = ordered[0]
        if ordered[-1] > m.max:
            m.max = ordered[-1]
        t = self.apdex_t
        codes = set(statuses)  # a handful of distinct values
        codes.discard(None)
        if any(errs) or (codes and max(codes) >= 500):
            errors = sat = tol = 0
            for d, e, s in zip(durs, errs, statuses):
                if e or (s is not None and s >= 500):
                    errors += 1
                elif d <= t:
                    sat += 1
                elif d <= 4.0 * t:
                    tol += 1
            m.errors += errors
        else:
            sat = bisect_right(ordered, t)
            tol = bisect_right(ordered, 4.0 * t) - sat
        m.satisfied += sat
        m.tolerating += tol
        m.frustrated += n - sat - tol
        if any(dbs) or any(exts) or any(tmpls):
            m.database += sum(dbs)
            m.external += sum(exts)
            m.template += sum(tmpls)
            py = 0.0
            for d, a, b, c in zip(durs, dbs, exts, tmpls):
                p = d - a - b - c
                if p > 0.0:
                    py += p
            m.python += py
        else:
            m.python += sum(durs)
        m.sketch.add_sorted(ordered)

    def _fold_operations(self, names, spans_col, offset):
        ops = self.operations
        for name, spans in zip(names, spans_col):
            if spans:
                ops.add(self._reported_name(name), spans, offset)

    def _reported_name(self, name):
        out = self.names.get(name)
        if out is None:
            out = name if len(self.names) < self.settings.max_metric_names else OTHER_NAME
            self.names[name] = out
        return out

    def _candidate(self, txn, offset):
        txn.start = txn.t0 + offset
        name = self._reported_name(txn.name)
        if name is not txn.name:
            txn.name = name
        if txn.error_event is not None:
            self.errors.append(txn.error_event)
        d = txn.duration
        if d > 4.0 * self.apdex_t:
            kept = self._keep_slow(txn)
        elif name not in self.sampled_names:
            kept = self._keep_sample(txn, int((txn.start + d) // 60.0) * 60)
        else:
            kept = False
        if kept:
            txn.get_trace_id()

    def _keep_slow(self, txn):
        slow = self.slow
        if len(slow) < self.settings.max_traces:
            slow.append(txn)
            return True
        self.dropped_traces += 1
        fastest = min(range(len(slow)), key=lambda i: slow[i].duration)
        if slow[fastest].duration < txn.duration:
            slow[fastest] = txn
            return True
        return False

    def _keep_sample(self, txn, minute):
        name = txn.name
        if not txn.spans:
            self.claims.discard(name)  # let a later one of this name try
            return False
        taken = self.sample_minutes.get(minute)
        if taken is None:
            if len(self.sample_minutes) > 4:
                self.sample_minutes.clear()
            taken = self.sample_minutes[minute] = set()
        if name in taken:
            self.sampled_names.add(name)  # skip this name until next harvest
            return False
        if len(taken) < self.settings.trace_samples_per_minute and len(self.samples) < 20 - self.settings.max_traces:
            taken.add(name)
            self.samples.append(txn)
            return True
        self.sampled_names.add(name)
        return False

    def _sample_events(self, batch):
        """Reservoir sampling (Vitter's Algorithm L): uniform over every transaction of
        the harvest, with work proportional to the events taken, not to the batch.
        The reservoir holds the tuples themselves; events are made at payload time."""
        k = self.max_events
        first = self.events_seen
        stop = self.events_seen = first + len(batch)
        if k <= 0:
            return
        events = self.events
        if len(events) < k:
            take = min(k - len(events), len(batch))
            events.extend(map(_event_record, batch[:take]))
            if len(events) < k:
                return
            self.w = (1.0 - _random()) ** (1.0 / k)
            self.next_event = first + take + self._skip()
        nxt = self.next_event
        while nxt < stop:
            events[int(_random() * k)] = _event_record(batch[nxt - first])
            self.w *= (1.0 - _random()) ** (1.0 / k)
            nxt += self._skip() + 1
        self.next_event = nxt

    def _skip(self):
        w = self.w
        if w >= 1.0:
            return 0
        return int(_log(1.0 - _random()) / math.log1p(-w))

    def is_empty(self):
        return not self.metrics and not self.errors

    # -- serialization (harvest thread) ------------------------------------------

    def payload_parts(self):
        metrics = [
            metric_dict(name, minute, m)
            for minute, by_name in self.metrics.items()
            for name, m in by_name.items()
        ]
        traces = [trace_dict(t, self.settings) for t in self.slow + self.samples]
        return metrics, self._event_dicts(), self.events_seen, traces, self.errors

    def take_events(self, next_max):
        """(events, events_seen) sampled so far, and a fresh reservoir of ``next_max``
        events for the rest of the harvest (live mode: events leave ahead of the harvest)."""
        parts = self._event_dicts(), self.events_seen
        self.events = []
        self.events_seen = self.next_event = 0
        self.w = 1.0
        self.max_events = next_max
        return parts

    def _event_dicts(self):
        traced = {t.get_trace_id() for t in self.slow}
        traced.update(t.get_trace_id() for t in self.samples)
        events = []
        names = self.names
        offset = self.offset
        for name, type_, t0, duration, status, error, _, _, _, trace_id, _ in self.events:
            events.append({
                "name": names.get(name, name),
                "type": type_,
                "end": t0 + duration + offset,
                "duration": duration,
                "status": status,
                "error": bool(error or (status is not None and status >= 500)),
                "trace_id": trace_id or new_trace_id(),
                "has_trace": trace_id in traced,
            })
        return events


def metric_dict(name, minute, m):
    return {
        "name": name,
        "type": m.type,
        "minute": minute,
        "count": m.count,
        "errors": m.errors,
        "sum": m.sum,
        "min": m.min,
        "max": m.max,
        "apdex": [m.satisfied, m.tolerating, m.frustrated],
        "segments": {
            "python": m.python,
            "database": m.database,
            "external": m.external,
            "template": m.template,
        },
        "sketch": m.sketch.to_base64(),
    }


def _span_attrs(kind, name, attrs, extra):
    """Protocol attributes of a span tuple (see ``Transaction.leave``)."""
    if kind == DATABASE and attrs is not None and not isinstance(attrs, dict):
        return {"sql": attrs, "db.system": extra}
    if kind == TEMPLATE and attrs is None:
        return {"template": name}
    return attrs


def trace_dict(txn, settings):
    """A transaction's span tree in protocol form; parents from time containment."""
    root_id = new_span_id()
    status = txn.status
    spans = [{
        "id": root_id,
        "parent": None,
        "kind": "python",
        "name": txn.name,
        "offset": 0.0,
        "duration": txn.duration,
        "attrs": {},
    }]
    record_sql = settings.record_sql
    base = txn.t0
    # sort by start, longer first on ties, so a parent precedes its children
    order = sorted(txn.spans, key=lambda sp: (sp[2], sp[2] - sp[3]))
    stack = [(0.0, txn.duration + 1e-9, root_id)]  # (start, end, id)
    for kind, name, t0, t1, attrs, extra in order[: settings.max_spans - 1]:
        offset = t0 - base
        duration = t1 - t0
        end = offset + duration
        while len(stack) > 1 and not (stack[-1][0] <= offset and end <= stack[-1][1] + 1e-9):
            stack.pop()
        attrs = _span_attrs(kind, name, attrs, extra)
        sid = (extra if kind == EXTERNAL else None) or new_span_id()
        sql = None
        if attrs and "sql" in attrs:
            sql = obfuscate_sql(attrs["sql"], attrs.get("db.system"))
            # named after the obfuscated text whatever is sent: a name is always sent
            if name is None:
                name = sql_summary(sql)
            if record_sql == "raw":
                sql = str(attrs["sql"])[:4096]
        if name is None:
            name = kind
        out_attrs = {}
        if attrs:
            for k, v in attrs.items():
                if k == "sql":
                    if record_sql == "off":
                        continue
                    v = sql
                out_attrs[k] = str(v)[:4096]
        spans.append({
            "id": sid,
            "parent": stack[-1][2],
            "kind": kind,
            "name": str(name)[:255] or kind,
            "offset": max(offset, 0.0),
            "duration": max(duration, 0.0),
            "attrs": out_attrs,
        })
        stack.append((offset, end, sid))
    return {
        "trace_id": txn.get_trace_id(),
        "parent_span_id": txn.parent_span_id,
        "name": txn.name,
        "type": txn.type,
        "start": txn.start,
        "duration": txn.duration,
        "status": status,
        "error": bool(txn.error or (status is not None and status >= 500)),
        "spans": spans,
    }


class Aggregator:
    """Owns the buffer request threads append to and the current Harvest."""

    def __init__(self, settings, capacity=MAX_BUFFERED):
        self.settings = settings
        self.apdex_t = settings.apdex_t
        self.lock = threading.Lock()  # fold vs swap: harvest thread and shutdown
        self.drop_lock = threading.Lock()
        self.buffer = []
        self.capacity = capacity
        self.dropped = 0  # transactions dropped because the buffer was full
        self.claims = set()
        self.sample_minutes = {}
        self.statements = {}  # statement text -> (operation, table), see pulse_agent.operations
        self.current = self._new_harvest()

    def _new_harvest(self):
        return Harvest(self.settings, self.apdex_t, self.sample_minutes, self.claims, self.statements)

    def attach(self, wake=None, error_room=None):
        """Point the request-side hot path (``state``) here; ``wake()`` is called when
        the buffer reaches FOLD_AT transactions, ``error_room()`` when a request has an
        error event to keep."""
        state.configure(
            buffer=self.buffer,
            capacity=self.capacity,
            slow=4.0 * self.apdex_t,
            claims=self.claims,
            on_full=self.count_full,
            wake=wake,
            wake_at=FOLD_AT - 1,  # length before the append
            error_room=error_room,
        )

    def set_apdex_t(self, t):
        self.apdex_t = t
        state.set_slow(4.0 * t)

    def count_full(self):
        with self.drop_lock:
            self.dropped += 1

    def take_dropped(self):
        with self.drop_lock:
            n, self.dropped = self.dropped, 0
        return n

    def fold(self):
        """Drain the buffer into the current harvest (harvest thread); never raises."""
        with self.lock:
            self._fold_locked()

    def _fold_locked(self):
        buf = self.buffer
        n = len(buf)
        if not n:
            return
        # Copy then delete the first n: both atomic; appends racing with this land
        # after index n and wait for the next fold.
        batch = buf[:n]
        del buf[:n]
        try:
            self.current.fold(batch, time.time() - time.perf_counter())
        except Exception:
            internal_error("fold")

    def error_room(self):
        h = self.current
        if h.errors_reserved < self.settings.max_errors:
            h.errors_reserved += 1
            return True
        return False

    def swap(self, next_max=None):
        """Fold what is buffered and start a new harvest (with a reservoir of ``next_max``
        events, default ``max_events``); returns the finished one."""
        with self.lock:
            self._fold_locked()
            h = self.current
            self.current = self._new_harvest()
            if next_max is not None:
                self.current.max_events = next_max
            self.claims.clear()
        return h

    def take_events(self, next_max):
        """Fold what is buffered, then Harvest.take_events of the current harvest; None
        when it has no event (its ``events_seen`` then stays for the harvest's payload)."""
        with self.lock:
            self._fold_locked()
            if not self.current.events:
                return None
            return self.current.take_events(next_max)

    def reset_after_fork(self):
        self.lock = threading.Lock()
        self.drop_lock = threading.Lock()
        del self.buffer[:]  # the parent's transactions are the parent's to report
        self.dropped = 0
        self.sample_minutes = {}
        self.claims.clear()
        self.current = self._new_harvest()
