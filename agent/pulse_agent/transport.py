"""Posting payloads to the ingest endpoint with the standard library only.

Uses ``http.client`` directly (not urllib), so the agent's own traffic is never
instrumented, and classifies every outcome the way docs/protocol-v1.md asks.
``Connection`` keeps one connection open from post to post (the agent's sender uses
it under its send lock, one post at a time); ``post`` is a one-off post.
"""

import http.client
import json
import ssl
import urllib.parse

from pulse_agent import __version__

USER_AGENT = "pulse-agent-python/" + __version__

# Outcomes
OK = "ok"
DROP = "drop"  # 400/401/403/415: the server will never take it
SPLIT = "split"  # 413
WAIT = "wait"  # 429/503 with Retry-After
RETRY = "retry"  # anything else: network errors, timeouts, 5xx


class Result:
    __slots__ = ("outcome", "status", "retry_after", "body", "error")

    def __init__(self, outcome, status=None, retry_after=None, body=None, error=None):
        self.outcome = outcome
        self.status = status
        self.retry_after = retry_after
        self.body = body
        self.error = error

    def describe(self):
        if self.error:
            return self.error
        msg = "HTTP %s" % self.status
        if isinstance(self.body, dict):
            err = self.body.get("error")
            if isinstance(err, dict):
                msg += " %s" % (err.get("code") or "")
                if err.get("field"):
                    msg += " field=%s" % err.get("field")
                if err.get("message"):
                    msg += ": %s" % err.get("message")
        return msg


def ingest_url(endpoint):
    return endpoint.rstrip("/") + "/api/v1/ingest"


# Errors that show a kept-alive connection was already closed by the server (or a
# proxy) before it answered: the request was not processed, so it is sent once more
# on a new connection. Timeouts and errors after a response began are not retried here.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class Connection:
    """One kept-alive connection to the ingest endpoint, reopened when it fails.

    Not thread-safe: one caller at a time. A forked child must make its own (the
    parent's socket is shared with the child).
    """

    def __init__(self):
        self._conn = None
        self._target = None  # (scheme, host, port) of the open connection

    def post(self, endpoint, key, body, timeout, gzipped=True):
        """POST ``body`` (bytes); returns a Result. Never raises."""
        try:
            parts = urllib.parse.urlsplit(ingest_url(endpoint))
            reused = self._open(parts, timeout)
            request = ("POST", parts.path or "/", body, _headers(key, gzipped))
            try:
                raw, status, retry_after = _exchange(self._conn, request)
            except _STALE:
                self.close()
                if not reused:
                    raise
                self._open(parts, timeout)
                raw, status, retry_after = _exchange(self._conn, request)
        except Exception as exc:
            self.close()
            return Result(RETRY, error="%s: %s" % (type(exc).__name__, exc))
        return _classify(raw, status, retry_after)

    def close(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _open(self, parts, timeout):
        """Make sure a connection to ``parts`` is ready; True when its socket has
        carried an earlier post (http.client reconnects a closed one by itself)."""
        target = (parts.scheme, parts.hostname, parts.port)
        if self._conn is not None and self._target == target:
            self._conn.timeout = timeout
            sock = self._conn.sock
            if sock is None:
                return False
            sock.settimeout(timeout)
            return True
        self.close()
        if parts.scheme == "https":
            self._conn = http.client.HTTPSConnection(
                parts.hostname, parts.port or 443, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            self._conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        self._target = target
        return False


def post(endpoint, key, body, timeout, gzipped=True):
    """POST ``body`` once on a connection of its own; returns a Result. Never raises."""
    conn = Connection()
    try:
        return conn.post(endpoint, key, body, timeout, gzipped)
    finally:
        conn.close()


def _headers(key, gzipped):
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Authorization": "Bearer %s" % key,
    }
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return headers


def _exchange(conn, request):
    method, path, body, headers = request
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    raw = resp.read(65536)
    if not resp.isclosed():  # a body longer than we read: the connection can't be reused
        conn.close()
    return raw, resp.status, resp.getheader("Retry-After")


def _classify(raw, status, retry_after):
    try:
        parsed = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        parsed = None
    if status == 202 or 200 <= status < 300:
        return Result(OK, status, body=parsed)
    if status in (400, 401, 403, 415):
        return Result(DROP, status, body=parsed)
    if status == 413:
        return Result(SPLIT, status, body=parsed)
    if status in (429, 503):
        wait = None
        try:
            wait = float(retry_after) if retry_after is not None else None
        except ValueError:
            wait = None
        return Result(WAIT, status, retry_after=wait, body=parsed)
    return Result(RETRY, status, body=parsed)
