"""Live delivery: from an ingest POST answered 202 to the websocket message reaching a viewer.

Starts the real platform (uvicorn with its websockets, a Celery worker with the ingest
consumer, Redis, Postgres) on free ports against DATABASE_URL / REDIS_URL, signs a bench
user in, opens 1 and then N websocket viewers of one app, posts payloads whose first event
carries a unique trace id, and times when each viewer sees that event. A last phase runs
the real agent in this process (2 s harvest) and times from the end of a transaction to its
dot reaching the N viewers (request to screen), twice: with the agent's live mode off (what
an agent does when no reply says the app is watched: events leave with each harvest) and
on (the replies say "live": events every 0.5 s), with the CPU time of the agent's harvest
and sender threads per second of each phase. Prints p50/p95/max per phase and the web
server's memory (RSS) before and with the viewers. Figures, not pass/fail.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pulse_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/live.py [--viewers 500] [--payloads 30] [--interval 0.5]

The database must exist and be migrated (``manage.py migrate``). Bounded: about a minute.
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")
# Production-like settings, shared by this process (it signs the bench user in) and the servers.
os.environ.update(
    DEBUG="false",
    SECRET_KEY="live-bench-secret-key-not-for-production-0123456789",
    ALLOWED_HOSTS="127.0.0.1",
    INGEST_KEY_CACHE_SECONDS="5",
    LIVE_SOCKETS_PER_USER="100000",  # every viewer here is the one bench user
    PYTHONUNBUFFERED="1",
)

import django  # noqa: E402

django.setup()

import websockets  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402

from tenants import actions  # noqa: E402
from tenants.models import App, Membership, Organization, User  # noqa: E402
from tenants.roles import Role  # noqa: E402
from tests.live.poster import payload, post  # noqa: E402

BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid):
    """RSS of a process and its children (uvicorn --workers forks them)."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pids += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return total


def setup_tenant():
    user = User.objects.filter(email="live-bench@pulse.example").first()
    if user is None:
        user = User.objects.create_user(email="live-bench@pulse.example", password=None)
    org, _ = Organization.objects.get_or_create(slug="live-bench", defaults={"name": "Live bench"})
    Membership.objects.for_org(org).get_or_create(organization=org, user=user, defaults={"role": Role.OWNER})
    app, _ = App.objects.for_org(org).get_or_create(organization=org, name="live-bench")
    key = actions.create_ingest_key(org, "live bench", user).raw
    client = Client()
    client.force_login(user)
    return org, app, key, client.cookies[settings.SESSION_COOKIE_NAME].value


def start_platform(port, web_workers):
    env = dict(os.environ)
    logs = open("/tmp/pulse-live-bench.log", "wb")
    web = subprocess.Popen(
        [str(BIN / "uvicorn"), "pulse.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(web_workers), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True,
    )
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "pulse", "worker", "--loglevel=WARNING", "--concurrency=2", "-n", f"live-bench-{port}@%h"],
        cwd=ROOT, env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True,
    )
    return web, worker


def stop(processes):
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


async def wait_http(port, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise SystemExit("the server did not start; see /tmp/pulse-live-bench.log")


class Viewer:
    """One websocket viewer recording when each marker trace id first reaches it."""

    def __init__(self, url, headers):
        self.url = url
        self.headers = headers
        self.seen = {}
        self.messages = 0
        self.ws = None
        self.task = None

    async def open(self):
        self.ws = await websockets.connect(
            self.url, origin=self.headers["Origin"], additional_headers={"Cookie": self.headers["Cookie"]},
            max_size=2**24, open_timeout=30,
        )
        hello = json.loads(await self.ws.recv())
        assert hello["type"] == "hello", hello
        self.task = asyncio.create_task(self.read())

    async def read(self):
        try:
            async for raw in self.ws:
                now = time.monotonic()
                msg = json.loads(raw)
                if msg.get("type") != "update":
                    continue
                self.messages += 1
                for event in msg["events"]:
                    # Markers: a trace id (payloads posted here) or a transaction name (the agent).
                    for marker in (event[4], event[3]):
                        if marker and marker not in self.seen:
                            self.seen[marker] = now
        except websockets.ConnectionClosed:
            pass

    async def close(self):
        await self.ws.close()
        await self.task


async def phase(name, viewers, base_url, key, app_name, payloads, interval, web_pid):
    accepted = {}
    loop = asyncio.get_running_loop()
    for i in range(payloads):
        marker = uuid.uuid4().hex
        body = payload(app_name, [0.02 + 0.001 * j for j in range(20)], errors=1, marker=marker)
        status = await loop.run_in_executor(None, post, base_url, key, body)
        if status == 202:
            accepted[marker] = time.monotonic()
        await asyncio.sleep(interval)
    await asyncio.sleep(3)  # stragglers
    report(name, viewers, accepted, web_pid)


def report(name, viewers, accepted, web_pid, what="202 -> message"):
    delays, missing = [], 0
    for marker, at in accepted.items():
        for v in viewers:
            if marker in v.seen:
                delays.append(v.seen[marker] - at)
            else:
                missing += 1
    delays.sort()

    def pct(q):
        return delays[min(len(delays) - 1, int(q * len(delays)))] * 1000 if delays else float("nan")

    print(
        f"{name:>12}: {len(viewers):4d} viewer(s), {len(accepted)} markers, {len(delays)} deliveries, "
        f"{missing} missing | {what} p50 {pct(0.50):6.0f} ms  p95 {pct(0.95):6.0f} ms  "
        f"max {delays[-1] * 1000 if delays else float('nan'):6.0f} ms | web RSS {rss_bytes(web_pid) / 2**20:6.1f} MiB",
        flush=True,
    )


def agent_cpu_seconds(agent):
    """CPU time of the agent's own threads (harvest and sender), from their per-thread clocks."""
    return sum(time.clock_gettime(time.pthread_getcpuclockid(t.ident)) for t in (agent.thread, agent.sender))


async def agent_phase(name, agent, viewers, requests, interval, web_pid):
    """Request to screen with the real agent in this process, harvesting every 2 s as in production."""
    import pulse_agent

    done = {}
    loop = asyncio.get_running_loop()

    def one_request(name):
        with pulse_agent.background_task(name):
            time.sleep(0.01)
        done[name] = time.monotonic()

    # Measure from the steady state: live mode starts with the first reply that says so.
    deadline = time.monotonic() + 10
    while agent.settings.live and not agent.is_live() and time.monotonic() < deadline:
        await loop.run_in_executor(None, one_request, "bench.warm-up")
        await asyncio.sleep(interval)
    done.clear()
    cpu, started = agent_cpu_seconds(agent), time.monotonic()
    for _ in range(requests):
        await loop.run_in_executor(None, one_request, f"bench.request.{uuid.uuid4().hex[:12]}")
        await asyncio.sleep(interval)
    await asyncio.sleep(5)  # the last harvest and its delivery
    cpu, wall = agent_cpu_seconds(agent) - cpu, time.monotonic() - started
    report(name, viewers, done, web_pid, what="request end -> screen")
    print(f"{'':>12}  agent harvest + sender threads: {cpu / wall * 1000:.2f} ms CPU per second "
          f"({cpu * 1000:.0f} ms in {wall:.1f} s)", flush=True)


async def main(args, tenant):
    org, app, key, session = tenant
    port = free_port()
    web, worker = start_platform(port, args.web_workers)
    try:
        await wait_http(port)
        await asyncio.sleep(3)  # the worker's stream consumer starts with the worker
        base = f"http://127.0.0.1:{port}"
        ws_url = f"ws://127.0.0.1:{port}/ws/o/{org.slug}/apps/{app.id}/live/"
        headers = {"Origin": base, "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
        # Warm up: the first payload creates the transaction rows, the key gets cached.
        post(base, key, payload(app.name, [0.01]))
        await asyncio.sleep(2)
        print(f"web RSS idle: {rss_bytes(web.pid) / 2**20:.1f} MiB ({args.web_workers} uvicorn worker(s))", flush=True)

        one = Viewer(ws_url, headers)
        await one.open()
        await phase("1 viewer", [one], base, key, app.name, args.payloads, args.interval, web.pid)
        await one.close()

        viewers = [Viewer(ws_url, headers) for _ in range(args.viewers)]
        started = time.monotonic()
        for i in range(0, len(viewers), 50):
            await asyncio.gather(*(v.open() for v in viewers[i : i + 50]))
        print(f"{args.viewers} viewers connected in {time.monotonic() - started:.1f} s; "
              f"web RSS {rss_bytes(web.pid) / 2**20:.1f} MiB", flush=True)
        await phase(f"{args.viewers} viewers", viewers, base, key, app.name, args.payloads, args.interval, web.pid)
        import pulse_agent

        agent = pulse_agent.init(ingest_key=key, endpoint=base, app_name=app.name, harvest_interval=2.0)
        agent.settings.live = False  # as if no reply said the app is watched
        await agent_phase("agent", agent, viewers, args.payloads, args.interval, web.pid)
        agent.settings.live = True  # the replies say "live": the viewers are connected
        await agent_phase("agent live", agent, viewers, args.payloads, args.interval, web.pid)
        pulse_agent.shutdown(2)
        await asyncio.gather(*(v.close() for v in viewers))
    finally:
        stop([web, worker])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--payloads", type=int, default=30, help="payloads per phase")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between payloads")
    parser.add_argument("--web-workers", type=int, default=1, help="uvicorn worker processes")
    arguments = parser.parse_args()
    asyncio.run(main(arguments, setup_tenant()))  # the ORM set-up runs before the event loop
