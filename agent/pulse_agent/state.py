"""What the request-side hot path shares with the running agent.

Hooks run inside the host app's requests: they read the current transaction here and
hand finished ones to the buffer configured here (``hand_off``). The agent sets this
up with ``configure(...)`` when it starts and again in a forked child, and clears it
with ``reset()`` when it stops; until then finished transactions are dropped on the
spot and no error events are taken.

A leaf: this module imports nothing else of the agent, so every module can use it.
``hand_off`` runs once per request, so the configuration is kept as this module's own
globals, which it reads without attribute lookups.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable

_current = ContextVar("pulse_transaction", default=None)
# The transaction of the running request or task, or None; ``set_current`` returns
# the token ``reset_current`` takes to restore the previous one.
current = _current.get
set_current = _current.set
reset_current = _current.reset


def _ignore() -> None:
    pass


def _no_room() -> bool:
    return False


# The list finished transactions are appended to and its bound; the length before the
# append at which ``_wake`` wakes the harvest thread (-1: never); the duration above
# which a transaction is a slow-trace candidate; the names that already have a sample
# trace candidate in this harvest.
_buffer: list[tuple] | None = None
_capacity = 0
_wake_at = -1
_wake = _ignore
_on_full = _ignore
_slow = float("inf")
_claims: set[str] = set()
_error_room = _no_room
_framework: str | None = None


def configure(
    *,
    buffer: list[tuple] | None,
    capacity: int,
    slow: float,
    claims: set[str],
    on_full: Callable[[], None],
    wake: Callable[[], None] | None = None,
    wake_at: int = -1,
    error_room: Callable[[], bool] | None = None,
) -> None:
    """Hand finished transactions to ``buffer`` (at most ``capacity``; ``on_full()`` counts
    each one dropped beyond). ``wake()`` is called by the request whose append makes the
    buffer ``wake_at + 1`` long; ``error_room()`` says whether one more error event fits."""
    global _buffer, _capacity, _wake_at, _wake, _on_full, _slow, _claims, _error_room
    _capacity = capacity
    _on_full = on_full
    _wake = wake if wake is not None else _ignore
    _wake_at = wake_at if wake is not None else -1
    _error_room = error_room if error_room is not None else _no_room
    _slow = slow
    _claims = claims
    _buffer = buffer  # last: a request that sees the buffer sees the rest too


def set_slow(seconds: float) -> None:
    """Transactions longer than ``seconds`` are kept as slow-trace candidates."""
    global _slow
    _slow = seconds


def reset() -> None:
    """Stop handing transactions off (the agent stopped, or a test is done with it)."""
    configure(buffer=None, capacity=0, slow=float("inf"), claims=set(), on_full=_ignore)


def hand_off(txn: Any, d: float) -> None:
    """Append a finished transaction to the buffer as one flat tuple (no lock:
    ``list.append`` is atomic); ``d`` is its duration.

    The span list of a transaction with database or external time rides along (a
    reference, no copy) for the databases and external
    services the harvest thread aggregates (``pulse_agent.operations``); the
    transaction object itself rides along only when it may become a trace (slow,
    or the first of its name since the harvest thread last looked) or carries an error
    event; everything else is freed right away. The harvest thread folds the tuples
    (``aggregator.Harvest.fold``). Layout: see ``aggregator.RECORD``.
    """
    buf = _buffer
    if buf is None:
        return
    if d > _slow or txn.error_event is not None:
        keep = txn
    else:
        name = txn.name
        if name in _claims:
            keep = None
        else:
            _claims.add(name)
            keep = txn
    t_db = txn.t_db
    t_ext = txn.t_ext
    n = len(buf)
    if n < _capacity:
        # Spans kept past the request make the next ones allocate fresh memory (measurably, on
        # views with many middleware spans): only those with database or external time ride along.
        buf.append((txn.name, txn.type, txn.t0, d, txn.status, txn.error,
                    t_db, t_ext, txn.t_tmpl, txn.trace_id, keep, txn.spans if t_db or t_ext else None))
        if n == _wake_at:
            _wake()
    else:
        _on_full()


def error_room() -> bool:
    """True when one more error event fits in this harvest (the agent counts the rest)."""
    return _error_room()


def set_framework(name: str, version: str | None) -> None:
    """Note the web or task framework the app runs on; the first one noted wins."""
    global _framework
    if _framework is None:
        _framework = ("%s %s" % (name, version or "")).strip()[:128]


def framework() -> str | None:
    return _framework
