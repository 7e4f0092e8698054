"""Live broadcasting: what the ingest workers just committed, per app, to the browsers watching it.

The ingest worker hands ``publish_applied`` what each committed Postgres transaction
added, never before the commit, so viewers only see data the query layer also returns;
it shapes that into one ``publish_batch`` call per watched app. That call merges the
batch into a small per-process buffer and returns: it never raises into the worker and
never waits on Redis or Postgres (live views are best effort; the query layer is the truth).

A background thread per worker process (started lazily, so it works under Celery's
prefork) wakes when there is something, coalesces for ``LIVE_FLUSH_INTERVAL`` seconds,
then per app: reads the app's minute rows for the minutes the batches touched (totals,
not the batches' increments, so a message lost on the way to a browser is made good by
the next one), takes scatter events from the app's token bucket, and sends one message to
the app's Channels group.

Bounds, so a busy app cannot flood browsers and nothing grows without limit:

- scatter events per app go through a token bucket kept in Redis and shared by every
  worker process: ``LIVE_EVENTS_PER_SECOND`` on average, bursts of ``LIVE_EVENTS_BURST``;
  the rest are counted and reported as ``dropped``;
- the per-process buffer keeps at most ``LIVE_EVENTS_BURST`` events per app (a uniform
  reservoir sample) and a bounded set of touched minutes and transactions;
- the channel layer's per-channel capacity and expiry bound what Redis holds for a slow
  socket, and each socket has its own small send queue (frontend/consumers.py).

The group message is ``{"type": "live.update", "text": <json>}``, serialised once so each
of many sockets only forwards a string. The JSON (durations in milliseconds, times in
unix seconds, stats fields as in docs/query-api.md)::

    {"type": "update", "app": "<uuid>", "server_time": 1764130000.1,
     "points": {"web": [{"t": 1764129960, "count": .., "rpm": .., "avg_ms": .., "p95_ms": .., ...}],
                "background": [...]},
     "transactions": [17, 18],   # ids whose minute rows changed
     "events": [[end, duration_ms, error, name, trace_id_or_null, status, transaction_id], ...],
     "dropped": 12}              # events of this flush not sent (token bucket, reservoir)
"""

import asyncio
import logging
import os
import random
import threading
import time
import uuid

import redis
from django.conf import settings

from apm import queries
from apm.json_output import dumps
from contract import live_watch
from contract.redis_client import client

log = logging.getLogger(__name__)

_MAX_MINUTES = 10  # distinct minutes remembered per app between two flushes (agents send 1-2)
_MAX_TRANSACTIONS = 500  # touched transaction ids reported per message
_SEND_TIMEOUT = 2.0  # seconds for one app's bucket + group_send: stale live data is worthless
_LOG_EVERY = 60.0  # seconds between two error lines from the publisher

_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 5)
return granted
"""


def group_name(app_id):
    """The Channels group of one app's viewers."""
    return f"live.app.{uuid.UUID(str(app_id)).hex}"


def events_per_second():
    return settings.LIVE_EVENTS_PER_SECOND


# --- Who is watching ------------------------------------------------------------------
# Most apps have nobody on their live pages at a given moment. Each open live socket
# keeps a mark in Redis (contract/live_watch.py), and workers publish only for marked apps: no minute rows read, no token taken, nothing
# sent for the others. A worker asks Redis once per batch for an unwatched app (so a new
# viewer gets the very next batch) and at most once a second for a watched one.

WATCH_SECONDS = live_watch.WATCH_SECONDS
_WATCH_RECHECK = 1.0
_watch_cache = {}  # app key (str UUID) -> monotonic time Redis last said it was watched


def mark_watched(app_id):
    """Say that a live socket is open on this app (for WATCH_SECONDS)."""
    live_watch.mark(app_id)
    _watch_cache.pop(str(uuid.UUID(str(app_id))), None)


def is_watched(app_id):
    """Whether any live socket is open on this app (a "yes" may be a second old).

    Fails open: when Redis cannot tell, publish as if someone watched."""
    key = str(app_id)
    now = time.monotonic()
    seen = _watch_cache.get(key)
    if seen is not None and now - seen < _WATCH_RECHECK:
        return True
    try:
        watched = bool(client(settings.CACHE_REDIS_URL).exists(live_watch.key(key)))
    except redis.RedisError:
        return True
    if watched:
        if len(_watch_cache) > 10_000:
            _watch_cache.clear()
        _watch_cache[key] = now
    return watched


def publish_batch(org_id, app_id, minute_aggregates, events_sample):
    """Publish what one committed batch added for one app, if anyone watches it live.

    ``org_id``: int. ``app_id``: str (UUID).

    ``minute_aggregates``: list of dicts, the increments this batch applied, one per
    (transaction, minute) plus one per (type, minute) for the whole app
    (``transaction_id`` None)::

        {"minute": 1764129960, "txn_type": "web", "transaction_id": 17 or None,
         "name": "shop.views.checkout" or None, "count": 12, "errors": 1,
         "sum": 1.234, "min": 0.010, "max": 0.400,        # seconds
         "apdex_s": 10, "apdex_t": 1, "apdex_f": 1}

    Only ``minute`` and ``transaction_id`` are used: the totals are read back from the
    minute rows when the buffer is flushed.

    ``events_sample``: list of at most ~500 dicts, in the shape of the events endpoint
    of docs/query-api.md::

        {"t": 1764129990.12, "transaction_id": 17, "name": "...", "type": "web",
         "duration_ms": 84.0, "status": 200, "error": False,
         "trace_id": "32 hex", "has_trace": False}
    """
    try:
        app_key = str(uuid.UUID(str(app_id)))
        if not is_watched(app_key):
            return
        minutes, transactions = set(), set()
        for item in minute_aggregates or ():
            minutes.add(int(item["minute"]))
            if item.get("transaction_id") is not None:
                transactions.add(int(item["transaction_id"]))
        events = [row for row in map(_event_row, events_sample or ()) if row is not None]
        pub = _publisher() if minutes or events else None
        if pub is not None:
            pub.submit(int(org_id), app_key, minutes, transactions, events)
    except Exception:
        _log_error("live publish failed; live viewers miss this batch")


def publish_applied(app_batches, txn_ids):
    """``publish_batch`` for each app of one committed batch that someone watches.

    ``app_batches``: what the batch added, one apm.rollup AppBatch per app (its minute
    rows' sums, transaction names and sampled event columns); ``txn_ids``: (org, app) ->
    {(type, name): transaction id}.
    """
    for ab in app_batches:
        if not is_watched(ab.app_id):
            continue  # nobody on its live pages: spare building the message
        aggregates = []
        for (tid, minute), agg in ab.txn_rows.items():
            typ, name = ab.txn_names[tid]
            aggregates.append({"minute": minute, "txn_type": typ, "transaction_id": tid, "name": name, **_sums(agg)})
        for (typ, minute), agg in ab.app_rows.items():
            aggregates.append({"minute": minute, "txn_type": typ, "transaction_id": None, "name": None, **_sums(agg)})
        try:
            events = _events(ab.event_columns, txn_ids[(ab.org_id, ab.app_id)])
            publish_batch(ab.org_id, ab.app_id, aggregates, events)
        except Exception:  # live views are best effort; the data is committed
            log.exception("live publish failed")


def _sums(agg):
    """An apm.rollup Agg (one minute row's sums in a batch) as ``publish_batch`` takes it."""
    return {
        "count": agg.count,
        "errors": agg.errors,
        "sum": agg.sum,
        "min": agg.min,
        "max": agg.max,
        "apdex_s": agg.s,
        "apdex_t": agg.t,
        "apdex_f": agg.f,
    }


def _events(event_columns, ids, limit=500):
    """Up to ``limit`` events of ``event_columns`` (contract.queued.QueuedEvents) as
    ``publish_batch`` takes them; ``ids``: (type, name) -> transaction id."""
    out = []
    for ev in event_columns:
        for i in range(min(len(ev), limit - len(out))):
            key = (ev.types[i], ev.names[i])
            out.append(
                {
                    "t": ev.ends[i],
                    "transaction_id": ids[key],
                    "name": key[1],
                    "type": key[0],
                    "duration_ms": ev.durations[i] * 1000.0,
                    "status": ev.statuses[i],
                    "error": ev.errors[i],
                    "trace_id": ev.trace_ids[i],
                    "has_trace": ev.has_trace[i],
                }
            )
    return out


def shutdown(timeout=5.0):
    """Send what this process has pending, then stop its publisher thread and close its
    connections; later publishes in this process are dropped.

    For the end of a process or of a test session (before its database is dropped, which
    the thread would otherwise still try to read). Returns False if the thread is still
    busy after ``timeout`` seconds.
    """
    global _current, _stopped_pid
    with _current_lock:
        _stopped_pid = os.getpid()
        pub, _current = _current, None
    if pub is None or pub.pid != os.getpid():
        return True
    return pub.stop(timeout)


def flush(timeout=5.0):
    """Wait until everything submitted in this process has been sent (tests, benchmarks)."""
    pub = _current
    if pub is None or pub.pid != os.getpid():
        return True
    return pub.wait_idle(timeout)


def _event_row(item):
    try:
        trace_id = item.get("trace_id") if item.get("has_trace") else None
        status = item.get("status")
        txn = item.get("transaction_id")
        return [
            round(float(item["t"]), 3),
            round(float(item["duration_ms"]), 3),
            1 if item.get("error") else 0,
            str(item.get("name") or ""),
            str(trace_id) if trace_id else None,
            int(status) if status is not None else None,
            int(txn) if txn is not None else None,
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


# --- The per-process publisher -------------------------------------------------------------


class _Pending:
    __slots__ = ("org_id", "minutes", "transactions", "events", "seen")

    def __init__(self, org_id):
        self.org_id = org_id
        self.minutes = set()
        self.transactions = set()
        self.events = []
        self.seen = 0  # events offered since the last flush

    def add(self, minutes, transactions, events, cap):
        self.minutes |= minutes
        if len(self.minutes) > _MAX_MINUTES:
            self.minutes = set(sorted(self.minutes)[-_MAX_MINUTES:])
        if len(self.transactions) < _MAX_TRANSACTIONS:
            self.transactions |= transactions
        for event in events:
            # A reservoir keeps a uniform sample whatever the arrival rate, in bounded memory.
            self.seen += 1
            if len(self.events) < cap:
                self.events.append(event)
            else:
                slot = random.randrange(self.seen)
                if slot < cap:
                    self.events[slot] = event


class _Publisher:
    def __init__(self):
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.wake = threading.Event()
        self.pending = {}
        self.busy = False
        self.stopping = False
        self.redis = None
        self.thread = threading.Thread(target=self._run, name="pulse-live-publisher", daemon=True)
        self.thread.start()

    def submit(self, org_id, app_id, minutes, transactions, events):
        with self.lock:
            pending = self.pending.get(app_id)
            if pending is None:
                pending = self.pending[app_id] = _Pending(org_id)
            pending.add(minutes, transactions, events, settings.LIVE_EVENTS_BURST)
        self.wake.set()

    def wait_idle(self, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.pending or self.busy or self.wake.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.idle.wait(left)
        return True

    def stop(self, timeout):
        with self.lock:
            self.stopping = True
        self.wake.set()
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _run(self):
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        stopping = False
        while not stopping:
            self.wake.wait()
            if not self.stopping:
                time.sleep(settings.LIVE_FLUSH_INTERVAL)  # let the next few commits join this message
            with self.lock:
                self.wake.clear()
                batch, self.pending = self.pending, {}
                self.busy = True
                stopping = self.stopping
            try:
                if batch:
                    messages = self._build(batch)
                    loop.run_until_complete(self._send_all(messages))
            except Exception:
                _log_error("live publisher flush failed")
            finally:
                with self.lock:
                    self.busy = False
                    self.idle.notify_all()
        self._close(loop)

    def _close(self, loop):
        from django.db import connections

        try:
            connections.close_all()  # this thread's connections only (they are per thread)
            if self.redis is not None:
                loop.run_until_complete(self.redis.aclose())
        except Exception:
            _log_error("live publisher: closing its connections failed")
        finally:
            loop.close()

    def _build(self, batch):
        from django.db import close_old_connections, connections

        close_old_connections()
        messages = []
        try:
            for app_id, pending in batch.items():
                points = {"web": [], "background": []}
                if pending.minutes:
                    try:
                        points = queries.minute_points(pending.org_id, app_id, sorted(pending.minutes))
                    except Exception:
                        _log_error("live: reading minute rows failed; sending events only")
                messages.append((app_id, pending, points))
        finally:
            if not self.wake.is_set():
                # Idle: give the connection back rather than hold one per worker process.
                connections.close_all()
        return messages

    async def _send_all(self, messages):
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        for app_id, pending, points in messages:
            try:
                await asyncio.wait_for(self._send(layer, app_id, pending, points), _SEND_TIMEOUT)
            except Exception:
                _log_error("live publish to an app's viewers failed")

    async def _take_tokens(self, app_id, want):
        if want == 0:
            return 0
        if self.redis is None:
            from redis import asyncio as aioredis

            self.redis = aioredis.from_url(settings.CACHE_REDIS_URL)
            self.bucket = self.redis.register_script(_BUCKET_LUA)
        key = f"pulse:live:bucket:{uuid.UUID(app_id).hex}"
        args = [settings.LIVE_EVENTS_PER_SECOND, settings.LIVE_EVENTS_BURST, want]
        return int(await self.bucket(keys=[key], args=args))

    async def _send(self, layer, app_id, pending, points):
        events = pending.events
        granted = await self._take_tokens(app_id, len(events))
        if granted < len(events):
            events = random.sample(events, granted)
        events.sort(key=lambda e: e[0])
        message = {
            "type": "update",
            "app": app_id,
            "server_time": round(time.time(), 3),
            "points": points,
            "transactions": sorted(pending.transactions),
            "events": events,
            "dropped": pending.seen - len(events),
        }
        text = dumps(message)  # a NaN in a stored row becomes null, not a message lost
        await layer.group_send(group_name(app_id), {"type": "live.update", "text": text})


_current = None
_current_lock = threading.Lock()
_stopped_pid = None  # the process whose publisher was shut down (a forked child starts afresh)


def _publisher():
    """This process's publisher, started on first use; None once it was shut down."""
    global _current
    pub = _current
    if pub is None or pub.pid != os.getpid():
        with _current_lock:
            if _stopped_pid == os.getpid():
                return None
            pub = _current
            if pub is None or pub.pid != os.getpid():
                pub = _current = _Publisher()
    return pub


_last_log = [0.0]


def _log_error(message):
    # At most a line a minute: a Redis outage must not flood the worker's log.
    now = time.monotonic()
    if now - _last_log[0] >= _LOG_EVERY:
        _last_log[0] = now
        log.warning(message, exc_info=True)
