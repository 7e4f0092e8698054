"""Aggregation of finished transactions into one harvest's worth of data.

``record`` runs at the end of every transaction under one short, uncontended lock;
everything costly (sketch encoding, SQL obfuscation, span trees, JSON) happens in
``Harvest.payload_parts`` on the harvest thread.
"""

import random
import threading

from pulse_agent.log import internal_error
from pulse_agent.obfuscate import obfuscate_sql, sql_summary
from pulse_agent.sketch import _INV_LOG_GAMMA, ZERO_THRESHOLD, DDSketch, _ceil, _log
from pulse_agent.transaction import new_span_id, new_trace_id

OTHER_NAME = "Other"
_random = random.random


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
    """Everything recorded between two harvests."""

    __slots__ = (
        "apdex_t", "metrics", "names", "events", "events_seen", "slow", "samples",
        "errors", "dropped_errors", "dropped_traces", "settings", "sample_minutes",
        "sampled_names", "max_events", "last_minute", "last_by_name",
    )

    def __init__(self, settings, apdex_t, sample_minutes):
        self.settings = settings
        self.apdex_t = apdex_t
        self.metrics = {}  # minute -> {name: Metric}
        self.names = set()
        self.events = []
        self.events_seen = 0
        self.slow = []  # transactions over 4 x apdex_t (slowest kept)
        self.samples = []  # a few ordinary transactions per minute
        self.errors = []
        self.dropped_errors = 0
        self.dropped_traces = 0
        self.sample_minutes = sample_minutes  # {minute: names sampled}, shared across harvests
        self.sampled_names = set()  # names not to sample again in this harvest
        self.max_events = settings.max_events
        self.last_minute = None
        self.last_by_name = None

    def record(self, txn):
        # The hottest function of the agent (once per transaction): locals only, the
        # sketch update inlined, the metric of the last name and minute reused.
        d = txn.duration
        end = txn.start + d
        minute = int(end // 60.0) * 60
        name = txn.name
        if minute == self.last_minute:
            by_name = self.last_by_name
        else:
            by_name = self.metrics.get(minute)
            if by_name is None:
                by_name = self.metrics[minute] = {}
            self.last_minute = minute
            self.last_by_name = by_name
        m = by_name.get(name)
        if m is None:
            m = self._new_metric(txn, minute)
            name = txn.name
        status = txn.status
        error = txn.error or (status is not None and status >= 500)
        m.count += 1
        m.sum += d
        if d < m.min:
            m.min = d
        if d > m.max:
            m.max = d
        t = self.apdex_t
        if error:
            m.errors += 1
            m.frustrated += 1
        elif d <= t:
            m.satisfied += 1
        elif d <= 4.0 * t:
            m.tolerating += 1
        else:
            m.frustrated += 1
        db = txn.t_db
        ext = txn.t_ext
        tmpl = txn.t_tmpl
        if db or ext or tmpl:
            m.database += db
            m.external += ext
            m.template += tmpl
            py = d - db - ext - tmpl
            m.python += py if py > 0.0 else 0.0
        else:
            m.python += d
        sk = m.sketch  # DDSketch.add, inlined
        if d > ZERO_THRESHOLD:
            i = _ceil(_log(d) * _INV_LOG_GAMMA)
            bins = sk.bins
            bins[i] = bins.get(i, 0) + 1
        else:
            sk.zero_count += 1
        sk.count += 1

        # traces: slow ones first, then one sample per name and minute, a few per minute
        has_trace = False
        if d > 4.0 * t:
            has_trace = self._keep_slow(txn)
        elif name not in self.sampled_names:
            has_trace = self._keep_sample(txn, minute)

        # events: reservoir sample (Algorithm R) of flat tuples, so the transaction
        # and its spans are freed right away (only traced ones are kept)
        seen = self.events_seen = self.events_seen + 1
        if seen <= self.max_events:
            self.events.append(
                (name, txn.type, end, d, status, error, txn.get_trace_id() if has_trace else txn.trace_id)
            )
        else:
            r = int(_random() * seen)
            if r < self.max_events:
                self.events[r] = (
                    name, txn.type, end, d, status, error, txn.get_trace_id() if has_trace else txn.trace_id
                )

        if txn.error_event is not None:
            self.errors.append(txn.error_event)

    def _new_metric(self, txn, minute):
        name = txn.name
        if name not in self.names:
            if len(self.names) >= self.settings.max_metric_names:
                name = txn.name = OTHER_NAME
            self.names.add(name)
        by_name = self.metrics[minute]
        m = by_name.get(name)
        if m is None:
            m = by_name[name] = Metric(txn.type)
        return m

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
        if not txn.spans:
            return False
        taken = self.sample_minutes.get(minute)
        if taken is None:
            if len(self.sample_minutes) > 4:
                self.sample_minutes.clear()
            taken = self.sample_minutes[minute] = set()
        name = txn.name
        if name in taken:
            self.sampled_names.add(name)  # skip the lookups for this name until next harvest
            return False
        if len(taken) < self.settings.trace_samples_per_minute and len(self.samples) < 20 - self.settings.max_traces:
            taken.add(name)
            self.samples.append(txn)
            return True
        self.sampled_names.add(name)
        return False

    def error_room(self):
        return len(self.errors) < self.settings.max_errors

    def is_empty(self):
        return not self.metrics and not self.errors

    # -- serialization (harvest thread) ------------------------------------------

    def payload_parts(self):
        metrics = [
            metric_dict(name, minute, m)
            for minute, by_name in self.metrics.items()
            for name, m in by_name.items()
        ]
        traced = {t.get_trace_id() for t in self.slow}
        traced.update(t.get_trace_id() for t in self.samples)
        events = []
        for name, type_, end, duration, status, error, trace_id in self.events:
            events.append({
                "name": name,
                "type": type_,
                "end": end,
                "duration": duration,
                "status": status,
                "error": bool(error),
                "trace_id": trace_id or new_trace_id(),
                "has_trace": trace_id in traced,
            })
        traces = [trace_dict(t, self.settings) for t in self.slow + self.samples]
        return metrics, events, self.events_seen, traces, self.errors


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
    # sort by start, longer first on ties, so a parent precedes its children
    order = sorted(txn.spans, key=lambda sp: (sp[2], -sp[3]))
    stack = [(0.0, txn.duration + 1e-9, root_id)]  # (start, end, id)
    for kind, name, offset, duration, attrs, span_id in order[: settings.max_spans - 1]:
        end = offset + duration
        while len(stack) > 1 and not (stack[-1][0] <= offset and end <= stack[-1][1] + 1e-9):
            stack.pop()
        sid = span_id or new_span_id()
        if name is None:
            name = sql_summary(attrs.get("sql", "")) if attrs else kind
        out_attrs = {}
        if attrs:
            for k, v in attrs.items():
                if k == "sql":
                    if record_sql == "off":
                        continue
                    v = obfuscate_sql(v) if record_sql == "obfuscated" else str(v)[:4096]
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
    """Holds the current Harvest; swaps it out for the harvest thread."""

    def __init__(self, settings):
        self.settings = settings
        self.apdex_t = settings.apdex_t
        self.lock = threading.Lock()
        self.sample_minutes = {}
        self.current = Harvest(settings, self.apdex_t, self.sample_minutes)

    def record(self, txn):
        """Called at the end of every transaction (request thread); never raises."""
        try:
            with self.lock:
                self.current.record(txn)
        except Exception:
            internal_error("record")

    def error_room(self):
        return self.current.error_room()

    def swap(self):
        with self.lock:
            h = self.current
            self.current = Harvest(self.settings, self.apdex_t, self.sample_minutes)
        return h

    def reset_after_fork(self):
        self.lock = threading.Lock()
        self.sample_minutes = {}
        self.current = Harvest(self.settings, self.apdex_t, self.sample_minutes)
