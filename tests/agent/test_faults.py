"""The ingest endpoint misbehaves; the app must not notice, and data must survive
within the buffer bound. A real local sink throughout, no mocks."""

import socket
import threading

from conftest import run_app
from sink import Sink


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def later(seconds, fn):
    t = threading.Timer(seconds, fn)
    t.start()
    return t


def test_sink_down_then_up_delivers_everything_once():
    port = free_port()
    box = {}
    timer = later(1.5, lambda: box.setdefault("sink", Sink(port=port)))
    try:
        result, _ = run_app("loop_driver.py", "http://127.0.0.1:%d" % port, "--seconds", "3", "--sleep", "0.001")
        timer.join()
        sink = box["sink"]
        assert result["bad"] == 0
        assert sink.wait_for(lambda s: s.count() == result["requests"], timeout=10)
        assert sink.duplicates == 0
        assert sink.problems == []
    finally:
        timer.cancel()
        if "sink" in box:
            box["sink"].close()


def test_server_errors_are_retried_and_nothing_is_counted_twice(sink):
    sink.status = 500
    later(1.5, lambda: setattr(sink, "status", 202))
    result, proc = run_app("loop_driver.py", sink.url, "--seconds", "3", "--sleep", "0.001")
    assert result["bad"] == 0
    assert sink.rejected >= 1
    assert sink.wait_for(lambda s: s.count() == result["requests"], timeout=10)
    assert proc.stderr.count("could not send") == 1  # one log line, not one per retry


def test_a_slow_sink_never_slows_or_blocks_the_app(sink):
    sink.delay = 10.0
    result, proc = run_app(
        "loop_driver.py", sink.url, "--seconds", "2", "--sleep", "0.001",
        PULSE_TIMEOUT="0.5", PULSE_SHUTDOWN_TIMEOUT="1",
    )
    # every response came back; the process exited although the sink never answered in time
    assert result["bad"] == 0 and result["requests"] > 100
    assert "timed out" in proc.stderr


def test_retry_after_is_honoured_on_429(sink):
    sink.status = 429
    sink.retry_after = "30"
    result, _ = run_app("loop_driver.py", sink.url, "--seconds", "2.5", "--sleep", "0.001",
                        PULSE_SHUTDOWN_TIMEOUT="1")
    assert result["bad"] == 0
    # harvests every 0.2 s would have posted a dozen times; it waited instead
    # (one post, then at most the final flush at exit)
    assert 1 <= len(sink.post_times) <= 2
    assert sink.payloads == []


def test_a_413_splits_the_payload_until_it_fits(sink):
    sink.max_body = 1500
    result, _ = run_app("loop_driver.py", sink.url, "--requests", "3000", "--names", "60")
    assert result["bad"] == 0
    assert sink.wait_for(lambda s: s.count() == 3000, timeout=10)
    assert len(sink.metrics_by_name()) == 60
    assert max(sink.body_sizes) <= 1500
    assert sink.rejected >= 1 and sink.duplicates == 0


def test_a_rejected_payload_is_dropped_logged_once_and_counted(sink):
    sink.status = 400
    later(1.2, lambda: setattr(sink, "status", 202))
    result, proc = run_app("loop_driver.py", sink.url, "--seconds", "2.5", "--sleep", "0.001")
    assert result["bad"] == 0
    assert sink.wait_for(lambda s: s.payloads, timeout=10)
    assert proc.stderr.count("payload rejected") == 1
    dropped = sum(p["instance"]["dropped"]["payloads"] for p in sink.payloads if p["instance"])
    assert dropped >= 1
    # what was dropped is reported, and what was accepted is exact: together all requests
    assert 0 < sink.count() < result["requests"]


def test_memory_stays_bounded_when_the_sink_is_down():
    port = free_port()  # nothing listens here
    result, _ = run_app(
        "loop_driver.py", "http://127.0.0.1:%d" % port, "--requests", "1000000", "--names", "1000",
        "--until-dropped",
        PULSE_MAX_BUFFER_BYTES=str(64 * 1024), PULSE_HARVEST_INTERVAL="0.1", PULSE_SHUTDOWN_TIMEOUT="0.5",
        timeout=120,
    )
    assert result["bad"] == 0
    assert result["max_pending"] <= result["limit"] + 64 * 1024  # the bound plus one payload
    assert result["dropped"]["payloads"] > 0  # when full, old payloads go and are counted
    assert result["rss_growth"] is not None and result["rss_growth"] < 20 * 1024 * 1024
