"""The ingest stream consumer that runs inside each Celery worker process.

One thread per worker process (started on ``worker_process_init`` under prefork, or
``worker_ready`` under a single-process pool; see apm/apps.py) reads the stream with
XREADGROUP in batches, applies each batch in one Postgres transaction
(apm/rollup/), then XACKs and XDELs it. A read is bounded in entries and in bytes
(INGEST_BATCH_MAX, INGEST_BATCH_MAX_BYTES). Entries of a consumer that died before its
ack stay pending and are claimed by another once idle for INGEST_CLAIM_IDLE_SECONDS; the
ledger makes the second application a no-op. apm/stream_reader.py says how: suspects
(entries whose consumer died or failed holding them) are applied alone.

An entry that fails on its own with a non-transient error, or that has been delivered
more than INGEST_MAX_DELIVERIES times without being applied, is moved to the dead-letter
stream with the reason, and logged: never silently dropped, never blocking the entries
behind it. apm/dead_letters.py lists, shows and replays them.
"""

import gc
import logging
import os
import socket
import threading
import time

import psycopg
import redis
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections, connection

from apm import dead_letters
from apm.rollup import apply_batch
from apm.stream_reader import StreamReader, size
from contract import backlog
from contract.redis_client import client
from contract.stream import GROUP, REASON, dead_key, key, parse

log = logging.getLogger(__name__)

_CLAIM_EVERY = 5.0  # seconds between claim sweeps that found nothing
_FORGET_EVERY = 600.0  # seconds between sweeps of dead consumers
_FORGET_IDLE_MS = 3600 * 1000
_BLOCK_MS = 200
# Django's errors, and psycopg's from the cursor apm/rollup/batch.py uses beside Django's.
_TRANSIENT = (
    OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError, redis.ConnectionError,
    redis.TimeoutError,
)
# Errors an entry causes on its own, every time: it is set aside at once.
_REFUSED = (DatabaseError, psycopg.Error, ValueError, TypeError, KeyError, UnicodeError, OverflowError)
# Test hook: crash between the commit and the ack, to prove redelivery counts once.
_CRASH_AFTER_COMMIT = os.environ.get("PULSE_INGEST_CRASH_AFTER_COMMIT") == "1"

_started = False
_start_lock = threading.Lock()


def ensure_group(r, name=None):
    try:
        r.xgroup_create(name or key(), GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class Consumer:
    def __init__(self, name=None, batch_max=None, linger_ms=None):
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
        self.batch_max = batch_max or settings.INGEST_BATCH_MAX
        self.batch_max_bytes = settings.INGEST_BATCH_MAX_BYTES
        self.batch_min = min(settings.INGEST_BATCH_MIN, self.batch_max)
        self.linger = (settings.INGEST_BATCH_LINGER_MS if linger_ms is None else linger_ms) / 1000
        self.redis = client()
        self.stream = key()
        self.last_claim = 0.0
        self.last_forget = time.monotonic()
        self.applied = 0
        self.lost_read = False  # a step failed on Redis: a read's reply may have been lost
        self.reader = StreamReader(self.redis, self.stream, self.name)
        self.release = backlog.Release(self.redis, self.stream)
        ensure_group(self.redis, self.stream)

    def forget_dead_consumers(self):
        """Remove consumers of exited processes (nothing pending, idle for an hour) from the group."""
        for c in self.redis.xinfo_consumers(self.stream, GROUP):
            name = c["name"].decode() if isinstance(c["name"], bytes) else c["name"]
            if name != self.name and c["pending"] == 0 and c["idle"] > _FORGET_IDLE_MS:
                self.redis.xgroup_delconsumer(self.stream, GROUP, name)

    def claim(self):
        """(deliveries, entries) left behind by consumers that died, hung or failed."""
        now = time.monotonic()
        if now - self.last_claim < _CLAIM_EVERY:
            return 0, []
        idle_ms = int(settings.INGEST_CLAIM_IDLE_SECONDS * 1000)
        deliveries, claimed = self.reader.claim(idle_ms, self.batch_max, self.batch_max_bytes)
        # After a claim, claim again at once: suspects come one at a time.
        self.last_claim = 0.0 if deliveries else now
        return deliveries, claimed

    def read(self, block_ms=_BLOCK_MS):
        """New entries, within the count and byte budgets; waits up to ``block_ms`` for the first."""
        entries = self.reader.take(self.batch_max, self.batch_max_bytes)
        if not entries:
            entries = self.reader.read_one(block_ms)
            if not entries:
                return []
            entries += self.reader.take(self.batch_max - 1, self.batch_max_bytes - size(entries), False)
        if len(entries) < self.batch_min and self.linger:
            # A small batch: give the next payloads a moment to join it.
            time.sleep(self.linger)
            more = self.reader.take(self.batch_max - len(entries), self.batch_max_bytes - size(entries), False)
            entries += more
        return entries

    def step(self, block_ms=_BLOCK_MS):
        """Read and apply one batch; returns the number of entries handled."""
        now = time.monotonic()
        if now - self.last_forget >= _FORGET_EVERY:
            self.last_forget = now
            self.forget_dead_consumers()
        try:
            if self.lost_read:
                # Between batches this consumer holds nothing: what Redis delivered to it once
                # is a reply it never received. Handed back, it is claimed now, as a batch.
                idle_ms = int(settings.INGEST_CLAIM_IDLE_SECONDS * 1000)
                if self.reader.release_lost(self.batch_max, idle_ms):
                    self.last_claim = 0.0
                self.lost_read = False
            deliveries, raw = self.claim()
            if not raw:
                deliveries, raw = 1, self.read(block_ms)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            ensure_group(self.redis, self.stream)  # the stream was deleted (e.g. Redis flushed): start afresh
            self.lost_read = False  # a new group has delivered nothing
            return 0
        if not raw:
            return 0
        entries = []
        for entry_id, fields in raw:
            if deliveries > settings.INGEST_MAX_DELIVERIES:
                self.dead(entry_id, fields, f"delivered {deliveries - 1} times without being applied: each "
                                            "consumer holding it died, hung or failed on it")
                continue
            try:
                entries.append(parse(entry_id, fields))
            except (KeyError, ValueError, AttributeError) as exc:
                self.dead(entry_id, fields, f"malformed stream entry: {exc!r}")
        self.process(entries, deliveries)
        return len(raw)

    def process(self, entries, deliveries=1):
        """Apply entries delivered ``deliveries`` times, ack them, or set aside those that fail."""
        if not entries:
            return
        for attempt in range(4):
            try:
                if not connection.in_atomic_block:
                    close_old_connections()
                self.applied += apply_batch(entries, after_commit=self._after_commit)
                self.ack(entries)
                return
            except _TRANSIENT as exc:
                # Deadlock, lost connection, restart of Postgres or Redis: the same entries again.
                log.warning("ingest batch failed (attempt %d): %r", attempt + 1, exc)
                if not connection.in_atomic_block:
                    connection.close()
                time.sleep(min(0.2 * 2**attempt, 2.0))
            except _REFUSED as exc:
                if not connection.in_atomic_block:
                    connection.close()
                if len(entries) == 1:
                    self.dead(entries[0].entry_id, None, repr(exc), entries[0])
                    return
                log.warning("ingest batch of %d failed (%r); applying one by one", len(entries), exc)
                for q in entries:
                    self.process([q], deliveries)
                return
            except Exception as exc:
                # Unforeseen (a bug, or out of memory): find the entry that causes it, and
                # leave it pending: redelivered, it fails again until set aside.
                if not connection.in_atomic_block:
                    connection.close()
                if len(entries) > 1:
                    log.warning("ingest batch of %d failed (%r); applying one by one", len(entries), exc)
                    for q in entries:
                        self.process([q], deliveries)
                    return
                log.exception("ingest entry %s failed on delivery %d; left pending", entries[0].entry_id, deliveries)
                return
        log.error("ingest batch still failing; handed back for redelivery")
        idle_ms = int(settings.INGEST_CLAIM_IDLE_SECONDS * 1000)
        self.reader.release([q.entry_id for q in entries], deliveries, idle_ms)

    def _after_commit(self):
        if _CRASH_AFTER_COMMIT:
            os._exit(17)

    def ack(self, entries):
        self.release((q.entry_id, q.org_id, q.body) for q in entries)

    def dead(self, entry_id, fields, reason, q=None):
        log.error("ingest entry %s moved to %s: %s", entry_id, dead_key(), reason)
        if q is not None:
            fields, held = q.fields(), (entry_id, q.org_id, q.body)
        else:  # as read: what ingest counted it as, if it has the fields
            fields = fields or {}
            held = (entry_id, fields.get(b"o", b""), fields.get(b"b", b""))
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(dead_key(), {**fields, REASON: reason[:2000]})  # never trimmed: see apm/dead_letters.py
        self.release([held], client=pipe)
        pipe.xlen(dead_key())
        dead_letters.warn_when_over_alarm(pipe.execute()[-1])

    def run(self, stop):
        log.info("ingest consumer %s started", self.name)
        while not stop.is_set():
            try:
                self.step()
            except _TRANSIENT as exc:
                log.warning("ingest consumer: %r; retrying", exc)
                self.lost_read = True
                time.sleep(1.0)
            except Exception:
                log.exception("ingest consumer step failed")
                time.sleep(1.0)


_stop = threading.Event()
_threads = []


def start_consumers():
    """Start INGEST_CONSUMERS consumer threads in this process, once."""
    global _started
    with _start_lock:
        if _started or settings.INGEST_CONSUMERS <= 0:
            return
        _started = True
    # Everything loaded so far (Django, apps, modules) lives as long as the process: moving
    # it out of the collector's generations keeps each GC pass over the busy consumers short.
    gc.freeze()
    for n in range(settings.INGEST_CONSUMERS):
        t = threading.Thread(target=_run_one, name=f"ingest-consumer-{n}", daemon=True)
        t.start()
        _threads.append(t)


def stop_consumers(timeout=10.0):
    """Let the consumers finish their current batch and stop (worker shutdown).

    A batch cut short anyway is safe: uncommitted, it is rolled back; committed but not
    acked, it is taken over by another consumer and dropped by the ledger.
    """
    _stop.set()
    deadline = time.monotonic() + timeout
    for t in _threads:
        t.join(max(0.0, deadline - time.monotonic()))


def _run_one():
    while not _stop.is_set():
        try:
            Consumer().run(_stop)
        except Exception:
            log.exception("ingest consumer crashed; restarting")
            time.sleep(1.0)
