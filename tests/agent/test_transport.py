"""The agent's kept-alive connection to the ingest endpoint, against the real sink:
reused from post to post, reopened when the server has closed it, and never posted
twice when the server may have processed the request."""

import gzip
import json
import uuid

from conftest import KEY, run_app
from pulse_agent import transport


def body():
    return gzip.compress(json.dumps({"v": 1, "batch_id": uuid.uuid4().hex}).encode())


def test_posts_share_one_connection(sink):
    conn = transport.Connection()
    try:
        outcomes = [conn.post(sink.url, KEY, body(), 5).outcome for _ in range(5)]
    finally:
        conn.close()
    assert outcomes == [transport.OK] * 5
    assert len(sink.payloads) == 5
    assert sink.connections() == 1


def test_a_connection_the_server_closed_is_reopened_and_the_post_goes_through(sink):
    sink.close_after = 1  # the sink drops the connection after every answer, unannounced
    conn = transport.Connection()
    try:
        results = [conn.post(sink.url, KEY, body(), 5) for _ in range(3)]
    finally:
        conn.close()
    assert [r.outcome for r in results] == [transport.OK] * 3, [r.describe() for r in results]
    assert sink.posts == 3 and len(sink.payloads) == 3  # each once: the stale connection carried none
    assert sink.connections() == 3


def test_a_fresh_connection_that_fails_is_not_retried_at_once(sink):
    url = sink.url
    sink.close()
    result = transport.Connection().post(url, KEY, body(), 2)
    assert result.outcome == transport.RETRY and "ConnectionRefusedError" in result.error


def test_the_agent_keeps_one_connection_across_harvests_and_survives_closes(sink):
    sink.close_after = 3
    result, proc = run_app("loop_driver.py", sink.url, "--seconds", "2", "--sleep", "0.001")
    assert result["bad"] == 0
    assert sink.wait_for(lambda s: s.count() == result["requests"], timeout=10)
    assert sink.rejected == 0 and sink.duplicates == 0 and sink.problems == []
    assert "could not send" not in proc.stderr
    assert sink.posts >= 6
    # one connection per three posts (the sink closes it), not one per post
    assert sink.connections() == (sink.posts + 2) // 3
