"""OTLP log records → errors of the queued form (contract/queued.py).

A record with the semantic conventions' exception attributes (``exception.type`` or
``exception.message``, which the SDKs' logging bridges set when an exception is logged)
becomes an error with its stack (ingest/otlp/stacks.py) and its trace id; Pulse stores
no other log records, and says so in the answer's ``partial_success`` message.
"""

from contract import queued
from contract.schema import FUTURE_WINDOW, PAST_WINDOW
from ingest.otlp.spans import MAX_ERRORS, Mapped, attributes, count
from ingest.otlp.stacks import frames

_EXCEPTION_KEYS = frozenset({"exception.type", "exception.message", "exception.stacktrace"})
_NO_EVENTS = queued.QueuedEvents([], [], [], [], [], [], [], [])


def map_logs(resource_logs, app_id, apdex_t, batch, now):
    """Map the log records of ``resource_logs`` (all of one app) to a Mapped."""
    lo, hi = int((now - PAST_WINDOW) * 1e9), int((now + FUTURE_WINDOW) * 1e9)
    errors, rejected = [], {}
    items = ignored = 0
    for rl in resource_logs:
        for sl in rl.scope_logs:
            for record in sl.log_records:
                items += 1
                a = attributes(record.attributes, _EXCEPTION_KEYS)
                if not (a.get("exception.type") or a.get("exception.message")):
                    ignored += 1
                    continue
                when = record.time_unix_nano or record.observed_time_unix_nano
                if not lo <= when <= hi:
                    count(rejected, "time more than 24 h in the past or more than 10 min in the future")
                    continue
                if len(errors) >= MAX_ERRORS:
                    count(rejected, f"more than {MAX_ERRORS} exceptions in one request")
                    continue
                trace_id = record.trace_id
                errors.append(queued.QueuedError(
                    str(a.get("exception.type") or "Exception")[:255],
                    str(a.get("exception.message") or "")[:2048],
                    frames(str(a.get("exception.stacktrace") or "")),
                    None,
                    when * 1e-9,
                    trace_id.hex() if len(trace_id) == 16 else None,
                ))
    payload = queued.QueuedPayload(batch, now, [], _NO_EVENTS, [], errors, None) if errors else None
    return Mapped(payload, rejected, items, ignored)
