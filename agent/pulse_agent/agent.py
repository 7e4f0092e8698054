"""The agent singleton: settings, aggregation, the harvest thread, fork and exit handling."""

import atexit
import collections
import gzip
import json
import logging
import math
import os
import platform
import random
import sys
import threading
import time
import uuid

from pulse_agent import __version__, config, importhook, log, state, transport
from pulse_agent.aggregator import Aggregator
from pulse_agent.log import internal_error, log_once, logger
from pulse_agent.runtime import RuntimeSampler

INSTANCE_EVERY = 30.0  # seconds between instance-only payloads when idle
MAX_SENDS_PER_CYCLE = 50
MAX_RETRY_AFTER = 300.0
MAX_BACKOFF = 60.0
# Live mode: while the server's 202 replies say someone has the app's live page open,
# the sampled events leave every LIVE_INTERVAL seconds in events-only payloads of their
# own (metrics, traces and errors keep the harvest interval). It lapses on the first
# reply without the flag, or LIVE_HOLD_HARVESTS harvest intervals after the last one
# with it (replies lost, server away).
LIVE_INTERVAL = 0.5
LIVE_HOLD_HARVESTS = 3

_agent = None
_init_lock = threading.Lock()


class Pending:
    __slots__ = ("payload", "body")

    def __init__(self, payload):
        self.payload = payload
        self.body = gzip.compress(
            json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8"), 5
        )


class Agent:
    def __init__(self, settings):
        self.settings = settings
        self.aggregator = Aggregator(settings)
        self.runtime = RuntimeSampler()
        self._reset_process_state()

    def _reset_process_state(self):
        self.pid = os.getpid()
        self.started_at = time.time()
        self.pending = collections.deque()
        self.pending_bytes = 0
        self.pending_lock = threading.Lock()  # harvest thread enqueues, sender pops
        self.dropped = dict.fromkeys(("events", "traces", "errors", "metrics", "payloads"), 0)
        self.dropped_lock = threading.Lock()
        self.next_send_at = 0.0
        self.failures = 0
        self.last_sent = 0.0
        self.live_until = 0.0  # monotonic; live mode while in the future
        self.last_harvest = time.time()
        self.cpu_mark = _cpu_seconds()
        self.stop_event = threading.Event()
        self.send_wake = threading.Event()
        # Held, except that releasing it wakes the harvest thread (a bare lock: waking
        # on an Event costs ~3x the CPU on the machines we measured).
        self.fold_wake = threading.Lock()
        self.fold_wake.acquire()
        self.thread = None
        self.sender = None
        self.send_lock = threading.Lock()  # also guards the connection
        # A new object in a forked child: the parent's socket is never used there.
        self.connection = transport.Connection()

    # -- request side ----------------------------------------------------------

    def attach(self):
        """Point the request-side hot path (``state``) at this agent."""
        self.aggregator.attach(self.wake_harvest, self.error_room)

    def error_room(self):
        if self.aggregator.error_room():
            return True
        self.count_dropped("errors", 1)
        return False

    def count_dropped(self, kind, n):
        with self.dropped_lock:
            self.dropped[kind] += n

    # -- harvest and sender threads -----------------------------------------------
    #
    # The harvest thread folds the request threads' buffer when it fills up (see
    # aggregator.FOLD_AT) and at every harvest, when it also builds a payload; the
    # sender thread posts payloads, so a slow or unreachable server never delays
    # folding (and never fills the buffer).

    def wake_harvest(self):
        """Request thread, when the buffer reaches FOLD_AT; never raises."""
        try:
            self.fold_wake.release()
        except RuntimeError:  # already released by another thread
            pass

    def start(self):
        t = threading.Thread(target=self._run, name="pulse-agent-harvest", daemon=True)
        self.thread = t
        t.start()
        s = threading.Thread(target=self._send_loop, name="pulse-agent-send", daemon=True)
        self.sender = s
        s.start()

    def _run(self):
        interval = self.settings.harvest_interval
        stop = self.stop_event
        wake = self.fold_wake
        fold = self.aggregator.fold
        next_harvest = time.monotonic() + interval
        next_live = 0.0
        while True:
            due = next_harvest
            if self.live_until > time.monotonic():
                due = min(due, next_live)
            wake.acquire(True, max(0.0, due - time.monotonic()))
            if stop.is_set():
                return
            try:
                fold()
                now = time.monotonic()
                if now >= next_harvest:
                    next_harvest = max(next_harvest + interval, now)
                    next_live = now + LIVE_INTERVAL
                    self.harvest_once()
                elif now >= next_live and self.live_until > now:
                    next_live = now + LIVE_INTERVAL  # so never more than 1 / LIVE_INTERVAL posts a second
                    self.send_live_events()
            except Exception:
                internal_error("harvest")

    def _send_loop(self):
        stop = self.stop_event
        wake = self.send_wake
        while True:
            wake.wait(self.settings.harvest_interval)
            wake.clear()
            if stop.is_set():
                return
            try:
                self.send_pending()
            except Exception:
                internal_error("send")

    def harvest_once(self):
        payload = self.build_payload()
        if payload is not None:
            self.enqueue(Pending(payload))
            self.send_wake.set()

    def send_live_events(self):
        """Live mode: the events sampled since the last payload, in an events-only payload
        with a batch id of its own, so each event and each metric still counts once."""
        taken = self.aggregator.take_events(self._live_max_events())
        if taken is None:
            return
        events, events_seen = taken
        payload = self._payload(time.time(), self.aggregator.apdex_t, [], events, events_seen, [], [], None)
        self.enqueue(Pending(payload))
        self.send_wake.set()

    def is_live(self):
        return self.live_until > time.monotonic()

    def _live_max_events(self):
        """The reservoir of one live period: the harvest's share, so a watched app sends
        about as many events per minute as an unwatched one."""
        s = self.settings
        if not self.is_live():
            return s.max_events
        return max(1, math.ceil(s.max_events * LIVE_INTERVAL / s.harvest_interval))

    def _set_live(self, live):
        s = self.settings
        if not (live and s.live and s.max_events > 0 and s.harvest_interval > LIVE_INTERVAL):
            self.live_until = 0.0
            return
        was_live = self.is_live()
        self.live_until = time.monotonic() + LIVE_HOLD_HARVESTS * s.harvest_interval
        if not was_live:
            self.wake_harvest()  # start the half-second rhythm now, not at the next harvest

    def build_payload(self, force=False):
        h = self.aggregator.swap(self._live_max_events())
        now = time.time()
        period = max(now - self.last_harvest, 0.001)
        self.last_harvest = now
        full = self.aggregator.take_dropped()
        idle = h.is_empty() and not full
        if idle and not force and now - self.last_sent < INSTANCE_EVERY:
            # The next sample covers the next period only, like its ``period`` says.
            self.cpu_mark = _cpu_seconds()
            self.runtime.gc.mark()
            return None
        metrics, events, events_seen, traces, errors = h.payload_parts()
        operations = h.operations.payload()
        with self.dropped_lock:
            # transactions dropped unfolded (buffer full) count as lost metrics
            self.dropped["metrics"] += full
            d = dict(self.dropped)
            d["traces"] += h.dropped_traces
            self.dropped["traces"] += h.dropped_traces
        self.last_sent = now
        return self._payload(
            now, h.apdex_t, metrics, events, events_seen, traces, errors[:100], self.instance(now, period, d), operations
        )

    def _payload(self, now, apdex_t, metrics, events, events_seen, traces, errors, instance, operations=()):
        return {
            "v": 1,
            "batch_id": uuid.uuid4().hex,
            "app": self.settings.app_name,
            "sent_at": now,
            "apdex_t": apdex_t,
            "metrics": metrics,
            "events": events,
            "events_seen": events_seen,
            "traces": traces,
            "errors": errors,
            "instance": instance,
        } | ({"operations": operations} if operations else {})

    def instance(self, now, period, dropped):
        cpu = _cpu_seconds()
        cpu_percent = max(0.0, (cpu - self.cpu_mark) / period * 100.0)
        self.cpu_mark = cpu
        sample = {
            "host": self.settings.host,
            "pid": os.getpid(),
            "time": now,
            "cpu_percent": min(cpu_percent, 100.0 * (os.cpu_count() or 1)),
            "memory_bytes": _rss_bytes(),
            "started_at": self.started_at,
            "agent_version": __version__,
            "language": "python",
            "runtime_version": platform.python_version(),
            "framework": state.framework(),
            "period": round(period, 3),
            "dropped": dropped,
        }
        for key, value in self.runtime.sample(period).items():
            if value is not None:
                sample[key] = value
        return sample

    def enqueue(self, pending):
        limit = self.settings.max_buffer_bytes
        with self.pending_lock:
            self.pending.append(pending)
            self.pending_bytes += len(pending.body)
            while self.pending_bytes > limit and len(self.pending) > 1:
                old = self.pending.popleft()
                self.pending_bytes -= len(old.body)
                self._count_payload_drop(old.payload)
                log_once("buffer-full", "send buffer full (%d bytes): dropping the oldest payloads", limit)

    def _count_payload_drop(self, payload):
        with self.dropped_lock:
            self.dropped["payloads"] += 1
            self.dropped["metrics"] += len(payload["metrics"])
            self.dropped["events"] += len(payload["events"])
            self.dropped["traces"] += len(payload["traces"])
            self.dropped["errors"] += len(payload["errors"])

    def send_pending(self, deadline=None):
        s = self.settings
        if not s.ingest_key:
            # Nothing can be delivered; keep memory bounded by dropping what was built.
            with self.pending_lock:
                while self.pending:
                    old = self.pending.popleft()
                    self._count_payload_drop(old.payload)
                self.pending_bytes = 0
            log_once("no-key", "PULSE_INGEST_KEY is not set: data is not sent", level=logging.WARNING)
            return
        with self.send_lock:
            sends = 0
            while self.pending and (deadline is not None or sends < MAX_SENDS_PER_CYCLE):
                now = time.monotonic()
                if deadline is None and now < self.next_send_at:
                    return
                timeout = s.timeout
                if deadline is not None:
                    timeout = min(timeout, deadline - now)
                    if timeout <= 0.05:
                        return
                item = self.pending[0]
                sends += 1
                result = self.connection.post(s.endpoint, s.ingest_key, item.body, timeout)
                with self.pending_lock:
                    if self.pending and self.pending[0] is item:
                        self.pending.popleft()
                        self.pending_bytes -= len(item.body)
                    else:  # dropped by a concurrent enqueue while posting
                        continue
                if result.outcome == transport.OK:
                    self.failures = 0
                    self._on_accepted(item.payload, result.body)
                elif result.outcome == transport.DROP:
                    self._count_payload_drop(item.payload)
                    log_once(
                        "drop-%s" % result.status,
                        "payload rejected by %s (%s): dropped",
                        transport.ingest_url(s.endpoint),
                        result.describe(),
                    )
                elif result.outcome == transport.SPLIT:
                    halves = split_payload(item.payload)
                    if halves is None:
                        self._count_payload_drop(item.payload)
                        log_once("too-large", "payload too large and cannot be split: dropped")
                    else:
                        parts = [Pending(half) for half in halves]
                        with self.pending_lock:
                            for p in reversed(parts):
                                self.pending.appendleft(p)
                                self.pending_bytes += len(p.body)
                else:
                    with self.pending_lock:
                        self.pending.appendleft(item)
                        self.pending_bytes += len(item.body)
                    if result.outcome == transport.WAIT:
                        wait = result.retry_after if result.retry_after is not None else 10.0
                        wait = min(max(wait, 0.0), MAX_RETRY_AFTER)
                    else:
                        self.failures += 1
                        base = min(MAX_BACKOFF, s.harvest_interval * (2 ** min(self.failures, 10)))
                        wait = base * random.uniform(0.5, 1.5)
                    self.next_send_at = time.monotonic() + wait
                    log_once(
                        "send-fail",
                        "could not send to %s (%s); retrying in %.1fs",
                        transport.ingest_url(s.endpoint),
                        result.describe(),
                        wait,
                    )
                    return

    def _on_accepted(self, payload, body):
        inst = payload.get("instance")
        if inst:
            with self.dropped_lock:
                for k, v in inst["dropped"].items():
                    self.dropped[k] = max(0, self.dropped[k] - v)
        if isinstance(body, dict):
            t = body.get("apdex_t")
            if isinstance(t, (int, float)) and 0.001 <= t <= 60:
                self.aggregator.set_apdex_t(float(t))
        self._set_live(isinstance(body, dict) and body.get("live") is True)

    # -- lifecycle -------------------------------------------------------------

    def shutdown(self, timeout=None):
        if timeout is None:
            timeout = self.settings.shutdown_timeout
        deadline = time.monotonic() + timeout
        self.stop_event.set()
        self.send_wake.set()
        self.wake_harvest()
        t = self.thread
        if t is not None and t.is_alive() and t is not threading.current_thread():
            t.join(max(0.0, min(timeout, deadline - time.monotonic())))
        if os.getpid() != self.pid:
            return
        try:
            payload = self.build_payload()
            state.reset()  # nothing folds what finishes from now on
            if payload is not None:
                self.enqueue(Pending(payload))
            if self.send_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                self.send_lock.release()
                self.send_pending(deadline)
            if self.send_lock.acquire(blocking=False):  # not while the sender still posts
                self.connection.close()
                self.send_lock.release()
        except Exception:
            internal_error("shutdown")

    def after_fork_in_child(self):
        self.aggregator.reset_after_fork()
        self.runtime.after_fork()
        self._reset_process_state()
        self.attach()
        self.start()


def split_payload(payload):
    """Two halves of a payload for a 413; None when it can't be made smaller."""
    lists = ("metrics", "events", "traces", "errors", "operations")
    total = sum(len(payload.get(k, ())) for k in lists)
    if total <= 1:
        return None
    a, b = dict(payload), dict(payload)
    for k in lists:
        items = payload.get(k, [])
        mid = (len(items) + 1) // 2
        a[k], b[k] = items[:mid], items[mid:]
    a["batch_id"] = uuid.uuid4().hex
    b["batch_id"] = uuid.uuid4().hex
    a["events_seen"] = max(len(a["events"]), payload["events_seen"] - len(b["events"]))
    b["events_seen"] = len(b["events"])
    b["instance"] = None
    return [a, b]


def _cpu_seconds():
    t = os.times()
    return t.user + t.system


def _rss_bytes():
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except Exception:
        try:
            import resource

            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return rss if sys.platform == "darwin" else rss * 1024
        except Exception:
            return 0


# -- module-level API ------------------------------------------------------------


def get_agent():
    return _agent


def init(**overrides):
    """Start the agent once per process; later calls return the running agent."""
    global _agent
    try:
        with _init_lock:
            if _agent is not None:
                return _agent
            settings = config.load(overrides)
            log.configure(settings.log_level)
            for problem in settings.problems:
                logger.warning("configuration: %s", problem)
            if not settings.enabled:
                logger.info("disabled by configuration (PULSE_ENABLED)")
                return None
            agent = Agent(settings)
            _agent = agent
            agent.attach()
            agent.start()
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_after_fork_in_child)
            atexit.register(_atexit)
            importhook.install(settings.disabled_set)
            logger.info(
                "started for app %r, reporting to %s every %ss",
                settings.app_name,
                settings.endpoint,
                settings.harvest_interval,
            )
            return agent
    except Exception:
        log_once("init", "could not start the agent (the app is unaffected)", exc_info=True)
        return None


def _after_fork_in_child():
    a = _agent
    if a is None:
        return
    try:
        a.after_fork_in_child()
    except Exception:
        log_once("fork", "could not restart the agent after fork", exc_info=True)


def _atexit():
    a = _agent
    if a is not None:
        try:
            a.shutdown()
        except Exception:
            pass


def shutdown(timeout=None):
    a = _agent
    if a is not None:
        a.shutdown(timeout)
