"""A plain WSGI app under the agent, driven in a loop; reports what the app saw and
the agent's own bookkeeping (buffer, drops, memory)."""

import argparse
import json
import time

import pulse_agent
from pulse_agent.agent import _rss_bytes, get_agent
from wsgi_client import call


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fine"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--requests", type=int, default=0)
    ap.add_argument("--names", type=int, default=5)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--until-dropped", action="store_true",
                    help="keep going (up to --requests) until the agent has dropped a payload, then 30,000 more")
    args = ap.parse_args()
    wrapped = pulse_agent.WSGIMiddleware(app)
    agent = get_agent()
    n = bad = 0
    max_pending = 0
    rss_mid = None
    t_end = time.monotonic() + args.seconds
    stop_at = None
    while (args.seconds and time.monotonic() < t_end) or (args.requests and n < args.requests):
        if args.until_dropped:
            if stop_at is None and agent.dropped["payloads"]:
                stop_at = n + 30000
                rss_mid = _rss_bytes()  # buffer full: memory from here on must stay flat
            if stop_at is not None and n >= stop_at:
                break
        status, body = call(wrapped, "/route%d" % (n % args.names))
        if status != 200 or body != b"fine":
            bad += 1
        n += 1
        if n % 100 == 0:
            max_pending = max(max_pending, agent.pending_bytes)
            if rss_mid is None and n >= (args.requests or 0) / 3 and n >= 2000:
                rss_mid = _rss_bytes()
        if args.sleep:
            time.sleep(args.sleep)
    print(json.dumps({
        "requests": n,
        "bad": bad,
        "max_pending": max_pending,
        "pending_end": agent.pending_bytes,
        "dropped": dict(agent.dropped),
        "rss_growth": (_rss_bytes() - rss_mid) if rss_mid else None,
        "limit": agent.settings.max_buffer_bytes,
    }))


if __name__ == "__main__":
    main()
