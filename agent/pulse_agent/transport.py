"""Posting payloads to the ingest endpoint with the standard library only.

Uses ``http.client`` directly (not urllib), so the agent's own traffic is never
instrumented, and classifies every outcome the way docs/protocol-v1.md asks.
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


def post(endpoint, key, body, timeout, gzipped=True):
    """POST ``body`` (bytes); returns a Result. Never raises."""
    url = ingest_url(endpoint)
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname, parts.port or 443, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": "Bearer %s" % key,
        }
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        try:
            conn.request("POST", parts.path or "/", body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read(65536)
            status = resp.status
            retry_after = resp.getheader("Retry-After")
        finally:
            conn.close()
    except Exception as exc:
        return Result(RETRY, error="%s: %s" % (type(exc).__name__, exc))
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
