"""Runtime metrics under the agent: ``asgi`` serves requests through the ASGI middleware,
then blocks its event loop, starts threads and collects garbage; ``django`` keeps
connections open on Django's default alias in several threads. Waits for a few harvests."""

import asyncio
import gc
import json
import os
import sys
import threading
import time

import pulse_agent

THREADS = 3


class Cycle:
    def __init__(self):
        self.me = self


async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def serve():
    wrapped = pulse_agent.ASGIMiddleware(app)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    for _ in range(2):
        await wrapped(scope, receive, send)
    await asyncio.sleep(0.5)
    time.sleep(0.6)  # a blocking call on the loop: the lag probe runs late
    await asyncio.sleep(0.1)
    await wrapped(scope, receive, send)  # an idle harvest sends nothing: give this one a request
    await asyncio.sleep(0.5)


def asgi():
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for _ in range(3):
        for _ in range(5000):
            Cycle()
        gc.collect()
    asyncio.run(serve())
    stop.set()
    return {"requests": 3, "pid": os.getpid(), "threads_started": THREADS}


def django_connections():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djshop.settings")
    import django

    django.setup()
    from django.db import connection

    ready, stop = threading.Barrier(THREADS + 1), threading.Event()

    def hold():
        with connection.cursor() as cur:  # this thread's own connection
            cur.execute("SELECT 1")
        ready.wait()
        stop.wait()
        connection.close()

    threads = [threading.Thread(target=hold) for _ in range(THREADS)]
    for t in threads:
        t.start()
    ready.wait()
    for _ in range(10):  # a few harvests with the connections open (an idle one sends nothing)
        with pulse_agent.background_task("hold"):
            time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    return {"open_threads": THREADS}


print(json.dumps(asgi() if sys.argv[1] == "asgi" else django_connections()))
