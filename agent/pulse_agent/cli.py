"""``pulse-agent run -- <command>``, ``pulse-agent check`` and ``pulse-agent deploy``."""

import argparse
import gzip
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
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


# Where common CI systems put the commit being built: the default of --commit.
COMMIT_VARIABLES = ("GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "CIRCLE_SHA1", "GIT_COMMIT")


def deploy(args, out=sys.stdout):
    """Record a deployment of the app (POST /api/v1/deployments); exit 0 when recorded."""
    s = config.load()
    problem = config.key_problem(s.ingest_key)
    if problem:
        print("pulse-agent: %s" % problem, file=sys.stderr)
        return 1
    commit = args.commit
    if commit is None:
        commit = next((os.environ[v] for v in COMMIT_VARIABLES if os.environ.get(v)), "")
    body = {
        "app": args.app or s.app_name,
        "version": args.version,
        "commit": commit,
        "description": args.description,
        "user": args.user if args.user is not None else os.environ.get("USER", ""),
    }
    request = urllib.request.Request(
        s.endpoint.rstrip("/") + "/api/v1/deployments",
        data=json.dumps(body).encode("utf-8"),
        headers={"Authorization": "Bearer " + s.ingest_key, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=min(s.timeout, 30.0)) as response:
            answer = json.loads(response.read(65536) or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read(65536))["error"]["message"]
        except Exception:
            message = exc.reason
        print("pulse-agent: the deployment was refused (HTTP %s): %s" % (exc.code, message), file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print("pulse-agent: cannot reach %s: %s" % (s.endpoint, exc), file=sys.stderr)
        return 1
    print("recorded deployment %s of %s (%s)" % (args.version, body["app"], answer.get("id", "?")), file=out)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="pulse-agent", description="Pulse APM agent for Python")
    parser.add_argument("--version", action="version", version="pulse-agent " + __version__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run a command with the agent: pulse-agent run -- gunicorn app.wsgi")
    sub.add_parser("check", help="validate the configuration and the connection to Pulse")
    sub.add_parser("config", help="print every setting with its environment variable")
    dep = sub.add_parser("deploy", help="record a deployment: markers on the app's charts")
    dep.add_argument("--version", required=True, dest="version", help="the version or tag deployed")
    dep.add_argument("--commit", help="the commit deployed (default: from the CI's environment)")
    dep.add_argument("--description", default="", help="what changed")
    dep.add_argument("--user", help="who deployed (default: $USER)")
    dep.add_argument("--app", help="the app (default: PULSE_APP_NAME)")
    if not argv:
        parser.print_help()
        return 2
    if argv[0] == "run":
        return run(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(argv[1:])
    if args.command == "deploy":
        return deploy(args)
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
