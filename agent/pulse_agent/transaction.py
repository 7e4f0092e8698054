"""The per-request object and the hot path that hooks use.

Design for overhead: one ``Transaction`` (with ``__slots__``) per request, the
current one held in ``state``; spans are flat tuples of raw ``perf_counter``
readings; exclusive time per segment is kept with a single running accumulator
(``acc``) that each hook saves and restores on the Python stack, so nesting (a query
inside a template) is counted once, in the innermost segment. A finished transaction
becomes one flat tuple appended to a bounded list (``state.hand_off``); the harvest
thread folds those into metrics. Span trees are built only for the few transactions
kept as traces.
"""

import random
import time
import traceback

from pulse_agent.log import internal_error
from pulse_agent.state import error_room, hand_off, reset_current, set_current
from pulse_agent.tracecontext import (
    NEW_TRACE_FLAGS,
    forwardable_tracestate,
    parse_traceparent,
    traceparent_header,
    tracestate_header,
)

perf_counter = time.perf_counter
_time = time.time
_getrandbits = random.getrandbits

DATABASE = "database"
EXTERNAL = "external"
TEMPLATE = "template"
FUNCTION = "function"
PYTHON = "python"

# Name priorities: a later, more specific source wins (URL < framework route < user).
PRIORITY_URL = 1
PRIORITY_FRAMEWORK = 2
PRIORITY_USER = 3

MAX_SPANS = 500
MAX_STACK = 100
MAX_MESSAGE = 2048


def new_trace_id():
    return "%032x" % (_getrandbits(128) or 1)


def new_span_id():
    return "%016x" % (_getrandbits(64) or 1)


class Transaction:
    __slots__ = (
        "name",
        "priority",
        "type",
        "t0",
        "start",
        "duration",
        "status",
        "error",
        "error_event",
        "trace_id",
        "parent_span_id",
        "trace_flags",
        "tracestate",
        "tracestate_in",
        "spans",
        "spans_dropped",
        "acc",
        "t_db",
        "t_ext",
        "t_tmpl",
        "token",
        "ignore",
        "in_leaf",
    )

    def __init__(self, name, type_="web", priority=PRIORITY_URL):
        # ``start`` (wall clock) is derived from ``t0`` when needed, on the harvest thread.
        self.name = name
        self.priority = priority
        self.type = type_
        self.status = None
        self.error = False
        self.error_event = None
        # The caller's traceparent (ids made here lazily and flags for a new trace
        # until one is accepted), its tracestate as received, and the members of it
        # that go out after our own entry, ready joined. The tracestate is validated
        # at the first outgoing call: most transactions make none.
        self.trace_id = None
        self.parent_span_id = None
        self.trace_flags = NEW_TRACE_FLAGS
        self.tracestate_in = None
        self.tracestate = None
        self.spans = []
        self.spans_dropped = 0
        self.acc = 0.0
        self.t_db = 0.0
        self.t_ext = 0.0
        self.t_tmpl = 0.0
        self.token = None
        self.ignore = False
        self.in_leaf = False
        self.duration = 0.0
        self.t0 = perf_counter()

    # -- naming and identity -------------------------------------------------

    def set_name(self, name, priority=PRIORITY_FRAMEWORK):
        if priority >= self.priority and name:
            self.name = name[:255]
            self.priority = priority

    def get_trace_id(self):
        tid = self.trace_id
        if tid is None:
            tid = self.trace_id = new_trace_id()
        return tid

    def accept_traceparent(self, traceparent, tracestate=None):
        """Continue the caller's trace (W3C ``traceparent``, combined ``tracestate``).

        An invalid ``traceparent`` leaves the transaction on a trace of its own, and its
        ``tracestate`` is not read; an invalid ``tracestate`` alone is dropped."""
        parsed = parse_traceparent(traceparent)
        if parsed is None:
            return
        self.trace_id, self.parent_span_id, self.trace_flags = parsed
        self.tracestate_in = tracestate or None

    def outgoing_headers(self, span_id):
        """Headers to inject into an outgoing call made under span ``span_id``."""
        if self.tracestate_in is not None:
            self.tracestate = forwardable_tracestate(self.tracestate_in)
            self.tracestate_in = None
        return {
            "traceparent": traceparent_header(self.get_trace_id(), span_id, self.trace_flags),
            "tracestate": tracestate_header(span_id, self.tracestate),
        }

    # -- hot path for hooks --------------------------------------------------
    #
    # A span is ``(kind, name, t0, t1, attrs, extra)`` with raw perf_counter readings.
    # ``attrs`` is None, a dict, or (database spans) the SQL text with ``extra`` naming
    # the database system; for external spans ``extra`` is the span id sent downstream.

    def enter(self):
        """Start timing a segment; returns the saved accumulator for ``leave``."""
        saved = self.acc
        self.acc = 0.0
        return saved

    def leave(self, kind, name, t0, saved, attrs=None, extra=None):
        try:
            t1 = perf_counter()
            d = t1 - t0
            excl = d - self.acc
            if excl < 0.0:
                excl = 0.0
            self.acc = saved + d
            if kind is DATABASE:
                self.t_db += excl
            elif kind is EXTERNAL:
                self.t_ext += excl
            elif kind is TEMPLATE:
                self.t_tmpl += excl
            spans = self.spans
            if len(spans) < MAX_SPANS:
                spans.append((kind, name, t0, t1, attrs, extra))
            else:
                self.spans_dropped += 1
        except Exception:
            internal_error("leave")

    def add_function_span(self, name, t0):
        """A span that only nests (middleware, view): its own time stays 'python'."""
        try:
            spans = self.spans
            if len(spans) < MAX_SPANS:
                spans.append((FUNCTION, name, t0, perf_counter(), None, None))
            else:
                self.spans_dropped += 1
        except Exception:
            internal_error("function_span")

    # -- errors ---------------------------------------------------------------

    def record_exception(self, exc, tb=None):
        """Note an exception on this transaction; the caller re-raises it unchanged."""
        try:
            self.error = True
            if self.error_event is not None:
                return
            if not error_room():
                return
            self.error_event = error_event(exc, tb, self)
        except Exception:
            internal_error("record_exception")


def error_event(exc, tb, txn):
    cls = type(exc)
    mod = getattr(cls, "__module__", None) or ""
    qual = getattr(cls, "__qualname__", cls.__name__)
    name = qual if mod in ("builtins", "__main__", "") else "%s.%s" % (mod, qual)
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable %s>" % cls.__name__
    stack = []
    tb = tb if tb is not None else exc.__traceback__
    if tb is not None:
        frames = traceback.extract_tb(tb, limit=-MAX_STACK)
        for fs in frames:
            code = fs.line
            stack.append(
                {
                    "file": fs.filename[-1024:],
                    "line": fs.lineno or 0,
                    "function": (fs.name or "?")[:255],
                    "code": code[:512] if code else None,
                }
            )
    return {
        "class": name[:255],
        "message": message[:MAX_MESSAGE],
        "stack": stack,
        "transaction": txn.name if txn is not None else None,
        "time": _time(),
        "trace_id": txn.get_trace_id() if txn is not None else None,
    }


def start_transaction(name, type_="web", priority=PRIORITY_URL):
    txn = Transaction(name, type_, priority)
    txn.token = set_current(txn)
    return txn


def end_transaction(txn, exc=None):
    """Finish ``txn``: compute duration, detach from the context, hand it to the buffer."""
    d = txn.duration = perf_counter() - txn.t0
    token = txn.token
    if token is not None:
        txn.token = None
        try:
            reset_current(token)
        except ValueError:  # ended in another context (e.g. a different task)
            set_current(None)
    if exc is not None:
        txn.record_exception(exc)
    if not txn.ignore:
        hand_off(txn, d)
