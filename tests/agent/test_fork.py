"""gunicorn --preload: the app (and the agent) load in the master, then fork.
Every worker must report on its own."""

import http.client
import json
import signal
import socket
import subprocess
import sys
import time

from conftest import APPS_DIR, agent_env

WORKERS = 3


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_pid(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/pid/", headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())["pid"]
    finally:
        conn.close()


def test_gunicorn_preload_reports_from_every_worker(sink, tmp_path):
    port = free_port()
    env = agent_env(sink.url, DJSHOP_DB=str(tmp_path / "db.sqlite3"), PULSE_APP_NAME="agent-gunicorn")
    server = subprocess.Popen(
        [sys.executable, "-m", "pulse_agent.cli", "run", "--", sys.executable, "-m", "gunicorn",
         "--preload", "-w", str(WORKERS), "-b", "127.0.0.1:%d" % port, "--log-level", "warning",
         "djshop.wsgi:application"],
        cwd=APPS_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        worker_pids = set()
        requests_by_pid = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (len(worker_pids) < WORKERS or sum(requests_by_pid.values()) < 60):
            try:
                status, pid = get_pid(port)
            except OSError:
                time.sleep(0.1)  # not listening yet
                continue
            assert status == 200
            worker_pids.add(pid)
            requests_by_pid[pid] = requests_by_pid.get(pid, 0) + 1
        assert len(worker_pids) == WORKERS

        def reported(s):
            per_pid = {}
            for p in s.payloads:
                if p["instance"]:
                    n = sum(m["count"] for m in p["metrics"] if m["name"] == "djshop.views.pid")
                    per_pid[p["instance"]["pid"]] = per_pid.get(p["instance"]["pid"], 0) + n
            return {pid: n for pid, n in per_pid.items() if n} == requests_by_pid

        assert sink.wait_for(reported, timeout=30), (requests_by_pid, [(p["instance"]["pid"], [(m["name"], m["count"]) for m in p["metrics"]]) for p in sink.payloads if p["instance"]])
        assert server.pid not in requests_by_pid  # the master serves nothing itself
        assert sink.problems == []
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
