"""Live mode: while ingest's 202 replies say ``"live": true`` the agent posts its sampled
events every half second in events-only payloads, and falls back to the harvest interval
when the replies stop saying it. A real app under the agent in a subprocess, the real sink.

Posts are counted over windows of a few seconds with wide margins: no timing is asserted."""

import json
import os
import subprocess
import sys
import time

from conftest import APPS_DIR, agent_env


def _start(sink, seconds, **env):
    """A WSGI app under the agent (2 s harvest) serving requests back to back for ``seconds``."""
    return subprocess.Popen(
        [sys.executable, "-m", "pulse_agent.cli", "run", "--", sys.executable,
         os.path.join(APPS_DIR, "loop_driver.py"), "--seconds", str(seconds), "--sleep", "0.002"],
        env=agent_env(sink.url, PULSE_HARVEST_INTERVAL="2.0", **env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _events_only(p):
    return not p["metrics"] and not p["traces"] and not p["errors"] and p["instance"] is None


def _window(sink, seconds):
    """(events-only payloads, all payloads) the sink accepted during the next ``seconds``."""
    with sink.lock:
        start = len(sink.payloads)
    time.sleep(seconds)
    with sink.lock:
        got = sink.payloads[start:]
    return sum(1 for p in got if _events_only(p)), len(got)


def test_it_posts_events_every_half_second_while_told_live_then_falls_back(sink):
    sink.live = True
    app = _start(sink, 16)
    try:
        # The first harvest's reply says live; from then on events leave on their own.
        assert sink.wait_for(lambda s: any(_events_only(p) for p in s.payloads), timeout=10)
        live_events_only, _ = _window(sink, 3.0)
        sink.live = False
        time.sleep(1.0)  # the next reply, without the flag, ends live mode
        quiet_events_only, quiet_all = _window(sink, 3.0)
        out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, err
    requests = json.loads(out.strip().splitlines()[-1])["requests"]

    assert live_events_only >= 4  # about 6 at two a second
    assert quiet_events_only == 0 and quiet_all <= 2  # one harvest every 2 s
    assert sink.problems == [] and sink.duplicates == 0
    # Splitting the events off the harvest counts each transaction once, in metrics and in
    # the events' reservoirs alike.
    assert sum(m["count"] for p in sink.payloads for m in p["metrics"]) == requests
    assert sum(p["events_seen"] for p in sink.payloads) == requests
    # A live period's reservoir is its share of the harvest's, so watching does not
    # multiply the events stored (the first takes what the harvest had gathered).
    live_payloads = [p for p in sink.payloads if _events_only(p)]
    assert max(len(p["events"]) for p in live_payloads[1:]) <= 75  # 300 per 2 s harvest -> 75 per 0.5 s


def test_it_stays_on_the_harvest_interval_when_live_mode_is_off(sink):
    sink.live = True
    app = _start(sink, 7, PULSE_LIVE="false")
    out, err = app.communicate(timeout=60)
    assert app.returncode == 0, err
    assert sink.payloads and not any(_events_only(p) for p in sink.payloads)


def test_it_falls_back_by_itself_when_no_reply_says_anything(sink):
    sink.live = True
    app = _start(sink, 20)
    try:
        assert sink.wait_for(lambda s: any(_events_only(p) for p in s.payloads), timeout=10)
        with sink.lock:
            sink.status, sink.retry_after = 503, "1"  # no 202, so nothing says live or not
        time.sleep(12)
        with sink.lock:
            sink.status, sink.live = 202, False
            start = len(sink.payloads)
        out, err = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
    assert app.returncode == 0, err
    # What was kept during the silence arrives now: live mode lasted 3 harvest intervals
    # (6 s, about 12 events-only payloads) past the last reply, not the whole 12 s (about 24).
    kept = sum(1 for p in sink.payloads[start:] if _events_only(p))
    assert 4 <= kept <= 18
