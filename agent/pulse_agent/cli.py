"""``pulse-agent run -- <command>`` and ``pulse-agent check``."""

import argparse
import gzip
import json
import os
import shutil
import sys
import time
import uuid

from pulse_agent import __version__, config, transport

BOOTSTRAP_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap")


def run(argv):
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: pulse-agent run -- <command> [args...]", file=sys.stderr)
        return 2
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # the bootstrap first; the agent's own location last, as a fallback only, so it
    # never shadows the app's modules
    parts = [BOOTSTRAP_DIR]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    parts.append(package_parent)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    program = shutil.which(argv[0], path=env.get("PATH")) or argv[0]
    try:
        os.execvpe(program, argv, env)
    except OSError as exc:
        print("pulse-agent: cannot run %s: %s" % (argv[0], exc), file=sys.stderr)
        return 127
    return 0  # not reached


def check(_argv, out=sys.stdout):
    """Validate configuration and connectivity; prints what is wrong. Exit 0 if all good."""
    s = config.load()
    ok = True

    def line(status, msg):
        print("[%s] %s" % (status, msg), file=out)

    line("info", "pulse-agent %s, Python %s" % (__version__, sys.version.split()[0]))
    for problem in s.problems:
        ok = False
        line("FAIL", "configuration: %s" % problem)
    if not s.enabled:
        line("warn", "the agent is disabled (PULSE_ENABLED=%s)" % os.environ.get("PULSE_ENABLED"))
    line("info", "app name: %r (%s)" % (s.app_name, s.sources.get("app_name", "default")))
    line("info", "endpoint: %s (%s)" % (s.endpoint, s.sources.get("endpoint", "default")))
    problem = config.key_problem(s.ingest_key)
    if problem:
        ok = False
        line("FAIL", problem + "; copy the key from the app's settings page in Pulse")
    else:
        line("ok", "ingest key present (%s...)" % s.ingest_key[:13])
    if problem and not s.ingest_key:
        return 1
    now = time.time()
    payload = {
        "v": 1, "batch_id": uuid.uuid4().hex, "app": s.app_name, "sent_at": now,
        "apdex_t": s.apdex_t, "metrics": [], "events": [], "events_seen": 0,
        "traces": [], "errors": [], "instance": None,
    }
    body = gzip.compress(json.dumps(payload).encode("utf-8"))
    result = transport.post(s.endpoint, s.ingest_key, body, min(s.timeout, 10.0))
    url = transport.ingest_url(s.endpoint)
    if result.outcome == transport.OK:
        line("ok", "%s accepted a test payload (HTTP %s)" % (url, result.status))
        t = (result.body or {}).get("apdex_t") if isinstance(result.body, dict) else None
        if t is not None:
            line("info", "server Apdex T for this app: %ss" % t)
    else:
        ok = False
        hints = {
            401: "the server does not know this ingest key (revoked, or for another server?)",
            403: "the organisation's app limit is reached: remove an app or raise the limit",
            400: "the server rejected the payload: agent and server protocol versions may differ",
            415: "the server did not accept gzip JSON: is PULSE_ENDPOINT really a Pulse server?",
            404: "no ingest API at this URL: check PULSE_ENDPOINT (base URL, without /api/...)",
            429: "the organisation is over its quota",
            503: "the server is overloaded; data will be retried",
        }
        hint = hints.get(result.status)
        if result.status is None:
            hint = "cannot reach the server: check PULSE_ENDPOINT, DNS, proxies and firewalls"
        line("FAIL", "POST %s: %s%s" % (url, result.describe(), " - " + hint if hint else ""))
    line("ok" if ok else "FAIL", "all checks passed" if ok else "some checks failed")
    return 0 if ok else 1


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="pulse-agent", description="Pulse APM agent for Python")
    parser.add_argument("--version", action="version", version="pulse-agent " + __version__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run a command with the agent: pulse-agent run -- gunicorn app.wsgi")
    sub.add_parser("check", help="validate the configuration and the connection to Pulse")
    sub.add_parser("config", help="print every setting with its environment variable")
    if not argv:
        parser.print_help()
        return 2
    if argv[0] == "run":
        return run(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(argv[1:])
    if args.command == "config":
        s = config.load()
        for name, (_t, _d, help_) in config.SETTINGS.items():
            value = getattr(s, name)
            if name == "ingest_key" and value:
                value = value[:13] + "..."
            print("%-32s %-24r %s" % (config.env_name(name), value, help_))
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
